"""Frechet distance between Gaussians fitted to two feature sets (Heusel et al. 2017; "FID" on
Inception features).

    d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))

The trace of the square root is computed without a general `sqrtm`: with A = S1^(1/2) (symmetric,
from an eigendecomposition), S1 S2 is similar to A S2 A, which is symmetric positive semi-definite,
so tr((S1 S2)^(1/2)) = sum of sqrt(eigenvalues of A S2 A). Everything runs in float64 and tiny
negative eigenvalues from rounding are clipped to 0, so no complex parts and no NaNs appear.
"""

from __future__ import annotations

import numpy as np
import torch


def gaussian_stats(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of (N, D) features, float64."""
    f = features.double().cpu().numpy()
    if len(f) < 2:
        raise ValueError("the Frechet distance needs at least 2 samples per set")
    return f.mean(0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """tr((S1 S2)^(1/2)) for symmetric positive semi-definite S1, S2."""
    a = _psd_sqrt(s1)
    m = a @ s2 @ a
    w = np.linalg.eigvalsh((m + m.T) / 2)
    return float(np.sqrt(np.clip(w, 0, None)).sum())


def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    value = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt_product(s1, s2)
    return float(max(value, 0.0))


def compute(ctx) -> dict:
    mu1, s1 = gaussian_stats(ctx.real_features)
    mu2, s2 = gaussian_stats(ctx.fake_features)
    return {"fd": frechet_distance(mu1, s1, mu2, s2)}
