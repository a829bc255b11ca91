"""Evaluation end to end: samples from a run, a checkpoint or an npz file; the reference data;
the feature extractor that fits them; repeats reported as mean and std."""

from __future__ import annotations

from pathlib import Path

import sys

import numpy as np
import torch

from ..config import DataConfig
from ..data import load_dataset
from ..errors import UserError
from . import calc_metrics, parse_names
from .context import EvalContext
from .domain import DomainExtractor
from .inception import ImageExtractor, load_inception, load_torchscript

MAX_REFERENCE = 10_000  # reference examples kept (a fixed random subset of larger sets)


def read_npz(path: Path) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The contract's sample arrays -> (samples as the nets produce them, labels or None)."""
    try:
        z = np.load(path, allow_pickle=False)
        arrays = {k: z[k] for k in z.files}
    except Exception as exc:
        raise UserError(f"'{path}': cannot read as .npz ({type(exc).__name__})") from None
    labels = torch.as_tensor(arrays["labels"]) if "labels" in arrays else None
    if "images" in arrays:
        im = arrays["images"]
        if im.ndim != 4:
            raise UserError(f"'{path}': 'images' must have shape (N, H, W, C), got {im.shape}")
        x = torch.from_numpy(im.astype(np.float32)).permute(0, 3, 1, 2) / 127.5 - 1
        return x, labels
    if "points" in arrays:
        return torch.from_numpy(arrays["points"].astype(np.float32)).reshape(len(arrays["points"]), -1), labels
    raise UserError(f"'{path}': holds neither 'images' nor 'points' (arrays: {', '.join(arrays) or 'none'})")


def reference(source: str, like: torch.Tensor, run_data: DataConfig | None = None) -> tuple[torch.Tensor, str]:
    """The reference data named `source`, shaped like the samples `like`; with `run_data` (a run's
    data config) the examples that run trained on instead: its data.limit and data.held_out applied,
    as the evaluations during training use them."""
    if run_data is not None:
        cfg = run_data
    elif like.dim() == 4:
        cfg = DataConfig(source=source, resolution=like.shape[-1], channels=like.shape[1])
    else:
        cfg = DataConfig(source=source)
    data = load_dataset(cfg)
    if data.sample_shape != tuple(like.shape[1:]):
        raise UserError(f"--against '{source}': its examples have shape {data.sample_shape}, the samples {tuple(like.shape[1:])}")
    if len(data) > MAX_REFERENCE:
        keep = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:MAX_REFERENCE]
        return data.take(keep), source
    return data.floats(), source


def pick_extractor(sample: torch.Tensor, inception_weights: str | None = None, extractor: str | None = None):
    """A user's TorchScript file, else Inception (given its weights), else the MNIST classifier for
    square images of 16x16 to 64x64 (resized to its 28x28) with 1 or 3 channels; points need none."""
    if extractor:
        return load_torchscript(extractor)
    if inception_weights:
        return ImageExtractor(load_inception(inception_weights), "inception-v3 (pytorch-fid weights)")
    if sample.dim() == 2:
        return None
    if sample.shape[2] == sample.shape[3] and 16 <= sample.shape[2] <= 64 and sample.shape[1] in (1, 3):
        return DomainExtractor()
    raise UserError(f"no built-in feature extractor for {sample.shape[1]}x{sample.shape[2]}x{sample.shape[3]} images: "
                    "pass --inception-weights PATH or --extractor FILE.pt")


def summarise(results: list[dict]) -> dict:
    """Repeats -> {key: value} for one, {key: mean, key_std_repeats: std} over several."""
    if len(results) == 1:
        return dict(results[0], repeats=1)
    out: dict = {"repeats": len(results)}
    for key, value in results[0].items():
        vals = [r[key] for r in results]
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if numeric and not key.startswith("time_") and len(set(vals)) > 1:
            out[key] = float(np.mean(vals))
            out[key + "_std_repeats"] = float(np.std(vals, ddof=1))
        else:  # counts and settings (equal in every repeat), names, timings of the first repeat
            out[key] = value
    return out


def evaluate_model(model, against: str | None = None, metrics=None, n: int = 10_000, repeats: int = 1,
                   seed: int = 0, inception_weights: str | None = None, extractor: str | None = None) -> dict:
    """Draw `repeats` sample sets of n (seeds seed, seed+1, ...) and evaluate each."""
    names = parse_names(metrics)
    source = against or model.config.data.source
    first, _ = model.generate(n, seed=seed)
    # no --against: the run's own training examples (a limited or held-out run's, not the whole set)
    real, _ = reference(source, first, None if against else model.config.data)
    ext = pick_extractor(first, inception_weights, extractor)
    results = []
    for r in range(repeats):
        fake = first if r == 0 else model.generate(n, seed=seed + r)[0]
        results.append(calc_metrics(names, EvalContext(fake, real, ext, seed=seed + r, dataset=source), sys.stderr.isatty()))
    return dict(summarise(results), against=source)


def evaluate_samples(fake: torch.Tensor, against: str, metrics=None, seed: int = 0,
                     inception_weights: str | None = None, extractor: str | None = None) -> dict:
    real, _ = reference(against, fake)
    ext = pick_extractor(fake, inception_weights, extractor)
    ctx = EvalContext(fake, real, ext, seed=seed, dataset=against)
    return dict(summarise([calc_metrics(parse_names(metrics), ctx, sys.stderr.isatty())]),
                against=against)


