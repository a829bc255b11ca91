"""Chunked nearest-neighbour distances, shared by precision/recall, density/coverage and the
memorisation check: no N x N matrix is held at once."""

from __future__ import annotations

import torch

# cdist's matrix-product form (|a|^2 + |b|^2 - 2ab) loses distances far below the points' norms: on the
# ring's 2-D points (norm 1) it returned 0 for neighbours 6e-5 apart, so memorisation's threshold read 0.
# Raw points have few dimensions, where the exact form costs little more; for wide features it costs
# several times as much and their distances are large next to the rounding, so they keep the product.
EXACT_MAX_DIM = 16


def distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between the rows of a and of b."""
    exact = a.shape[1] <= EXACT_MAX_DIM
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist" if exact else "use_mm_for_euclid_dist")


def pairwise_min_k(a: torch.Tensor, b: torch.Tensor, k: int, exclude_self: bool = False,
                   chunk: int = 2048) -> torch.Tensor:
    """Distance from each row of a to its k-th nearest row of b (k=1: the nearest).
    With exclude_self (a is b), each point's zero distance to itself is skipped."""
    out = []
    kk = k + 1 if exclude_self else k
    for start in range(0, len(a), chunk):
        d = distances(a[start:start + chunk], b)
        out.append(d.topk(kk, dim=1, largest=False).values[:, kk - 1])
    return torch.cat(out)


def kth_distances(a: torch.Tensor, ks: tuple[int, ...], chunk: int = 2048) -> dict[int, torch.Tensor]:
    """Each point's distance to its k-th nearest other point of a, for several k in one pass."""
    top = max(ks) + 1  # +1: the point itself, at distance 0
    rows = [distances(a[s:s + chunk], a).topk(top, dim=1, largest=False).values for s in range(0, len(a), chunk)]
    d = torch.cat(rows)
    return {k: d[:, k] for k in ks}


def count_within(a: torch.Tensor, b: torch.Tensor, radii: torch.Tensor, chunk: int = 2048,
                 strict: bool = False) -> torch.Tensor:
    """For each row of a: how many rows j of b have |a - b_j| <= radii[j] (< with `strict`)."""
    out = []
    for start in range(0, len(a), chunk):
        d = distances(a[start:start + chunk], b)
        out.append((d < radii[None, :] if strict else d <= radii[None, :]).sum(1))
    return torch.cat(out)
