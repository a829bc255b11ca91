"""What a metric sees: the samples, the reference data, and features computed once and shared."""

from __future__ import annotations

from functools import cached_property

import torch


class EvalContext:
    """fake, real: (N, C, H, W) images in [-1, 1] or (N, D) points. `train` (default: real) is what
    the memorisation check compares with. `extractor(x) -> (features, probabilities or None)`;
    None means the samples are their own features (points). `cache`: values that depend on the
    reference alone (its features, its k-NN radii), kept by a caller that evaluates again against
    the same reference (evaluation during training)."""

    def __init__(self, fake: torch.Tensor, real: torch.Tensor, extractor=None, train: torch.Tensor | None = None,
                 seed: int = 0, dataset: str = "", cache: dict | None = None):
        self.fake, self.real = fake.float().cpu(), real.float().cpu()
        self.train = self.real if train is None else train.float().cpu()
        self.extractor, self.seed, self.dataset = extractor, seed, dataset
        self.cache: dict = {} if cache is None else cache  # reference-only values several metrics share

    @property
    def extractor_name(self) -> str:
        return getattr(self.extractor, "name", "identity (raw points)") if self.extractor else "identity (raw points)"

    @property
    def is_stacked(self) -> bool:
        """3-channel 28x28 images with the MNIST classifier: each channel is a digit."""
        return (self.fake.dim() == 4 and self.fake.shape[1] == 3
                and getattr(self.extractor, "name", "") == "mnist-classifier")

    def _extract(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.extractor is None:
            return x.flatten(1), None
        if self.is_stacked:  # the features of the three digits side by side; no single class
            feats = [self.extractor(x[:, c:c + 1])[0] for c in range(3)]
            return torch.cat(feats, 1), None
        return self.extractor(x)

    @cached_property
    def _real(self):
        if "real_features" not in self.cache:
            self.cache["real_features"] = self._extract(self.real)
        return self.cache["real_features"]

    @cached_property
    def _fake(self):
        return self._extract(self.fake)

    real_features = property(lambda self: self._real[0])
    fake_features = property(lambda self: self._fake[0])
    real_probs = property(lambda self: self._real[1])
    fake_probs = property(lambda self: self._fake[1])

    @property
    def has_probs(self) -> bool:
        return self.extractor is not None and not self.is_stacked and self.fake_probs is not None

    def channel_labels(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3) digit of each channel of stacked images."""
        return torch.stack([self.extractor(x[:, c:c + 1])[1].argmax(1) for c in range(3)], 1)
