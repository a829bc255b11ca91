"""Toy distributions: the 1-D Gaussian of Goodfellow et al. 2014 (figure 1) and the 2-D mixtures of
the PacGAN protocol (Lin et al. 2018): `ring` (8 modes) and `grid` (25 modes)."""

from __future__ import annotations

import math

import numpy as np

# Training sets are fixed, as in the PacGAN protocol: 100,000 points drawn once with this seed.
TOY_SIZE = 100_000
TOY_SEED = 1234


def _ring_means() -> np.ndarray:
    k = np.arange(8)
    return np.stack([np.cos(2 * math.pi * k / 8), np.sin(2 * math.pi * k / 8)], 1)


def _grid_means() -> np.ndarray:
    i, j = np.meshgrid(np.arange(5), np.arange(5), indexing="ij")
    return np.stack([-4.0 + 2 * i.ravel(), -4.0 + 2 * j.ravel()], 1)


# name -> (mode means (K, D), per-coordinate std); every mode has equal weight.
MIXTURES: dict[str, tuple[np.ndarray, float]] = {
    "gauss1d": (np.array([[4.0]]), 0.5),
    "ring": (_ring_means(), 0.01),
    "grid": (_grid_means(), 0.05),
}


def sample_mixture(name: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points of mixture `name` and the index of the mode each came from."""
    means, std = MIXTURES[name]
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, len(means), size=n)
    points = means[modes] + std * rng.standard_normal((n, means.shape[1]))
    return points.astype(np.float32), modes.astype(np.int64)


def toy_points(name: str) -> np.ndarray:
    return sample_mixture(name, TOY_SIZE, TOY_SEED)[0]
