"""Image-to-image data: paired examples (A, B) for pix2pix, two unpaired sets for CycleGAN.

An example holds A's channels and then B's, stacked along the channel axis, so the training loop
draws batches of pairs as it draws batches of images, and a recipe splits them (data.channels for A,
data.channels_b for B). Unpaired sets are stacked too, with a fixed random partner for each image of
the larger set: no CycleGAN loss couples an image with its partner, and the loop reshuffles which
examples share a batch every epoch, so the partner is only where B's image is stored.

Paired sources: the bundled tasks (below), a folder of files with A and B side by side (the pix2pix
datasets' layout), or a folder holding `A/` and `B/` whose files match by name (path less suffix).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from .files import IMAGE_SUFFIXES, fit_image, image_files, open_image
from .photos import COLOUR_PHOTOS, POOL_SIZE, cut_patches, photo

CANNY_SIGMA = 2.0  # at 1 (scikit-image's default) the photos' texture fills the maps with specks


def luma(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (H, W, 1), ITU-R BT.601 weights (PIL's RGB -> L)."""
    y = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.round(y), 0, 255).astype(np.uint8)[:, :, None]


def edges(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (H, W, 1): Canny edges of its luma, white (255) on black."""
    from skimage.feature import canny

    return (canny(luma(rgb)[:, :, 0].astype(np.float32) / 255.0, sigma=CANNY_SIGMA) * 255).astype(np.uint8)[:, :, None]


# Bundled paired tasks, built at run time from the colour training photos: name -> (A from a photo, help line).
PAIRED_TASKS = {
    "photo-edges": (edges, f"4,096 pairs: Canny edges (sigma {CANNY_SIGMA}) -> patches of scikit-image's colour photos"),
    "photo-gray": (luma, "4,096 pairs: grey -> colour patches of scikit-image's colour photos"),
}


def task_pair(task: str, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A whole photo as one example of `task`: (A uint8 (H, W, 1), B = the photo)."""
    return PAIRED_TASKS[task][0](rgb), rgb


def task_patches(task: str, size: int, n: int = POOL_SIZE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n aligned size x size patches of (A, B) for a bundled task. A is made from each whole photo
    before cutting (edges at a patch's border see the photo beyond it), as the held-out photos are."""
    stacked = [np.concatenate(task_pair(task, photo(name)), axis=2) for name in COLOUR_PHOTOS]
    patches = cut_patches(stacked, size, n, seed)
    return patches[..., :1], patches[..., 1:]


def read_side_by_side(path: Path, resolution: int, channels_a: int, channels_b: int) -> tuple[np.ndarray, np.ndarray]:
    """One A|B file -> A and B, each uint8 (resolution, resolution, C)."""
    img = open_image(path)
    w, h = img.size
    if w % 2:
        raise UserError(f"{path}: an A|B pair must have an even width (A left, B right), got {w}x{h}")
    return (fit_image(img.crop((0, 0, w // 2, h)), resolution, channels_a),
            fit_image(img.crop((w // 2, 0, w, h)), resolution, channels_b))


def _by_name(folder: Path) -> dict[str, Path]:
    """Image files of `folder` keyed by their path inside it, less the suffix."""
    named: dict[str, Path] = {}
    for p in image_files(folder):
        key = p.relative_to(folder).with_suffix("").as_posix()
        if key in named:
            raise UserError(f"{p}: two files in '{folder}' are named '{key}' ({named[key].name}, {p.name}); "
                            f"pairs are matched by name, so each name must be one file")
        named[key] = p
    return named


def has_domain_folders(root: Path) -> bool:
    return (root / "A").is_dir() and (root / "B").is_dir()


def read_paired_folder(root: Path, resolution: int, channels_a: int, channels_b: int) -> tuple[np.ndarray, np.ndarray]:
    """A folder of A|B files, or a folder with A/ and B/ of matching names -> A, B uint8 (N, H, W, C).
    Every image is brought to resolution x resolution, so A and B of different sizes pair up."""
    if has_domain_folders(root):
        a, b = _by_name(root / "A"), _by_name(root / "B")
        for mine, theirs, side in ((a, b, "B"), (b, a, "A")):
            lonely = sorted(set(mine) - set(theirs))
            if lonely:
                more = f" (and {len(lonely) - 1} more)" if len(lonely) > 1 else ""
                raise UserError(f"{mine[lonely[0]]}: no partner named '{lonely[0]}' in '{root / side}'{more}")
        if not a:
            raise UserError(f"{root}: A/ and B/ hold no images (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
        names = sorted(a)
        return (np.stack([fit_image(open_image(a[k]), resolution, channels_a) for k in names]),
                np.stack([fit_image(open_image(b[k]), resolution, channels_b) for k in names]))
    paths = image_files(root)
    if not paths:
        raise UserError(f"{root}: no paired images: give A|B side-by-side files or the folders '{root / 'A'}' and "
                        f"'{root / 'B'}' with matching names")
    halves = [read_side_by_side(p, resolution, channels_a, channels_b) for p in paths]
    return np.stack([h[0] for h in halves]), np.stack([h[1] for h in halves])


def unpaired_partners(n_a: int, n_b: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Which image of each set the max(n_a, n_b) stacked examples hold: (indices into A, into B),
    every image of the larger set once, the smaller set's repeated in a fixed random order."""
    n = max(n_a, n_b)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    ia = torch.arange(n) % n_a if n_a == n else order % n_a
    ib = torch.arange(n) % n_b if n_b == n and n_a != n else order % n_b
    return ia, ib
