"""Latent-space pictures: spherical interpolation between latents, class grids, encoded endpoints."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import UserError
from .grid import to_uint8


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for GAN latents) between rows of z0 and z1
    at fractions t (K,): returns (N, K, D). Nearly parallel endpoints fall back to a straight line."""
    a, b = z0.flatten(1), z1.flatten(1)
    cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1, 1))[:, None, None]  # (N, 1, 1)
    t = t.to(a)[None, :, None]  # (1, K, 1)
    sin = torch.sin(omega)
    linear = sin.abs() < 1e-6
    safe = torch.where(linear, torch.ones_like(sin), sin)
    w0 = torch.where(linear, 1 - t, torch.sin((1 - t) * omega) / safe)
    w1 = torch.where(linear, t, torch.sin(t * omega) / safe)
    return w0 * a[:, None] + w1 * b[:, None]


@torch.no_grad()
def _decode(model, z: torch.Tensor, labels: torch.Tensor | None, truncation: float = 1.0) -> np.ndarray:
    styles = {"truncation": truncation} if truncation != 1.0 else {}  # StyleGAN2: w pulled towards w_avg
    return to_uint8(model.recipe.generate(z.to(model.device), None if labels is None else labels.to(model.device), **styles))


@torch.no_grad()
def interpolation_grid(model, rows: int, steps: int, seed: int = 0, label: int | None = None,
                       truncation: float = 1.0) -> np.ndarray:
    """uint8 (rows, steps, H, W, C). Unconditional: each row slerps between two random latents.
    Conditional: one row per class (only `label`'s row when given), every row the same latents, so
    a column holds z fixed."""
    model.require_latents()
    model.check_label(label, "label")
    gen = torch.Generator(model.device).manual_seed(seed)
    t = torch.linspace(0, 1, steps)
    if model.conditional and model.num_classes > 0:
        z0, z1 = model.recipe.sample_z(1, gen), model.recipe.sample_z(1, gen)
        path = slerp(z0, z1, t)[0]  # (steps, D)
        classes = torch.arange(model.num_classes) if label is None else torch.tensor([label])
        z = path.repeat(len(classes), 1)
        labels = classes.repeat_interleave(steps)
        return _decode(model, z, labels, truncation).reshape(len(classes), steps, *model_image_shape(model))
    z0, z1 = model.recipe.sample_z(rows, gen), model.recipe.sample_z(rows, gen)
    z = slerp(z0, z1, t).reshape(rows * steps, -1)
    return _decode(model, z, None, truncation).reshape(rows, steps, *model_image_shape(model))


@torch.no_grad()
def encoded_interpolation(model, a: torch.Tensor, b: torch.Tensor, steps: int) -> np.ndarray:
    """Encode images a, b ((1, C, H, W) in [-1, 1]) with the model's encoder, slerp between the codes,
    decode: uint8 (1, steps + 2, H, W, C) with the two inputs as first and last columns."""
    encode = getattr(model.recipe, "encode", None)
    if encode is None:
        raise UserError(f"interpolating between images needs a model with an encoder (e.g. vaegan-mnist); "
                        f"recipe '{model.config.recipe}' has none")
    if model.conditional:
        raise UserError("interpolating between images is not supported for conditional models")
    codes = encode(torch.cat([a, b]).to(model.device))
    path = slerp(codes[:1], codes[1:], torch.linspace(0, 1, steps))[0]
    decoded = _decode(model, path.reshape(steps, *codes.shape[1:]), None)
    ends = to_uint8(torch.cat([a, b]))
    return np.concatenate([ends[:1], decoded, ends[1:]])[None]


def model_image_shape(model) -> tuple[int, int, int]:
    c, h, w = model.sample_shape
    return h, w, c
