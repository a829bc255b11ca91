"""`gankit doctor RUN`: what goes wrong in a run and what to change.

gankit.health reads metrics.jsonl; this adds what needs the trained nets: the diversity of one fixed
latent batch at every checkpoint (periodic, best and last), as the mean pairwise distance between
its samples over the same mean for as many real training examples. A generator that collapses
draws the same few images whatever z is, and that ratio falls towards 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .configure import load_config, unread_keys
from .data import load_dataset
from .errors import UserError
from .health import Check, Diversity, diagnose, findings, read_records
from .model import load

DIVERSITY_SEED = 31_337  # the fixed latent batch, the same at every checkpoint
DIVERSITY_SAMPLES = 256


@dataclass
class Diagnosis:
    run: Path
    checks: list[Check]
    diversity: Diversity | None
    diversity_note: str  # why diversity was not measured, when it was not

    def to_dict(self) -> dict:
        div = None if self.diversity is None else {"steps": self.diversity.steps, "ratios": self.diversity.ratios}
        return {"run": str(self.run), "findings": [f.to_dict() for f in findings(self.checks)],
                "checks": [c.to_dict() for c in self.checks], "diversity": div, "diversity_note": self.diversity_note}


def require_run(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise UserError(f"'{run_dir}' is not a run directory (not a folder)")
    for name in ("config.yaml", "metrics.jsonl"):
        if not (run_dir / name).is_file():
            raise UserError(f"'{run_dir}' is not a run directory (no {name})")


def mean_distance(x: torch.Tensor) -> float:
    """The mean Euclidean distance between two different samples of x (over all their dimensions)."""
    return torch.pdist(x.reshape(len(x), -1).double()).mean().item()


def checkpoints(run_dir: Path) -> list[Path]:
    """The run's checkpoints in step order: periodic ones, then last (best is a copy of one of them)."""
    folder = run_dir / "checkpoints"
    periodic = sorted(folder.glob("step_*.safetensors"))
    last = folder / "last.safetensors"
    return periodic + ([last] if last.is_file() else [])


def measure_diversity(run_dir: Path, samples: int = DIVERSITY_SAMPLES) -> tuple[Diversity | None, str]:
    """The diversity ratio at each checkpoint (None, and why, where it cannot be measured)."""
    paths = checkpoints(run_dir)
    if not paths:
        return None, "no checkpoints to sample"
    out, real_spread = Diversity(), None
    for path in paths:
        model = load(path)
        if not getattr(model.recipe, "draws_from_noise", True):
            return None, f"recipe '{model.config.recipe}' does not draw from noise"
        step = int(model.meta["step"])
        if step in out.steps:  # last is the last periodic checkpoint when the budget ended on one
            continue
        if real_spread is None:
            real = load_dataset(model.config.data)
            pick = torch.randperm(len(real), generator=torch.Generator().manual_seed(DIVERSITY_SEED))[:samples]
            real_spread = mean_distance(real.take(pick))
        fake, _ = model.generate(samples, seed=DIVERSITY_SEED)
        out.steps.append(step)
        out.ratios.append(mean_distance(fake) / real_spread)
    return out, ""


def diagnose_run(run_dir: str | Path, samples: int = DIVERSITY_SAMPLES) -> Diagnosis:
    run_dir = Path(run_dir)
    require_run(run_dir)
    cfg = load_config(str(run_dir / "config.yaml"))
    records = read_records(run_dir / "metrics.jsonl")
    diversity, note = measure_diversity(run_dir, samples)
    return Diagnosis(run_dir, diagnose(records, cfg, diversity, unread_keys(cfg)), diversity, note)


def format_diagnosis(d: Diagnosis) -> str:
    found = findings(d.checks)
    lines = [f"gankit doctor {d.run}: " + (f"{len(found)} problem{'s' if len(found) > 1 else ''} found" if found else "no problem found")]
    if len(found) > 1 and found[0].name == "divergence":
        lines.append("(fix the divergence first: what follows may be its consequence)")
    for i, f in enumerate(found, 1):
        lines += [f"{i}. {f.name}, from step {f.step}",
                  f"   evidence: {f.evidence}",
                  f"   change: {f.change}"]
        if f.overrides:
            lines.append(f"   try: {' '.join(f.overrides)}   (gankit config keys, e.g. gankit train ... {f.overrides[0]})")
    lines.append("checked:" if not found else "also checked:")
    for c in d.checks:
        if c.finding is None:
            lines.append(f"  - {c.name}: {c.checked}")
    if d.diversity is None:
        lines.append(f"  (diversity across checkpoints not measured: {d.diversity_note})")
    return "\n".join(lines)
