from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from .transform import fit_images

# x / 255 for every byte, as the CPU rounds it. CUDA divides by a scalar through its reciprocal
# (one bit off for some bytes), so on a GPU the bytes are looked up here instead: the same floats
# on every device.
_UNIT = torch.arange(256, dtype=torch.float32).div_(255.0)
_unit_on: dict[torch.device, torch.Tensor] = {}


def bytes_to_unit(raw: torch.Tensor) -> torch.Tensor:
    """uint8 -> float32 in [0, 1], bit-identical to the old whole-set conversion on every device."""
    if raw.device.type == "cpu":
        return raw.float().div_(255.0)
    if raw.device not in _unit_on:
        _unit_on[raw.device] = _UNIT.to(raw.device)
    return _unit_on[raw.device][raw.long()]


@dataclass
class Dataset:
    """Training data. `pixels` holds the images as they are kept: uint8 (N, C, h, w), values 0..255,
    stored channels-last (the (N, h, w, C) bytes seen through a permuted view: a batch gathered from
    it is already in the layout the nets train in), memory-mapped when the set was prepared from a folder, each batch turned into floats in [-1, 1]
    at (channels, resolution, resolution) only when it is drawn (`take`); or float32 images already
    at that shape in [-1, 1], for sources whose values are not whole 0..255 numbers (scikit-learn's
    digits, scikit-image's faces); or points (N, D).
    `captions`: for captioned data (text-to-image), one list of texts per row of `pixels`, else None.
    `held_out` (with `held_out_labels`): examples of the same source never trained on (data.held_out),
    as floats at `sample_shape` (converted from `pixels`' storage by the arithmetic of `take`), on
    which D's scores show whether it has learnt the training set rather than the distribution.

    With `xflip` the set is twice as long: example N + i is example i mirrored left to right."""

    pixels: torch.Tensor
    labels: torch.Tensor | None
    num_classes: int
    name: str
    resolution: int = 0  # images: the size they are trained at
    channels: int = 0
    xflip: bool = False
    read_as: str = ""  # what was read, for the one line a run prints ("5,000 images, 64x64 RGB")
    read_size: tuple[int, int] = (0, 0)  # images: the (width, height) they were read at (a folder's most common)
    held_out: torch.Tensor | None = None
    held_out_labels: torch.Tensor | None = None
    captions: list[list[str]] | None = None

    @property
    def is_images(self) -> bool:
        return self.pixels.dim() == 4

    def __len__(self) -> int:
        return len(self.pixels) * (2 if self.xflip else 1)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one example as the nets see it."""
        if self.is_images:
            return (self.channels, self.resolution, self.resolution)
        return tuple(self.pixels.shape[1:])

    def rows(self, idx: torch.Tensor) -> torch.Tensor:
        """Example indices (0 .. len-1) -> rows of `pixels`."""
        return idx % len(self.pixels) if self.xflip else idx

    def take(self, idx: torch.Tensor) -> torch.Tensor:
        """The examples `idx` (on the device `pixels` lives on) as floats, ready for the nets."""
        return self.convert(self.pixels[self.rows(idx)], idx)

    def convert(self, raw: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Rows of `pixels` already gathered (on any device) -> floats; `idx` says which are mirrored.
        uint8 goes through the very arithmetic a whole-set conversion did (x / 255, then x * 2 - 1,
        in float32), so a batch equals the same rows of the old float copy bit for bit."""
        x = raw
        if raw.dtype == torch.uint8:
            unit = bytes_to_unit(raw)
            if unit.shape[1:] == self.sample_shape:  # what fit_images does then, kept in the rows' own layout
                x = unit.mul_(2.0).sub_(1.0)
            else:
                x = fit_images(unit.contiguous(), self.resolution, self.channels)
        if self.xflip:
            flipped = (idx.to(x.device) >= len(self.pixels)).view(-1, *[1] * (x.dim() - 1))
            x = torch.where(flipped, x.flip(-1), x)
        return x

    def label(self, idx: torch.Tensor) -> torch.Tensor | None:
        return None if self.labels is None else self.labels[self.rows(idx).to(self.labels.device)]

    def floats(self) -> torch.Tensor:
        """Every example as floats: for small sets and references (the training loop takes batches)."""
        return self.take(torch.arange(len(self), device=self.pixels.device))

    def to(self, device: torch.device) -> "Dataset":
        labels = None if self.labels is None else self.labels.to(device)
        return dataclasses.replace(self, pixels=self.pixels.to(device), labels=labels)
