"""Evaluation metrics behind one registry (in the style of stylegan2-ada's metric_main).

Each metric is a small module with `compute(ctx) -> dict`; the registry says when it applies and,
for each value it reports, whether lower or higher is better (used to keep the best checkpoint).
`calc_metrics(names, ctx)` returns one flat dict with the sample counts beside the values.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from ..errors import UserError
from . import classes, frechet, inception_score, kid, memorisation, prdc, stacked
from .mixture import mixture_stats
from .context import EvalContext


@dataclass(frozen=True)
class Metric:
    compute: Callable[[EvalContext], dict]
    help: str
    better: dict[str, str]  # reported value -> "min" or "max"
    applies: Callable[[EvalContext], bool] = lambda ctx: True


def _images(ctx: EvalContext) -> bool:
    return ctx.fake.dim() == 4


METRICS: dict[str, Metric] = {
    "fd": Metric(frechet.compute, "Frechet distance of features (FID with Inception features)", {"fd": "min"}),
    "kid": Metric(kid.compute, "kernel distance: unbiased polynomial MMD^2 over 100 subsets, mean and std", {"kid_mean": "min"}),
    "is": Metric(inception_score.compute, "Inception-score analogue on the classifier's probabilities", {"is_mean": "max"},
                 lambda ctx: ctx.has_probs),
    "pr": Metric(prdc.compute_pr, "precision and recall (Kynkaanniemi et al. 2019, k=3)", {"precision": "max", "recall": "max"}),
    "dc": Metric(prdc.compute_dc, "density and coverage (Naeem et al. 2020, k=5)", {"density": "max", "coverage": "max"}),
    "classes": Metric(classes.compute, "class-histogram KL to the reference and classes covered",
                      {"class_kl": "min", "classes_covered": "max"}, lambda ctx: ctx.has_probs),
    "stacked": Metric(stacked.compute, "stacked-MNIST modes (of 1,000) and KL to uniform",
                      {"modes": "max", "kl_uniform": "min"}, lambda ctx: ctx.is_stacked),
    "memorisation": Metric(memorisation.compute, "share of samples closer to a training example than training examples are to each other",
                           {"memorised": "min"}),
}


def _mixture_applies(ctx: EvalContext) -> bool:
    return ctx.fake.dim() == 2 and ctx.dataset in ("ring", "grid")


METRICS["mixture"] = Metric(
    lambda ctx: mixture_stats(ctx.fake.numpy(), ctx.dataset),
    "ring/grid (PacGAN protocol): modes captured, share of samples within 3 std of a mode, reverse KL",
    {"modes": "max", "hq": "max", "reverse_kl": "min"}, _mixture_applies)


def register_metric(name: str, metric: Metric) -> None:
    METRICS[name] = metric


def direction(key: str) -> str:
    """'min' or 'max' for a reported value such as 'fd' or 'precision'."""
    for metric in METRICS.values():
        if key in metric.better:
            return metric.better[key]
    keys = sorted(k for m in METRICS.values() for k in m.better)
    raise UserError(f"unknown metric value '{key}' (one of: {', '.join(keys)})")


def parse_names(names: str | list[str] | None) -> list[str] | None:
    if names is None or names == "" or names == "all":
        return None
    names = names.split(",") if isinstance(names, str) else list(names)
    names = [n.strip() for n in names if n.strip()]
    for n in names:
        if n not in METRICS:
            raise UserError(f"unknown metric '{n}' (one of: {', '.join(METRICS)})")
    return names


def calc_metrics(names: list[str] | None, ctx: EvalContext, progress: bool = False) -> dict:
    """Run the named metrics (None: every one that applies). Asking for one that does not apply
    is a UserError."""
    from tqdm import tqdm

    chosen = [n for n in METRICS if METRICS[n].applies(ctx)] if names is None else names
    out: dict = {"n_fake": len(ctx.fake), "n_real": len(ctx.real), "features": ctx.extractor_name}
    t = time.perf_counter()
    ctx.real_features, ctx.fake_features  # extracted once, shared by every metric
    out["time_features_s"] = round(time.perf_counter() - t, 3)
    for name in tqdm(chosen, desc="metrics", disable=not progress, leave=False):
        metric = METRICS[name]
        if not metric.applies(ctx):
            raise UserError(f"metric '{name}' does not apply to this data ({metric.help})")
        t = time.perf_counter()
        out.update(metric.compute(ctx))
        out[f"time_{name}_s"] = round(time.perf_counter() - t, 3)
    return out


__all__ = ["METRICS", "Metric", "EvalContext", "calc_metrics", "direction", "parse_names", "register_metric"]
