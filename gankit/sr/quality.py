"""PSNR and SSIM of an image against its reference, through scikit-image.

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
