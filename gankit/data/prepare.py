"""Prepared datasets: a folder of image files decoded once, in parallel, into one uint8 array in
gankit's cache ($GANKIT_DATA_CACHE, else $GANKIT_CACHE/datasets, else ~/.cache/gankit/datasets),
read back memory-mapped.

One prepared set per (folder, resolution, channels, crop, skip_bad) sits in its own folder:

    images.npy      uint8 (N, R, R, C) (channels last, as PIL gives them), opened with mmap_mode, so a run reads only the pages it touches
    labels.npy      int64 (N,), when every image sits in a first-level sub-folder (its class)
    manifest.json   what it was made from and how: every source file's path, size and mtime, the
                    resolution, channels, resize filter, crop, counts, skipped files, sha256 of images.npy

It is trusted only while the folder's listing (paths, sizes, mtimes) equals the manifest's: a file
touched, added or removed makes the next run decode again. It is built in a temporary folder, the
manifest written last, and renamed into place: a prepare killed at any moment leaves nothing that a
later run reads (and the next prepare removes its leftovers).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import UserError
from ..io import atomic_write_bytes, cache_dir
from . import files

FORMAT_VERSION = 1
CHUNK = 256  # files per task: large enough to amortise the task's overhead, small enough for a live bar
SAMPLED_HEADERS = 64  # files whose header decides a folder's channels and size before decoding


@dataclass
class Prepared:
    images: np.ndarray  # uint8 (N, R, R, C), memory-mapped
    labels: np.ndarray | None
    manifest: dict
    place: Path
    reused: bool


def datasets_dir() -> Path:
    """$GANKIT_DATA_CACHE when set (a disk with room for large sets), else gankit's cache/datasets."""
    return Path(os.environ.get("GANKIT_DATA_CACHE") or cache_dir() / "datasets")


