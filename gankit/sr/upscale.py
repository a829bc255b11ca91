"""A trained SRGAN on a user's image: read it at its own size, upscale it whole, tile by tile."""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..errors import UserError
from ..tiles import upscale_tiled


def read_rgb_or_gray(source: str | BinaryIO, name: str | None = None) -> np.ndarray:
    """uint8 (H, W, 3) or (H, W, 1) at the file's own size; transparency composited onto black.
    `source` is a path or an open binary file; `name` says which in an error (default: the path)."""
    name = name or str(source)
    try:
        with Image.open(source) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "P"):
                img = Image.alpha_composite(Image.new("RGBA", img.size, (0, 0, 0, 255)), img.convert("RGBA"))
            gray = img.mode in ("L", "I", "I;16", "F", "1", "LA")
            array = np.asarray(img.convert("L" if gray else "RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UserError(f"{name}: cannot read image ({exc})") from None
    return array[:, :, None] if array.ndim == 2 else array


def upscale_image(model, image: np.ndarray, tile: int = 128, overlap: int | None = None) -> np.ndarray:
    """uint8 (H, W, C) -> uint8 (sH, sW, C), C as given: a 3-channel net sees gray as RGB (and its
    output is brought back to gray); a 1-channel net upscales each colour channel on its own."""
    recipe = model.recipe
    if not hasattr(recipe, "upscale"):
        raise UserError(f"this is a '{model.config.recipe}' run, not an SRGAN: it cannot upscale")
    overlap = recipe.G.context if overlap is None else overlap
    net_channels = model.sample_shape[0]
    x = torch.tensor(image).permute(2, 0, 1).float().div(127.5).sub(1)[None].to(model.device)
    if net_channels == 3 and x.shape[1] == 1:
        inputs = [x.expand(-1, 3, -1, -1)]
    elif net_channels == 1 and x.shape[1] == 3:
        inputs = [x[:, i : i + 1] for i in range(3)]
    else:
        inputs = [x]
    outs = [upscale_tiled(recipe.upscale, t, recipe.scale, tile, overlap) for t in inputs]
    y = torch.cat(outs, 1)
    if net_channels == 3 and image.shape[2] == 1:
        y = y.mean(1, keepdim=True)
    return ((y[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
