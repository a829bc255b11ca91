from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Dataset:
    """Training data held in memory. `x` is (N, C, H, W) in [-1, 1] for images, (N, D) for points;
    `captions` one text per example for captioned data (text-to-image), else None.
    `held_out` (with `held_out_labels`): examples of the same source never trained on (data.held_out),
    on which D's scores show whether it has learnt the training set rather than the distribution."""

    x: torch.Tensor
    labels: torch.Tensor | None
    num_classes: int
    name: str
    held_out: torch.Tensor | None = None
    held_out_labels: torch.Tensor | None = None
    captions: list[str] | None = None

    @property
    def is_images(self) -> bool:
        return self.x.dim() == 4

    def __len__(self) -> int:
        return self.x.shape[0]
