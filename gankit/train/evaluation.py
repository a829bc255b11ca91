"""Evaluation during training: every `evaluation.every` steps the trainer asks its `Evaluator`,
which draws `num_samples` from a fixed latent batch and computes the configured metrics. The
trainer appends the record to metrics.jsonl and, when `best_metric` improves, writes
checkpoints/best.safetensors beside last (GANs often get worse after their best step). The best
value lives in that checkpoint's metadata, so resume keeps it."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..config import EvalConfig
from ..data import Dataset
from ..metrics import EvalContext, calc_metrics, direction, parse_names
from ..metrics.evaluate import MAX_REFERENCE, pick_extractor, reference
from .checkpoint import load_checkpoint

EVAL_SEED = 20_240_601  # the latent batch every evaluation of a run uses


class Evaluator:
    """Metrics of the trained sampler on a fixed latent batch against a fixed reference sample.
    Built at the first evaluation, so that a run that never evaluates pays nothing for it."""

    def __init__(self, ev: EvalConfig, recipe, data: Dataset, device: torch.device, best_file: Path):
        self.ev, self.recipe = ev, recipe
        self.names = parse_names(ev.metrics)
        gen = torch.Generator(device).manual_seed(EVAL_SEED)
        self.z = recipe.sample_z(ev.num_samples, gen)
        self.labels = recipe.sample_labels(ev.num_samples, gen)
        if ev.against:
            self.real, _ = reference(ev.against, data.take(torch.arange(1)).cpu())
        else:
            keep = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:MAX_REFERENCE]
            self.real = data.take(keep).float().cpu()
        self.extractor = pick_extractor(self.real[:1])
        self.reference_cache: dict = {}  # the reference's features and k-NN radii, computed once
        self.best = load_checkpoint(best_file)[1].get("best", {}).get("value") if best_file.exists() else None

    @torch.no_grad()
    def _generate(self) -> torch.Tensor:
        self.recipe.refresh_ema_statistics()
        G = self.recipe.sampler  # what `gankit sample` draws from: the EMA generator when there is one
        was_training = G.training
        G.eval()
        out = []
        for i in range(0, len(self.z), 500):
            y = None if self.labels is None else self.labels[i:i + 500]
            out.append(self.recipe.sample(self.z[i:i + 500], y).float().cpu())
        G.train(was_training)
        return torch.cat(out)

    def evaluate(self, step: int) -> dict:
        """The metrics.jsonl record of this step's evaluation; with `best_metric`, its "best" entry
        says whether this step improved on the best so far (the trainer then saves it)."""
        t = time.monotonic()
        ctx = EvalContext(self._generate(), self.real, self.extractor, seed=step, cache=self.reference_cache)
        results = calc_metrics(self.names, ctx)
        record = {"step": step, "eval": results, "eval_time": round(time.monotonic() - t, 3)}
        if self.ev.best_metric:
            value = results[self.ev.best_metric]
            lower = direction(self.ev.best_metric) == "min"
            better = self.best is None or (value < self.best if lower else value > self.best)
            if better:
                self.best = value
            record["best"] = {"metric": self.ev.best_metric, "value": self.best, "improved": better}
        return record
