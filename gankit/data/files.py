"""Readers for the user's own data: image folders, .npz, MNIST IDX files, CIFAR batches.

Each returns (images, labels, class names): images as a numpy array of any layout that
`transform.to_nchw` accepts, labels as int64 or None. A bad file is a UserError naming it.
"""

from __future__ import annotations

import gzip
import os
import io
import pickle
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import UserError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


RESIZE_FILTER = "PIL bicubic, reducing_gap=None"  # how fit_image resizes; recorded in a prepared set's manifest


def open_image(path: Path | BinaryIO, name: str | None = None) -> Image.Image:
    """One image file (a path or an open binary file; `name` says which in an error), decoded, at its
    own size, in its own mode but for transparency, which is composited onto black."""
    try:
        with Image.open(path) as img:
            img.load()  # decode now, so a truncated file fails here and is named
            if img.mode == "P" and "transparency" in img.info:
                img = img.convert("RGBA")
            if img.mode in ("RGBA", "LA"):  # composite transparency onto black
                background = Image.new("RGBA", img.size, (0, 0, 0, 255))
                img = Image.alpha_composite(background, img.convert("RGBA"))
            return img.copy()  # loaded: usable once the file is closed
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UserError(f"{name or path}: cannot read image ({exc})") from None


def fit_image(img: Image.Image, resolution: int, channels: int, crop: str = "stretch") -> np.ndarray:
    """A decoded image -> uint8 (resolution, resolution, channels); PIL converts modes L, P, I;16...;
    `crop` makes a non-square image square first (center | pad | stretch)."""
    img = img.convert("L" if channels == 1 else "RGB")
    img = _square(img, crop)
    if img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), Image.Resampling.BICUBIC, reducing_gap=None)
    array = np.asarray(img, dtype=np.uint8)
    return array if array.ndim == 3 else array[:, :, None]


def read_image(path: Path | BinaryIO, resolution: int, channels: int, crop: str = "stretch",
               name: str | None = None) -> np.ndarray:
    """One image file (a path or an open binary file; `name` says which in an error) -> uint8
    (H, W, C) at the target size."""
    return decode_image(path, resolution, channels, crop, name)[0]


