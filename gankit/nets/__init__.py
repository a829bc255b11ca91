"""Generators and discriminators. `build_nets` sizes them from the config and the data shape."""

from __future__ import annotations

import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm

from ..config import Config
from ..errors import UserError
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .init import dcgan_init
from .mlp import MLPDiscriminator, MLPGenerator
from .remedies import ConditionalGenerator, Critic


def build_nets(cfg: Config, sample_shape: tuple[int, ...], num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """G and D for samples of `sample_shape` ((C, H, W) for images, (D,) for points). With
    model.conditional, G takes (z, labels) and D (x, labels); D is always a `Critic` so that the
    remedies (packing, minibatch std, minibatch discrimination) are options of every net."""
    m, r = cfg.model, cfg.remedies
    is_images = len(sample_shape) == 3
    k = num_classes if m.conditional else 0
    embed_dim = min(k, 50)
    # D's base sees the label as extra channels (concat form) and m packed samples at once.
    d_channels = (sample_shape[0] + (k if m.cond_mode == "concat" else 0)) * r.pack
    d_shape = (d_channels, *sample_shape[1:])
    batch_norm = not (cfg.penalty.gp_weight > 0 or m.spectral_norm)  # BN breaks per-sample gradients
    if m.arch == "mlp":
        g = MLPGenerator(m.z_dim + embed_dim, sample_shape, m.g_width, m.g_layers, tanh=is_images,
                         batch_norm=m.g_batch_norm)
        d = MLPDiscriminator(d_shape, m.d_width, m.d_layers, m.maxout_pieces, m.dropout)
    else:
        if not is_images:
            raise UserError(f"config key 'model.arch': dcgan needs image data, and data '{cfg.data.source}' holds points "
                            f"(model.arch=mlp takes points)")
        channels, resolution = sample_shape[0], sample_shape[1]
        g = DCGANGenerator(m.z_dim + embed_dim, resolution, channels, m.g_width, m.g_refine)
        d = DCGANDiscriminator(resolution, d_channels, m.d_width, batch_norm=batch_norm)
    if k:
        g = ConditionalGenerator(g, k, embed_dim)
    d = Critic(d, sample_shape, r.pack, r.mbstd, r.minibatch_disc, k, m.cond_mode)
    g.apply(dcgan_init)
    d.apply(dcgan_init)
    if m.spectral_norm:
        for module in list(d.modules()):
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                spectral_norm(module)
    return g, d


__all__ = ["build_nets", "MLPGenerator", "MLPDiscriminator", "DCGANGenerator", "DCGANDiscriminator", "Critic"]
