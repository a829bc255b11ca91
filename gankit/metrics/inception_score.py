"""Inception-score analogue on the domain classifier (Salimans et al. 2016):
IS = exp(E_x KL(p(y|x) || p(y))), over `splits` disjoint splits; mean and std."""

from __future__ import annotations

import torch


def inception_score(probs: torch.Tensor, splits: int = 10) -> dict:
    probs = probs.double().clamp_min(1e-12)
    n = len(probs)
    splits = max(1, min(splits, n))
    scores = []
    for i in range(splits):  # the original's split bounds: i*N//splits to (i+1)*N//splits, always `splits` parts
        part = probs[i * n // splits:(i + 1) * n // splits]
        py = part.mean(0, keepdim=True)
        scores.append(torch.exp((part * (part.log() - py.log())).sum(1).mean()))
    s = torch.stack(scores)
    return {"is_mean": s.mean().item(), "is_std": s.std().item() if len(s) > 1 else 0.0, "is_splits": len(s)}


def compute(ctx) -> dict:
    return inception_score(ctx.fake_probs)
