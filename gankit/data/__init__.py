"""Data sources. Everything becomes one `Dataset`: images kept as uint8 where their values are bytes
(memory-mapped when prepared from a folder) and turned into floats in [-1, 1] batch by batch,
labels as int64 (N,) where known."""

from .dataset import Dataset
from .load import BUNDLED, BUNDLED_POINTS, data_channels, describe, load_dataset
from .prepare import prepare_folder

__all__ = ["Dataset", "BUNDLED", "BUNDLED_POINTS", "data_channels", "describe", "load_dataset", "prepare_folder"]
