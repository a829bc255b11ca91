"""Evaluation during training: every `evaluation.every` steps the loop calls `evaluate_step`, which
draws `num_samples` from a fixed latent batch, appends the results to metrics.jsonl and, when
`best_metric` improves, writes checkpoints/best.safetensors beside last (GANs often get worse
after their best step). The best value lives in that checkpoint's metadata, so resume keeps it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from ..errors import UserError
from ..train.checkpoint import load_checkpoint, save_checkpoint
from . import METRICS, calc_metrics, direction, parse_names
from .context import EvalContext
from .evaluate import MAX_REFERENCE, pick_extractor, reference

EVAL_SEED = 20_240_601  # the latent batch every evaluation of a run uses


def check_config(ev) -> None:
    """Raise a UserError naming the key when the `evaluation` section is inconsistent."""
    try:
        names = parse_names(ev.metrics)
    except UserError as exc:
        raise UserError(f"config key 'evaluation.metrics': {exc}") from None
    if ev.best_metric:
        try:
            direction(ev.best_metric)
        except UserError as exc:
            raise UserError(f"config key 'evaluation.best_metric': {exc}") from None
        offered = {k for n in (names or METRICS) for k in METRICS[n].better}
        if ev.best_metric not in offered:
            raise UserError(f"config key 'evaluation.best_metric': '{ev.best_metric}' is not reported by "
                            f"evaluation.metrics '{ev.metrics}'")


class _State:
    def __init__(self, trainer):
        ev = trainer.cfg.evaluation
        self.names = parse_names(ev.metrics)
        gen = torch.Generator(trainer.device).manual_seed(EVAL_SEED)
        self.z = trainer.recipe.sample_z(ev.num_samples, gen)
        self.labels = trainer.recipe.sample_labels(ev.num_samples, gen)
        if ev.against:
            self.real, _ = reference(ev.against, trainer.data.x[:1].cpu())
        else:
            x = trainer.data.x
            keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:MAX_REFERENCE]
            self.real = x[keep].float().cpu()
        self.extractor = pick_extractor(self.real[:1])
        self.real_cache = None  # reference features, computed once
        self.shared: dict = {}  # reference-only values metrics keep on the context (k-NN radii)
        self.best = None
        best = Path(trainer.dir) / "checkpoints" / "best.safetensors"
        if best.exists():
            self.best = load_checkpoint(best)[1].get("best", {}).get("value")


@torch.no_grad()
def _generate(trainer, st: _State) -> torch.Tensor:
    trainer.recipe.refresh_ema_statistics()
    G = trainer.recipe.sampler  # what `gankit sample` draws from: the EMA generator when there is one
    was_training = G.training
    G.eval()
    out = []
    for i in range(0, len(st.z), 500):
        y = None if st.labels is None else st.labels[i:i + 500]
        out.append(trainer.recipe.sample(st.z[i:i + 500], y).float().cpu())
    G.train(was_training)
    return torch.cat(out)


def evaluate_step(trainer) -> dict | None:
    ev = trainer.cfg.evaluation
    if not ev.every or trainer.step % ev.every:
        return None
    st = getattr(trainer, "_eval_state", None)
    if st is None:
        st = trainer._eval_state = _State(trainer)
    t = time.monotonic()
    ctx = EvalContext(_generate(trainer, st), st.real, st.extractor, seed=trainer.step)
    if st.real_cache is not None:
        ctx.__dict__["_real"] = st.real_cache
    ctx.cache = st.shared
    results = calc_metrics(st.names, ctx)
    st.real_cache = ctx._real
    record = {"step": trainer.step, "eval": results, "eval_time": round(time.monotonic() - t, 3)}
    if ev.best_metric:
        value = results[ev.best_metric]
        better = st.best is None or (value < st.best if direction(ev.best_metric) == "min" else value > st.best)
        if better:
            st.best = value
            tensors, meta = trainer.state()
            meta["best"] = {"metric": ev.best_metric, "value": value, "step": trainer.step}
            save_checkpoint(Path(trainer.dir) / "checkpoints" / "best.safetensors", tensors, meta)
        record["best"] = {"metric": ev.best_metric, "value": st.best, "improved": better}
    with open(Path(trainer.dir) / "metrics.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    return record
