"""Data sources. Everything becomes one in-memory `Dataset`: images scaled to [-1, 1] as float32
(N, C, H, W), labels as int64 (N,) where known."""

from .dataset import Dataset
from .load import BUNDLED, BUNDLED_POINTS, load_dataset

__all__ = ["Dataset", "BUNDLED", "BUNDLED_POINTS", "load_dataset"]
