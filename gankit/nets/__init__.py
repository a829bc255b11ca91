"""Generators and discriminators. `build_nets` sizes them from the config and the data shape."""

from __future__ import annotations

import torch.nn as nn

from ..config import Config
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .init import dcgan_init
from .mlp import MLPDiscriminator, MLPGenerator


def build_nets(cfg: Config, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """G and D for samples of `sample_shape` ((C, H, W) for images, (D,) for points)."""
    m = cfg.model
    is_images = len(sample_shape) == 3
    if m.arch == "mlp":
        g = MLPGenerator(m.z_dim, sample_shape, m.g_width, m.g_layers, tanh=is_images)
        d = MLPDiscriminator(sample_shape, m.d_width, m.d_layers, m.maxout_pieces, m.dropout)
    else:
        if not is_images:
            raise ValueError("the DCGAN architecture needs image data")
        channels, resolution = sample_shape[0], sample_shape[1]
        g = DCGANGenerator(m.z_dim, resolution, channels, m.g_width)
        d = DCGANDiscriminator(resolution, channels, m.d_width)
    g.apply(dcgan_init)
    d.apply(dcgan_init)
    return g, d


__all__ = ["build_nets", "MLPGenerator", "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator"]