def place_for(root: Path, resolution: int, channels: int, crop: str, skip_bad: bool) -> Path:
    key = json.dumps([str(root.resolve()), resolution, channels, crop, skip_bad, FORMAT_VERSION])
    return datasets_dir() / f"{root.resolve().name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def read_manifest(place: Path) -> dict | None:
    try:
        return json.loads((place / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def sample_headers(paths: list[Path]) -> list[tuple[str, tuple[int, int]]]:
    """Headers of up to SAMPLED_HEADERS files spread evenly over the listing (unreadable ones left out)."""
    step = max(1, len(paths) // SAMPLED_HEADERS)
    return [h for h in (files.image_header(p) for p in paths[::step][:SAMPLED_HEADERS]) if h is not None]


def folder_channels(paths: list[Path]) -> int:
    """3 when any sampled image is in colour, else 1: colour stays colour."""
    headers = sample_headers(paths)
    return 3 if any(mode not in files.GREY_MODES for mode, _ in headers) else 1


def folder_resolution(paths: list[Path], crop: str) -> int:
    """The side of the sampled images' most common size, made square as `crop` would: what
    `gankit prepare` decodes at unless given --resolution."""
    headers = sample_headers(paths)
    if not headers:
        raise UserError(f"{paths[0].parent}: none of the sampled files is a readable image")
    (w, h), _ = Counter(size for _, size in headers).most_common(1)[0]
    return max(w, h) if crop == "pad" else min(w, h)


def _decode_chunk(npy: str, start: int, paths: list[str], resolution: int, channels: int, crop: str, skip_bad: bool):
    """A worker's task: decode `paths` into rows start.. of the array file. -> (start, sizes, errors),
    sizes as 'WxH' per file (None when bad), errors as (row, message). Without skip_bad the first bad
    file ends the task: the run stops anyway."""
    out = np.load(npy, mmap_mode="r+")
    sizes, errors = [], []
    for i, path in enumerate(paths):
        try:
            array, (w, h) = files.decode_image(Path(path), resolution, channels, crop)
        except UserError as exc:
            sizes.append(None)
            errors.append((start + i, str(exc)))
            if not skip_bad:
                break
            continue
        out[start + i] = array
        sizes.append(f"{w}x{h}")
    out.flush()
    del out
    return start, sizes, errors


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            h.update(block)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_leftovers(place: Path) -> None:
    """Temporary folders of prepares that are no longer running (killed, or crashed)."""
    for leftover in place.parent.glob(f".{place.name}.*"):
        try:
            pid = int(leftover.name.rsplit("-", 1)[1])
            os.kill(pid, 0)  # still running: leave it
        except ProcessLookupError:
            shutil.rmtree(leftover, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            continue


def _workers(requested: int | None, n_files: int) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(requested or cpus, -(-n_files // CHUNK)))


def _decode_all(npy: Path, paths: list[Path], resolution: int, channels: int, crop: str, skip_bad: bool,
                workers: int, progress: bool) -> tuple[list, list]:
    """Every file into its row of `npy`, in `workers` processes; -> (sizes, errors) in file order."""
    tasks = [(str(npy), s, [str(p) for p in paths[s : s + CHUNK]], resolution, channels, crop, skip_bad)
             for s in range(0, len(paths), CHUNK)]
    sizes: list = [None] * len(paths)
    errors: list = []
    bar = tqdm(total=len(paths), unit="file", desc="prepare", disable=not progress, dynamic_ncols=True)

    def collect(result) -> None:
        start, chunk_sizes, chunk_errors = result
        sizes[start : start + len(chunk_sizes)] = chunk_sizes
        errors.extend(chunk_errors)
        bar.update(len(chunk_sizes))
        if chunk_errors and not skip_bad:
            raise UserError(chunk_errors[0][1] + " (set data.skip_bad=true to skip unreadable files)")

    try:
        if workers == 1:
            for task in tasks:
                collect(_decode_chunk(*task))
        else:
            # fork: the workers need only PIL and NumPy, and start at once (spawn would import torch in each)
            context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                pending = {pool.submit(_decode_chunk, *task) for task in tasks}
                try:
                    while pending:
                        done, pending = wait(pending, return_when=FIRST_EXCEPTION, timeout=0.5)
                        for future in done:
                            collect(future.result())
                finally:
                    for future in pending:
                        future.cancel()
    finally:
        bar.close()
    errors.sort()
    return sizes, errors


def prepare_folder(root: Path, resolution: int, channels: int, crop: str = "stretch", skip_bad: bool = False,
                   progress: bool = False, workers: int | None = None) -> Prepared:
    """The prepared set of `root` at this size: reused when the folder is unchanged, else decoded."""
    sources = files.scan_images(root)  # what a prepared set must still match: paths, sizes, mtimes
    place = place_for(root, resolution, channels, crop, skip_bad)
    manifest = read_manifest(place)
    if manifest is not None and manifest.get("sources") == sources:
        images = np.load(place / "images.npy", mmap_mode="c")  # copy-on-write: writable, the file never changes
        if images.shape == (manifest["count"], resolution, resolution, channels):
            labels = np.load(place / "labels.npy") if (place / "labels.npy").exists() else None
            return Prepared(images, labels, manifest, place, reused=True)
    paths = [root / rel for rel, _, _ in sources]
    return _build(root, paths, sources, place, resolution, channels, crop, skip_bad, progress, workers)


def _build(root, paths, sources, place, resolution, channels, crop, skip_bad, progress, workers) -> Prepared:
    place.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(place)
    tmp = place.parent / f".{place.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        t0 = time.monotonic()
        npy = tmp / "images.npy"
        out = np.lib.format.open_memmap(npy, mode="w+", dtype=np.uint8, shape=(len(paths), resolution, resolution, channels))
        del out  # the workers write through their own maps
        sizes, errors = _decode_all(npy, paths, resolution, channels, crop, skip_bad,
                                    _workers(workers, len(paths)), progress)
        names, labels = files.folder_classes(root, paths)
        bad_rows = {row for row, _ in errors}
        if bad_rows:
            if len(bad_rows) == len(paths):
                raise UserError(f"{root}: none of its {len(paths):,} image files could be read ({errors[0][1]})")
            keep = np.array([i for i in range(len(paths)) if i not in bad_rows])
            full = np.load(npy, mmap_mode="r")
            kept = np.lib.format.open_memmap(tmp / "kept.npy", mode="w+", dtype=np.uint8, shape=(len(keep), *full.shape[1:]))
            for s in range(0, len(keep), 4096):  # bounded memory
                kept[s : s + 4096] = full[keep[s : s + 4096]]
            kept.flush()
            del full, kept
            os.replace(tmp / "kept.npy", npy)
            labels = None if labels is None else labels[keep]
        if labels is not None:
            np.save(tmp / "labels.npy", labels)
            _fsync(tmp / "labels.npy")
        _fsync(npy)
        decoded_s = time.monotonic() - t0
        manifest = {
            "format": FORMAT_VERSION, "root": str(root.resolve()), "resolution": resolution, "channels": channels,
            "resize_filter": files.RESIZE_FILTER, "crop": crop, "skip_bad": skip_bad,
            "count": len(paths) - len(bad_rows), "files": len(paths), "classes": names,
            "skipped": [{"file": sources[row][0], "error": message} for row, message in errors],
            "image_sizes": dict(Counter(s for s in sizes if s is not None).most_common()),
            "checksum": "sha256:" + _file_sha256(npy), "decode_seconds": round(decoded_s, 3),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "sources": sources,
        }
        atomic_write_bytes(tmp / "manifest.json", json.dumps(manifest).encode())  # last: it makes the folder trusted
        old = place.parent / f".{place.name}.old-{os.getpid()}"
        if place.exists():
            os.replace(place, old)
        os.replace(tmp, place)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    images = np.load(place / "images.npy", mmap_mode="c")
    labels = np.load(place / "labels.npy") if labels is not None else None
    return Prepared(images, labels, manifest, place, reused=False)


def prepared_sets(root: Path) -> list[tuple[Path, dict]]:
    """Every prepared set of `root` in the cache (any size), with its manifest."""
    folder = datasets_dir()
    if not folder.is_dir():
        return []
    found = []
    for place in sorted(folder.iterdir()):
        if place.name.startswith("."):
            continue
        manifest = read_manifest(place)
        if manifest is not None and manifest.get("root") == str(root.resolve()):
            found.append((place, manifest))
    return found


def folder_bytes(place: Path) -> int:
    return sum(p.stat().st_size for p in place.iterdir() if p.is_file())
