"""Memorisation check: how many samples sit closer to a training example than training examples
sit to each other. The threshold is the 1st percentile of the training set's nearest-neighbour
distances (in pixel space for images, data units for points), so about 1% of fresh real data
would be flagged; a generator that copies its training set approaches 100%."""

from __future__ import annotations

import torch

from .neighbours import pairwise_min_k


def memorisation(train: torch.Tensor, fake: torch.Tensor, quantile: float = 0.01,
                 max_train: int = 10_000) -> dict:
    train = train.flatten(1).float()[:max_train]
    fake = fake.flatten(1).float()
    train_nn = pairwise_min_k(train, train, 1, exclude_self=True)
    threshold = torch.quantile(train_nn, quantile)
    fake_nn = pairwise_min_k(fake, train, 1)
    return {"memorised": (fake_nn <= threshold).double().mean().item(),
            "memorisation_threshold": threshold.item(), "memorisation_train": len(train)}


def compute(ctx) -> dict:
    return memorisation(ctx.train, ctx.fake)