def decode_image(path: Path | BinaryIO, resolution: int, channels: int, crop: str = "stretch",
                 name: str | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """One image file -> (uint8 (H, W, C) at the target size, its own (width, height))."""
    img = open_image(path, name)
    try:
        return fit_image(img, resolution, channels, crop), img.size
    except (OSError, ValueError) as exc:
        raise UserError(f"{name or path}: cannot read image ({exc})") from None


def image_files(root: Path) -> list[Path]:
    """Every image file under `root`, in all sub-folders, sorted."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _square(img: Image.Image, crop: str) -> Image.Image:
    w, h = img.size
    if w == h or crop == "stretch":
        return img
    if crop == "center":
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        return img.crop((left, top, left + side, top + side))
    side = max(w, h)  # pad: black borders, the image in the middle
    canvas = Image.new(img.mode, (side, side), 0)
    canvas.paste(img, ((side - w) // 2, (side - h) // 2))
    return canvas


GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


def image_header(path: Path) -> tuple[str, tuple[int, int]] | None:
    """(PIL mode, (width, height)) from the file's header alone, or None when it is not an image."""
    try:
        with Image.open(path) as img:
            return img.mode, img.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None


def scan_images(root: Path) -> list[list]:
    """[path relative to root (posix), size in bytes, mtime in ns] of every image file under `root`,
    in path order (folder by folder, as sorted Paths are). One scandir pass: a second run checks a
    folder of 100,000 files against its prepared set with this."""
    found, folders, top = [], [str(root)], len(str(root)) + 1
    while folders:
        with os.scandir(folders.pop()) as entries:
            for e in entries:
                if e.is_dir(follow_symlinks=False):  # as rglob: symlinked folders are not entered
                    folders.append(e.path)
                elif os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES and e.is_file():
                    st = e.stat()
                    found.append([e.path[top:].replace(os.sep, "/"), st.st_size, st.st_mtime_ns])
    if not found:
        raise UserError(f"{root}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))} in all sub-folders)")
    found.sort(key=lambda f: f[0].split("/"))
    return found


def list_images(root: Path) -> list[Path]:
    return [root / rel for rel, _, _ in scan_images(root)]


def folder_classes(root: Path, files: list[Path]) -> tuple[list[str], np.ndarray | None]:
    """A first-level sub-folder is a class when every image sits in one; images directly in the
    root carry no label. -> (class names, int64 labels or None)."""
    parts = [p.relative_to(root).parts for p in files]
    if all(len(part) > 1 for part in parts):
        names = sorted({part[0] for part in parts})
        index = {n: i for i, n in enumerate(names)}
        return names, np.array([index[part[0]] for part in parts], dtype=np.int64)
    return [], None


def read_npz(path: Path):
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "images" not in archive.files:
                keys = ", ".join(archive.files) or "none"
                raise UserError(f"{path}: no 'images' array in the npz (keys: {keys})")
            images = archive["images"]
            labels = archive["labels"] if "labels" in archive.files else None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise UserError(f"{path}: not a readable .npz file ({exc})") from None
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != images.shape[0] or not np.issubdtype(labels.dtype, np.integer):
            raise UserError(f"{path}: 'labels' must be integers shaped ({images.shape[0]},), got {labels.dtype} {labels.shape}")
        if labels.size and labels.min() < 0:
            raise UserError(f"{path}: 'labels' must not be negative (found {labels.min()})")
        labels = labels.astype(np.int64)
    return images, labels, []


# IDX type codes (LeCun's format description) -> big-endian numpy dtypes.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx_array(path: Path) -> np.ndarray:
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise UserError(f"{path}: cannot read IDX file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise UserError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim, dtype = raw[3], np.dtype(_IDX_TYPES[raw[2]])
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise UserError(f"{path}: IDX header is truncated ({len(raw)} bytes, needs {header})")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise UserError(f"{path}: IDX length is wrong: header says shape {shape} ({expected} bytes), file has {len(raw)}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: Path):
    images = read_idx_array(path)
    if images.ndim not in (3, 4):
        raise UserError(f"{path}: IDX images must have 3 or 4 dimensions, got shape {images.shape}")
    labels = None
    name = path.name
    for a, b in (("images-idx3", "labels-idx1"), ("images.idx3", "labels.idx1")):
        if a in name:
            partner = path.with_name(name.replace(a, b))
            if partner.exists():
                labels = read_idx_array(partner).astype(np.int64)
                if labels.shape != (images.shape[0],):
                    raise UserError(f"{partner}: {labels.shape[0]} labels for {images.shape[0]} images in {path.name}")
    return images, labels, []


class _CifarUnpickler(pickle.Unpickler):
    """CIFAR's python batches are pickles: allow the numpy array reconstruction and nothing else."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_cifar_batch(path: Path):
    raw = path.read_bytes()
    if path.suffix == ".bin":  # binary version: 1 label byte + 3072 pixel bytes per record
        if len(raw) == 0 or len(raw) % 3073:
            raise UserError(f"{path}: CIFAR binary batch length {len(raw)} is not a multiple of 3073")
        records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3073)
        return records[:, 1:].reshape(-1, 3, 32, 32), records[:, 0].astype(np.int64)
    try:
        batch = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise UserError(f"{path}: not a CIFAR python batch ({exc})") from None
    if not isinstance(batch, dict):
        raise UserError(f"{path}: not a CIFAR python batch (expected a dict)")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    label_key = next((k for k in ("labels", "fine_labels") if k in batch), None)
    if "data" not in batch or label_key is None:
        raise UserError(f"{path}: CIFAR batch lacks 'data' or 'labels' (keys: {', '.join(map(str, batch))})")
    data = np.asarray(batch["data"], dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072:
        raise UserError(f"{path}: CIFAR 'data' must be (N, 3072), got {data.shape}")
    return data.reshape(-1, 3, 32, 32), np.asarray(batch[label_key], dtype=np.int64)


def is_cifar(path: Path) -> bool:
    if path.is_dir():
        return any(path.glob("data_batch_*"))
    return path.name.startswith(("data_batch", "test_batch")) or path.name in ("train", "test")


def read_cifar(path: Path):
    files = sorted(p for p in path.glob("data_batch_*") if p.is_file()) if path.is_dir() else [path]
    parts = [_read_cifar_batch(p) for p in files]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), []
