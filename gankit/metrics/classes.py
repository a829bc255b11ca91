"""Class histogram of the samples, labelled by the domain classifier: KL(p_fake || p_real) over
classes and the number of classes covered (a class counts as covered when it receives at least a
tenth of its expected share, so a handful of stray samples does not count)."""

from __future__ import annotations

import torch

EPS = 1e-10


def histogram(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    return torch.bincount(labels.long(), minlength=num_classes).double()


def class_kl(fake_labels: torch.Tensor, real_labels: torch.Tensor, num_classes: int) -> dict:
    p = histogram(fake_labels, num_classes)
    q = histogram(real_labels, num_classes)
    p, q = p / p.sum(), q / q.sum()
    kl = (p * ((p + EPS) / (q + EPS)).log()).sum().item()
    covered = int((p >= 0.1 * q).logical_and(q > 0).sum())
    return {"class_kl": kl, "classes_covered": covered, "num_classes": num_classes}


def compute(ctx) -> dict:
    return class_kl(ctx.fake_probs.argmax(1), ctx.real_probs.argmax(1), ctx.fake_probs.shape[1])
