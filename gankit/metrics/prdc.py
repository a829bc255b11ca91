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

from .neighbours import count_within, kth_distances, pairwise_min_k

PR_K, DC_K = 3, 5


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = PR_K, r_real: torch.Tensor | None = None) -> dict:
    real, fake = real.float(), fake.float()
    r_real = pairwise_min_k(real, real, k, exclude_self=True) if r_real is None else r_real
    r_fake = pairwise_min_k(fake, fake, k, exclude_self=True)
    precision = (count_within(fake, real, r_real) > 0).double().mean().item()
    recall = (count_within(real, fake, r_fake) > 0).double().mean().item()
    return {"precision": precision, "recall": recall, "pr_k": k}


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = DC_K, r_real: torch.Tensor | None = None) -> dict:
    real, fake = real.float(), fake.float()
    r_real = pairwise_min_k(real, real, k, exclude_self=True) if r_real is None else r_real
    # Naeem et al.'s reference counts a sample strictly inside a ball (<): one on its edge, as a copy of
    # the real point k away is, would read density (k+1)/k for copies of the reals instead of 1.
    density = (count_within(fake, real, r_real, strict=True).double().sum() / (k * len(fake))).item()
    nearest_fake = pairwise_min_k(real, fake, 1)
    coverage = (nearest_fake < r_real).double().mean().item()
    return {"density": density, "coverage": coverage, "dc_k": k}


def _real_radii(ctx) -> dict[int, torch.Tensor]:
    """The reference's k-NN radii for both metrics, from one pass, kept on the context."""
    if "real_radii" not in ctx.cache:
        ctx.cache["real_radii"] = kth_distances(ctx.real_features.float(), (PR_K, DC_K))
    return ctx.cache["real_radii"]


def compute_pr(ctx) -> dict:
    return precision_recall(ctx.real_features, ctx.fake_features, r_real=_real_radii(ctx)[PR_K])


def compute_dc(ctx) -> dict:
    return density_coverage(ctx.real_features, ctx.fake_features, r_real=_real_radii(ctx)[DC_K])
