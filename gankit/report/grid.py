"""Sample grids: images tiled into one PNG; 2-D points as a scatter plot; 1-D points as a histogram."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> uint8 (N, H, W, C), the contract's sample format."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def image_grid(images: np.ndarray, columns: int | None = None, pad: int = 2) -> Image.Image:
    """uint8 (N, H, W, C) -> one image with the samples in rows of `columns`."""
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    canvas = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, dtype=np.uint8)
    for i, img in enumerate(images):
        r, k = divmod(i, columns)
        canvas[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + k * (w + pad) : pad + k * (w + pad) + w] = img
    return Image.fromarray(canvas[:, :, 0] if c == 1 else canvas)


def save_points_plot(points: np.ndarray, path: Path, reference: np.ndarray | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if points.shape[1] == 1:
        ax.hist(points[:, 0], bins=60, density=True, alpha=0.7, label="samples")
        if reference is not None:
            ax.hist(reference[:, 0], bins=60, density=True, histtype="step", label="data")
            ax.legend()
    else:
        if reference is not None:
            ax.scatter(reference[:, 0], reference[:, 1], s=2, c="0.7", label="data")
        ax.scatter(points[:, 0], points[:, 1], s=2, c="C3", label="samples")
        ax.set_aspect("equal")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def save_samples(samples: torch.Tensor, path: Path, columns: int | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if samples.dim() == 4:
        image_grid(to_uint8(samples), columns).save(path)
        return path
    return save_points_plot(samples.detach().float().cpu().numpy(), path)
