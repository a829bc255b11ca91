"""Which training examples keep their labels for semi-supervised learning (data.labelled): balanced
over the classes and drawn by data.label_seed, so a split is the same on every run and every machine.
The held-out test set (data.held_out) is chosen in data/load.py, for every recipe alike."""

from __future__ import annotations

import numpy as np

from ..errors import UserError

UNLABELLED = -1  # the label an example carries once its label is dropped (data.labelled)


def _per_class(labels: np.ndarray, n: int, seed: int, key: str, what: str) -> np.ndarray:
    """Indices of n examples, n / K from each of the K classes, each class's drawn by a permutation
    from `seed`; sorted. A UserError naming `key` when n does not split evenly or a class is short."""
    classes = np.unique(labels)
    k = len(classes)
    if n % k:
        raise UserError(f"config key '{key}': {n} {what} cannot be balanced over {k} classes (give a multiple of {k})")
    rng = np.random.default_rng(seed)
    picked = []
    for c in classes:
        members = np.flatnonzero(labels == c)
        if len(members) < n // k:
            raise UserError(f"config key '{key}': {n} {what} need {n // k} of class {c}, which has only {len(members)}")
        picked.append(members[rng.permutation(len(members))[: n // k]])
    return np.sort(np.concatenate(picked))


def drop_labels(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A copy of `labels` in which only n examples, n / K per class drawn with `seed` (data.label_seed),
    keep their label; every other example's label becomes UNLABELLED."""
    keep = _per_class(labels, n, seed, "data.labelled", "labelled examples")
    out = np.full_like(labels, UNLABELLED)
    out[keep] = labels[keep]
    return out
