"""Photos bundled with scikit-image, for super-resolution: random HR patches from training photos,
whole held-out photos for evaluation.

The training set is a fixed pool of patches cut once (fixed seed) rather than fresh crops each step:
the loop samples the Dataset like any other set, a resumed run sees the same data, and 4,096 patches
from ten photos cover them many times over at the step counts this machine allows.
"""

from __future__ import annotations

import numpy as np

TRAIN_PHOTOS = ("astronaut", "rocket", "immunohistochemistry", "hubble_deep_field", "retina", "colorwheel",
                "camera", "coins", "brick", "grass", "gravel", "moon", "clock", "cell")
# Held out: never cut into training patches. (skimage's `cat` is the same cat as `chelsea`; unused.)
HELD_OUT_PHOTOS = ("coffee", "chelsea")
# The training photos in colour (the others are greyscale): the image-to-image tasks learn colour from them.
COLOUR_PHOTOS = ("astronaut", "rocket", "immunohistochemistry", "hubble_deep_field", "retina", "colorwheel")
POOL_SIZE = 4096


def photo(name: str) -> np.ndarray:
    """uint8 (H, W, 3); grayscale photos repeated over three channels, alpha dropped."""
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)())
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3]).astype(np.uint8)


def cut_patches(images: list[np.ndarray], size: int, n: int = POOL_SIZE, seed: int = 0) -> np.ndarray:
    """n random size x size patches, uint8 (n, size, size, C), spread evenly over `images` (H, W, C)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, images[0].shape[2]), dtype=np.uint8)
    for i in range(n):
        img = images[i % len(images)]
        top = rng.integers(0, img.shape[0] - size + 1)
        left = rng.integers(0, img.shape[1] - size + 1)
        out[i] = img[top : top + size, left : left + size]
        if rng.random() < 0.5:  # horizontal flips double the variety at no cost
            out[i] = out[i][:, ::-1]
    return out


def photo_patches(size: int, n: int = POOL_SIZE, seed: int = 0) -> np.ndarray:
    """n random size x size patches, uint8 (n, size, size, 3), spread evenly over the training photos."""
    return cut_patches([photo(name) for name in TRAIN_PHOTOS], size, n, seed)
