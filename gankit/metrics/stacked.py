"""Stacked MNIST (1,000 modes): the domain classifier labels each of the 3 channels, the mode is
the digit triple (100 a + 10 b + c). Reports modes with at least one sample and KL(p_fake || uniform)
as in VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018)."""

from __future__ import annotations


import torch


def stacked_modes(channel_labels: torch.Tensor) -> dict:
    """channel_labels: (N, 3) digits of each channel."""
    modes = channel_labels[:, 0] * 100 + channel_labels[:, 1] * 10 + channel_labels[:, 2]
    counts = torch.bincount(modes.long(), minlength=1000).double()
    p = counts / counts.sum()
    nz = p > 0
    kl = (p[nz] * (p[nz] * 1000).log()).sum().item()
    return {"modes": int(nz.sum()), "kl_uniform": kl, "max_modes": 1000}


def compute(ctx) -> dict:
    if ctx.fake.dim() != 4 or ctx.fake.shape[1] != 3:
        raise ValueError("stacked-MNIST modes need 3-channel 28x28 images")
    return stacked_modes(ctx.channel_labels(ctx.fake))
