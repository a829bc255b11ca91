"""Captions for the bundled digits, written from each digit's label and three attributes measured on
its pixels (the `mnist-captions` set behind the `text-mnist` preset).

One simple measure per attribute, on the image as ink in [0, 1] (MNIST: white strokes on black):
- thickness: ink area / skeleton length (pixels of the binarised digit over pixels of its
  one-pixel skeleton): the mean stroke width in pixels.
- slant: the second-moment shear, cov(x, y) / var(y) of the ink, with y pointing up: how many
  pixels the stroke moves right per pixel of height; > 0 leans right, < 0 leans left.
- size: the area of the ink's bounding box in pixels.

Each measure becomes one of three words by its terciles over the bundled set: thickness and slant
over all digits (a thick 1 is as thick as a thick 8), size within each digit (a 1's box is narrow by
its shape, so "large" means large for a 1). Every digit has one caption in each of the four
training phrasings (`TEMPLATES`), as each image of Reed et al.'s CUB set has ten captions by
different people; `HELD_OUT` is never used for training, so a benchmark can ask whether the model
reads a phrasing it has not seen.
"""

from __future__ import annotations

import numpy as np

INK = 0.5  # a pixel is ink at half the full intensity or more

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
THICKNESS_WORDS = ("thin", "normal", "thick")
SLANT_WORDS = ("leaning left", "upright", "leaning right")
SIZE_WORDS = ("small", "medium", "large")

# {word}: the digit spelled, {num}: as a numeral; the attribute words by their level.
TEMPLATES = (
    "a {thickness} {word} {slant}",
    "{num}, {thickness} and {slant}",
    "a {size} {word} with a {thickness} stroke, {slant}",
    "the digit {num}, {size} and {thickness}, {slant}",
)
# Held out of training: every word of it occurs in the templates above, in an order none of them has.
HELD_OUT = "{slant}, {size} and {thickness}: the digit {word}"


def _ink(image: np.ndarray) -> np.ndarray:
    if image.ndim != 2:
        raise ValueError(f"expected one grayscale image (H, W), got shape {image.shape}")
    return image >= INK


def thickness(image: np.ndarray) -> float:
    """Mean stroke width in pixels: ink area / skeleton length (0 for a blank image)."""
    from skimage.morphology import skeletonize

    ink = _ink(image)
    skeleton = int(skeletonize(ink).sum())
    return float(ink.sum()) / skeleton if skeleton else 0.0


def slant(image: np.ndarray) -> float:
    """Second-moment shear of the ink, cov(x, y) / var(y), y up: > 0 when the top leans right."""
    rows, cols = np.nonzero(_ink(image))
    if len(rows) < 2:
        return 0.0
    y = -(rows - rows.mean())  # image rows grow downwards
    x = cols - cols.mean()
    var_y = float((y * y).mean())
    return float((x * y).mean()) / var_y if var_y > 0 else 0.0


def size(image: np.ndarray) -> float:
    """Area of the ink's bounding box in pixels (0 for a blank image)."""
    rows, cols = np.nonzero(_ink(image))
    if len(rows) == 0:
        return 0.0
    return float((rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1))


def measure(images: np.ndarray) -> dict[str, np.ndarray]:
    """{'thickness', 'slant', 'size'}: one float per image of images (N, H, W) in [0, 1]."""
    return {"thickness": np.array([thickness(im) for im in images]),
            "slant": np.array([slant(im) for im in images]),
            "size": np.array([size(im) for im in images])}


def terciles(values: np.ndarray) -> tuple[float, float]:
    """The two cut points that split `values` into three equal shares."""
    low, high = np.quantile(values, [1 / 3, 2 / 3])
    return float(low), float(high)


def levels(values: np.ndarray, cuts: tuple[float, float]) -> np.ndarray:
    """0, 1 or 2 for each value: below the first cut, between the cuts, at or above the second."""
    return np.digitize(values, cuts).astype(np.int64)


def attribute_levels(measures: dict[str, np.ndarray], digits: np.ndarray) -> dict[str, np.ndarray]:
    """Each image's level (0, 1, 2) per attribute: thickness and slant by terciles over all images,
    size by terciles within the image's digit."""
    out = {k: levels(measures[k], terciles(measures[k])) for k in ("thickness", "slant")}
    size_levels = np.zeros(len(digits), dtype=np.int64)
    for d in np.unique(digits):
        mine = digits == d
        size_levels[mine] = levels(measures["size"][mine], terciles(measures["size"][mine]))
    out["size"] = size_levels
    return out


def write_caption(digit: int, thickness_level: int, slant_level: int, size_level: int, template: str) -> str:
    """One caption in the phrasing `template` (one of TEMPLATES, or HELD_OUT)."""
    return template.format(word=DIGIT_WORDS[digit], num=str(digit), thickness=THICKNESS_WORDS[thickness_level],
                           slant=SLANT_WORDS[slant_level], size=SIZE_WORDS[size_level])


def digit_captions(images: np.ndarray, digits: np.ndarray) -> tuple[list[list[str]], dict[str, np.ndarray]]:
    """Each image's captions (N, H, W) in [0, 1] with its digit label, one in each training phrasing,
    and the attribute levels the captions were written from."""
    lv = attribute_levels(measure(images), digits)
    captions = [[write_caption(int(d), int(t), int(s), int(z), template) for template in TEMPLATES]
                for d, t, s, z in zip(digits, lv["thickness"], lv["slant"], lv["size"])]
    return captions, lv
