"""A trained semi-supervised run's discriminator as a classifier: `classify(model, images)` and the
reader of what `gankit classify` takes (image files, folders of them, .npz arrays)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data.files import IMAGE_SUFFIXES, read_image, read_npz
from .data.transform import array_to_tensor
from .errors import UserError
from .model import Model


@dataclass
class Inputs:
    """Images to classify: a name for each, the (N, C, H, W) batch in [-1, 1], and the true labels
    when every input came with one (.npz files holding 'labels'), else None."""

    names: list[str]
    x: torch.Tensor
    labels: np.ndarray | None


def require_classifier(model: Model, where: str) -> None:
    """A UserError naming `where` unless the model's D is a classifier."""
    if not hasattr(model.recipe, "class_probabilities"):
        raise UserError(f"'{where}' is a '{model.config.recipe}' run, not a classifier: only recipe ssgan's D "
                        f"classifies (train one with 'gankit train ssgan-mnist')")


def read_inputs(paths: list[str], resolution: int, channels: int) -> Inputs:
    """Image files, folders (every image under them, sorted by path) and .npz files (one entry per
    image of their 'images'), each brought to the model's resolution and channels as training data were."""
    names, batches, labels = [], [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise UserError(f"folder '{path}' holds no images (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
            images = np.stack([read_image(p, resolution, channels) for p in files])
            names += [str(p) for p in files]
            labels.append(None)
        elif not path.is_file():
            raise UserError(f"input '{path}' does not exist")
        elif path.suffix == ".npz":
            images, npz_labels, _ = read_npz(path)
            names += [f"{path}[{i}]" for i in range(len(images))]
            labels.append(npz_labels)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            images = read_image(path, resolution, channels)[None]
            names.append(str(path))
            labels.append(None)
        else:
            raise UserError(f"input '{path}': expected an image file, a folder of images or an .npz")
        if len(images) == 0:
            raise UserError(f"input '{path}': holds no images")
        batches.append(array_to_tensor(images, str(path), resolution, channels))
    known = None if any(y is None for y in labels) else np.concatenate(labels)
    return Inputs(names, torch.cat(batches), known)


@torch.no_grad()
def classify(model: Model, x: torch.Tensor, batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """The class D gives each image of x (N, C, H, W) in [-1, 1], and its probability p(class | x, real)."""
    probs = torch.cat([model.recipe.class_probabilities(chunk.to(model.device)).cpu() for chunk in x.split(batch)])
    p, k = probs.max(1)
    return k.numpy().astype(np.int64), p.numpy()
