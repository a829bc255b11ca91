"""`gankit score RUN IMAGES...`: the trained discriminator as a real/fake detector.

Prints, per image, D's probability that it is real: sigmoid(logit) for the losses whose D is a
classifier (nonsat, minimax). For wasserstein, hinge and lsgan D's output is an unbounded score,
not a probability; it is printed raw (higher = more real) and the header says so.
Each image is brought to the run's resolution and channels as training data were.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..data.files import IMAGE_SUFFIXES, read_image, read_npz
from ..data.transform import array_to_tensor
from ..errors import UserError
from ..model import load


def register(sub):
    p = sub.add_parser("score", help="print, per image, the probability the trained D gives that it is real")
    p.add_argument("path", metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files, or .npz files holding 'images'")
    p.add_argument("--label", type=int, help="conditional models: the class the images are meant to show (D judges image and class)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    p.set_defaults(run=run)


def read_inputs(paths: list[str], resolution: int, channels: int) -> tuple[list[str], torch.Tensor]:
    """Names and a (N, C, H, W) batch in [-1, 1]; an npz contributes one entry per image."""

    names, batches = [], []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise UserError(f"image '{path}' does not exist")
        if path.suffix == ".npz":
            images = read_npz(path)[0]
            names += [f"{path}[{i}]" for i in range(len(images))]
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            images = read_image(path, resolution, channels)[None]
            names.append(str(path))
        else:
            raise UserError(f"image '{path}': expected an image file or an .npz")
        batches.append(array_to_tensor(images, str(path), resolution, channels))
    return names, torch.cat(batches)


def run(args) -> int:
    model = load(args.path, device=args.device)
    if not model.is_images:
        raise UserError(f"'{args.path}' was trained on points, not images: nothing to score")
    if not hasattr(model.recipe, "loss"):  # ssgan: D's K logits are class scores
        raise UserError(f"'{args.path}' is a '{model.config.recipe}' run, whose D classifies: use 'gankit classify'")
    channels, resolution = model.sample_shape[0], model.sample_shape[1]
    model.check_score_label(args.label)  # before reading the images
    names, x = read_inputs(args.images, resolution, channels)
    scores = model.score(x, args.label)
    if model.d_gives_probabilities:
        print("P(real)  image")
    else:
        print(f"D score (loss '{model.config.loss}': an unbounded score, higher = more real; not a probability)  image")
    for name, s in zip(names, scores):
        print(f"{s:7.4f}  {name}")
    return 0
