"""Differentiable augmentation for D (Zhao et al. 2020, "DiffAugment"): the same kind of random
transformation is applied to every image D sees, real or fake, in D's step and in G's, so D cannot
memorise a small training set and the transformation never leaks into G's samples. Random draws
come from torch's global generators, which checkpoints hold, so a resumed run stays exact."""

from __future__ import annotations

import torch
import torch.nn.functional as F

Tensor = torch.Tensor

KINDS = ("translation", "cutout")


def parse(spec: str) -> tuple[str, ...]:
    """'translation,cutout' -> ('translation', 'cutout'); '' -> ()."""
    return tuple(k.strip() for k in spec.split(",") if k.strip())


def translate(x: Tensor, ratio: float = 0.125, fill: float = -1.0) -> Tensor:
    """Shift each image by whole pixels, up to `ratio` of its size each way; the uncovered border
    takes `fill` (the background, -1, of images in [-1, 1])."""
    n, _, h, w = x.shape
    sh, sw = round(h * ratio), round(w * ratio)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) + sh - dy  # indices into the padded image
    cols = torch.arange(w, device=x.device).view(1, 1, w) + sw - dx
    padded = F.pad(x, (sw, sw, sh, sh), value=fill)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2)  # (n, h, w, c) -> (n, c, h, w)


def cutout(x: Tensor, ratio: float = 0.5, fill: float = -1.0) -> Tensor:
    """Fill one square of `ratio` times the image's size, at a random place, with `fill`."""
    n, _, h, w = x.shape
    ch, cw = round(h * ratio), round(w * ratio)
    top = torch.randint(0, h - ch + 1, (n, 1, 1), device=x.device)
    left = torch.randint(0, w - cw + 1, (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return torch.where(hole.unsqueeze(1), torch.full_like(x, fill), x)


def augment(x: Tensor, kinds: tuple[str, ...]) -> Tensor:
    for kind in kinds:
        x = translate(x) if kind == "translation" else cutout(x)
    return x
