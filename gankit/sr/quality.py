"""PSNR and SSIM of an image against its reference, through scikit-image; colourfulness and
sharpness of an image alone (the image-to-image measures).

Images are uint8 (H, W, C) or (H, W) arrays, compared on all channels with data_range 255; `shave`
drops that many pixels at each border first (the SR convention: border pixels lack context).
SSIM uses scikit-image's defaults (7x7 uniform window) averaged over channels.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def _prepare(test: np.ndarray, ref: np.ndarray, shave: int) -> tuple[np.ndarray, np.ndarray]:
    if test.shape != ref.shape:
        raise ValueError(f"images differ in shape: {test.shape} vs {ref.shape}")
    if shave:
        test, ref = test[shave:-shave, shave:-shave], ref[shave:-shave, shave:-shave]
    return test, ref


def psnr(test: np.ndarray, ref: np.ndarray, shave: int = 0) -> float:
    test, ref = _prepare(test, ref, shave)
    return float(peak_signal_noise_ratio(ref, test, data_range=255))


def ssim(test: np.ndarray, ref: np.ndarray, shave: int = 0) -> float:
    test, ref = _prepare(test, ref, shave)
    channel_axis = 2 if test.ndim == 3 else None
    return float(structural_similarity(ref.astype(np.float64), test.astype(np.float64), data_range=255,
                                       channel_axis=channel_axis))


def colourfulness(image: np.ndarray) -> float:
    """Hasler and Suesstrunk (2003): with rg = R - G and yb = (R + G) / 2 - B over the pixels,
    sqrt(var rg + var yb) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2); 0 for a grey image. uint8 (H, W, 3)."""
    rgb = image.astype(np.float64)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = (rgb[..., 0] + rgb[..., 1]) / 2 - rgb[..., 2]
    return float(np.sqrt(rg.var() + yb.var()) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))


def gradient_energy(image: np.ndarray) -> float:
    """Sharpness: the mean squared difference between neighbouring pixels of the luma (BT.601),
    across and down, (d/dx)^2 + (d/dy)^2 averaged over the pixels that have both; a blurred image
    has less. uint8 (H, W, 3) or (H, W, 1)."""
    x = image.astype(np.float64)
    y = x[..., 0] if x.shape[-1] == 1 else x @ np.array([0.299, 0.587, 0.114])
    dx, dy = np.diff(y, axis=1)[:-1], np.diff(y, axis=0)[:, :-1]
    return float((dx**2 + dy**2).mean())
