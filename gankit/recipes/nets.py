"""The net builder: which generator and discriminator a config asks for, sized from the data.
Architectures are a registry; each names the `model.*` keys only it reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm

from ..config import Config, ModelConfig
from ..errors import UserError
from ..nets import ConditionalGenerator, Critic, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from ..nets import dcgan_init
from .options import GANOptions

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Architecture:
    """How to build one family of base nets: `build(model, sample_shape, g_in, d_shape, batch_norm)`
    -> (G, D), where g_in is G's input size (z plus a label embedding), d_shape D's input shape (with
    label channels and packed samples) and batch_norm whether D may use batch norm."""

    build: Callable[[ModelConfig, Shape, int, Shape, bool], tuple[nn.Module, nn.Module]]
    config_keys: tuple[str, ...]  # the model.* keys only this architecture reads
    needs_images: bool


def _mlp(m: ModelConfig, sample_shape: Shape, g_in: int, d_shape: Shape, batch_norm: bool):
    g = MLPGenerator(g_in, sample_shape, m.g_width, m.g_layers, tanh=len(sample_shape) == 3, batch_norm=m.g_batch_norm)
    return g, MLPDiscriminator(d_shape, m.d_width, m.d_layers, m.maxout_pieces, m.dropout)


def _dcgan(m: ModelConfig, sample_shape: Shape, g_in: int, d_shape: Shape, batch_norm: bool):
    channels, resolution = sample_shape[0], sample_shape[1]
    g = DCGANGenerator(g_in, resolution, channels, m.g_width, m.g_refine)
    return g, DCGANDiscriminator(resolution, d_shape[0], m.d_width, batch_norm=batch_norm)


ARCHITECTURES: dict[str, Architecture] = {
    "mlp": Architecture(_mlp, ("model.g_layers", "model.d_layers", "model.maxout_pieces", "model.dropout",
                               "model.g_batch_norm"), needs_images=False),
    "dcgan": Architecture(_dcgan, ("model.g_refine",), needs_images=True),
}


def build_nets(cfg: Config, sample_shape: Shape, num_classes: int = 0,
               options: GANOptions | None = None) -> tuple[nn.Module, nn.Module]:
    """G and D for samples of `sample_shape` ((C, H, W) for images, (D,) for points), from the
    config's model section and the GAN's `options` (default: the config's). When conditional, G
    takes (z, labels) and D (x, labels); D is always a `Critic` so that the remedies (packing,
    minibatch std, minibatch discrimination) are options of every net."""
    m, r = cfg.model, options or GANOptions.from_config(cfg)
    arch = ARCHITECTURES[m.arch]
    if arch.needs_images and len(sample_shape) != 3:
        raise UserError(f"config key 'model.arch': {m.arch} needs image data, and data '{cfg.data.source}' holds points "
                        f"(model.arch=mlp takes points)")
    k = num_classes if r.conditional else 0
    embed_dim = min(k, 50)
    # D's base sees the label as extra channels (concat form) and m packed samples at once.
    d_channels = (sample_shape[0] + (k if m.cond_mode == "concat" else 0)) * r.pack
    d_shape = (d_channels, *sample_shape[1:])
    batch_norm = not (r.gp_weight > 0 or m.spectral_norm)  # BN breaks per-sample gradients
    g, d = arch.build(m, sample_shape, m.z_dim + embed_dim, d_shape, batch_norm)
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
