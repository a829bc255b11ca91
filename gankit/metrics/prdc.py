"""Improved precision and recall (Kynkaanniemi et al. 2019) and density and coverage (Naeem et al.
2020), all from k-nearest-neighbour balls in feature space.

- precision: share of fake samples inside the real manifold (some real point's k-NN ball, k=3).
- recall:    share of real samples inside the fake manifold (some fake point's k-NN ball).
- density:   mean count of real balls (k=5) holding each fake sample, / k; ~1 when fake ~ real.
- coverage:  share of real samples whose ball (k=5) holds at least one fake sample.
A collapsed generator keeps precision and loses recall; noise loses precision.
"""

from __future__ import annotations

import torch

from .neighbours import count_within, pairwise_min_k


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> dict:
    real, fake = real.float(), fake.float()
    r_real = pairwise_min_k(real, real, k, exclude_self=True)
    r_fake = pairwise_min_k(fake, fake, k, exclude_self=True)
    precision = (count_within(fake, real, r_real) > 0).double().mean().item()
    recall = (count_within(real, fake, r_fake) > 0).double().mean().item()
    return {"precision": precision, "recall": recall, "pr_k": k}


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> dict:
    real, fake = real.float(), fake.float()
    r_real = pairwise_min_k(real, real, k, exclude_self=True)
    density = (count_within(fake, real, r_real).double().sum() / (k * len(fake))).item()
    nearest_fake = pairwise_min_k(real, fake, 1)
    coverage = (nearest_fake <= r_real).double().mean().item()
    return {"density": density, "coverage": coverage, "dc_k": k}


def compute_pr(ctx) -> dict:
    return precision_recall(ctx.real_features, ctx.fake_features)


def compute_dc(ctx) -> dict:
    return density_coverage(ctx.real_features, ctx.fake_features)
