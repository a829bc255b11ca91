"""Kernel Inception Distance (Binkowski et al. 2018): the unbiased estimate of MMD^2 with the
polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets; mean and std."""

from __future__ import annotations

import torch


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD^2 between samples x (m, d) and y (n, d): the diagonal k(x_i, x_i) is left out."""
    d = x.shape[1]

    def kernel(a, b):  # float32 products (the costly part), sums in float64
        k = a @ b.T / d + 1
        return k * k * k

    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    m, n = len(x), len(y)
    f64 = torch.float64
    return float((kxx.sum(dtype=f64) - kxx.diagonal().sum(dtype=f64)) / (m * (m - 1))
                 + (kyy.sum(dtype=f64) - kyy.diagonal().sum(dtype=f64)) / (n * (n - 1))
                 - 2 * kxy.sum(dtype=f64) / (m * n))


def kid(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> dict:
    real, fake = real.float(), fake.float()
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError("KID needs at least 2 samples per set")
    gen = torch.Generator().manual_seed(seed)
    values = torch.tensor([
        mmd2_unbiased(real[torch.randperm(len(real), generator=gen)[:size]],
                      fake[torch.randperm(len(fake), generator=gen)[:size]])
        for _ in range(subsets)], dtype=torch.float64)
    return {"kid_mean": values.mean().item(), "kid_std": values.std().item() if subsets > 1 else 0.0,
            "kid_subsets": subsets, "kid_subset_size": size}


def compute(ctx) -> dict:
    return kid(ctx.real_features, ctx.fake_features, seed=ctx.seed)
