"""D's real-vs-held-out gap, measured at each log step when `data.held_out` keeps images out of training.

A D that has learnt its training set rather than the distribution scores training images as real
and images it never saw lower. ADA (Karras et al. 2020b, section 2) measures it as

    r_v = (E[D(x_train)] - E[D(x_held_out)]) / (E[D(x_train)] - E[D(G(z))])

on D's logits: 0 when D scores unseen reals like training reals, 1 when it scores them like fakes.
The probe logs `rv` and `rt_heldout` = E[sign(D(x_held_out))] beside the training batches' `rt`.

Measuring must not change training: D and G run as in their training step (train mode, batch
statistics) but on copies of their buffers, with the random streams put back afterwards, and D sees
the images without augmentation (the question is how it scores the images themselves).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.func import functional_call

from ..data import Dataset
from ..errors import UserError

PROBE_SIZE = 256  # images of each kind per measurement: the sign mean's standard error is at most 1/16


def _untouched(module: nn.Module, *args: torch.Tensor) -> torch.Tensor:
    """module(*args) in its current mode on copies of its buffers (batch norm's running statistics
    are not updated), the global random streams left as they were (dropout draws from them)."""
    state = {**dict(module.named_parameters()), **{k: v.clone() for k, v in module.named_buffers()}}
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        return functional_call(module, state, args)


class HeldOutProbe:
    """Fixed images and latents, chosen once: `size` held-out reals, as many training reals and fakes."""

    def __init__(self, recipe, data: Dataset, feed, seed: int):
        """`feed`: the training run's Feeder (train/feed.py), which gives training reals as a batch."""
        if data.held_out is None:
            raise ValueError("HeldOutProbe needs data with held-out examples (data.held_out)")
        if not getattr(recipe, "draws_from_noise", False):
            raise UserError("config key 'data.held_out': the held-out gap is measured for GANs whose G draws from noise, "
                            f"not for recipe '{recipe.cfg.recipe}'")
        device = feed.device
        self.recipe = recipe
        size = min(PROBE_SIZE, len(data.held_out), len(data))
        size -= size % recipe.opt.pack  # D judges packed groups (PacGAN)
        pick = torch.randperm(len(data.held_out), generator=torch.Generator().manual_seed(seed))[:size]
        held = data.held_out[pick].to(device)
        self.held = held.contiguous(memory_format=feed.layout) if held.dim() == 4 else held
        self.held_labels = None if data.held_out_labels is None else data.held_out_labels[pick].to(device)
        pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed + 1))[:size]
        self.train, self.train_labels = feed.real(pick)
        gen = torch.Generator(device).manual_seed(seed + 2)  # its own stream: training's streams never move
        self.z, self.fake_labels = recipe.sample_z(size, gen), recipe.sample_labels(size, gen)

    def _d(self, D: nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return _untouched(D, *((x, labels) if self.recipe.conditional else (x,))).float()

    def measure(self, G: nn.Module, D: nn.Module) -> dict[str, float]:
        """{'rt_heldout', 'rv'} for the unwrapped nets G and D as they are now (rv is left out when D
        scores training reals no higher than fakes: the ratio then means nothing)."""
        z_args = (self.z, self.fake_labels) if self.recipe.conditional else (self.z,)
        fake = _untouched(G, *z_args)
        train = self._d(D, self.train, self.train_labels).mean().item()
        held_logits = self._d(D, self.held, self.held_labels)
        fake_mean = self._d(D, fake, self.fake_labels).mean().item()
        out = {"rt_heldout": held_logits.sign().mean().item()}
        if train - fake_mean > 1e-6:
            out["rv"] = (train - held_logits.mean().item()) / (train - fake_mean)
        return out
