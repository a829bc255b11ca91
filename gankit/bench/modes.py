"""`gankit bench modes`: mode collapse, PacGAN protocol (Lin et al. 2018, Tables 1 and 2).

Trains each method on `ring`, `grid` and `stacked-mnist` with several seeds, evaluates 2,500 samples
(2-D sets) or 26,000 (stacked MNIST), and prints mean ± std over seeds beside the published rows.
Every method starts from the set's preset (which holds our best setting) and changes only what
names it; the plain GAN (and each remedy on top of it) switches every remedy of the preset off.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from ..configure import load_config
from ..errors import UserError
from ..io import atomic_write_bytes
from ..metrics import EvalContext, METRICS
from ..metrics.domain import DomainExtractor
from ..model import load
from ..train.loop import train

# The plain GAN: every remedy off, whatever the preset ships with (grid's R1 penalty too).
PLAIN = ["remedies.pack=1", "remedies.minibatch_disc=0", "remedies.mbstd=false", "remedies.unrolled_steps=0",
         "remedies.ema=0", "penalty.r1_gamma=0"]
METHODS: dict[str, list[str]] = {
    "GAN": PLAIN,
    "PacGAN2": PLAIN + ["remedies.pack=2"],
    "PacGAN3": PLAIN + ["remedies.pack=3"],
    "PacGAN4": PLAIN + ["remedies.pack=4"],
    "Unrolled": PLAIN + ["remedies.unrolled_steps=5"],
    "MBD": PLAIN + ["remedies.minibatch_disc=8"],
    "WGAN-GP": PLAIN + ["loss=wasserstein", "penalty.gp_weight=10"],
    "ours": [],  # the preset as shipped: our best setting
}
SETS = {"ring": 2_500, "grid": 2_500, "stacked-mnist": 26_000}  # samples evaluated per run
# Quick 2-D runs stay long enough for the presets' EMA of G (decay 0.999) to forget its initial weights.
QUICK = {"methods": ["GAN", "ours"], "seeds": 2, "steps": {"ring": 4000, "grid": 4000, "stacked-mnist": 400}}

# Published rows (REFERENCES.md). 2-D: (modes, % high quality, reverse KL), PacGAN protocol, Lin et
# al. 2018 Table 1, mean ± std over 10 trials. Stacked MNIST: (modes, KL to uniform).
PUBLISHED = {
    "ring": {
        "GAN": ("6.3±0.5", "98.2±0.2", "0.45±0.09", "Lin et al. 2018, Table 1"),
        "PacGAN2": ("7.9±0.1", "95.6±2.0", "0.07±0.03", "Lin et al. 2018, Table 1"),
        "PacGAN3": ("7.8±0.1", "97.7±0.3", "0.10±0.02", "Lin et al. 2018, Table 1"),
        "PacGAN4": ("7.8±0.1", "95.9±1.4", "0.07±0.02", "Lin et al. 2018, Table 1"),
    },
    "grid": {
        "GAN": ("17.3±0.8", "94.8±0.7", "0.70±0.07", "Lin et al. 2018, Table 1"),
        "PacGAN2": ("23.8±0.7", "91.3±0.8", "0.13±0.04", "Lin et al. 2018, Table 1"),
        "PacGAN3": ("24.6±0.4", "94.2±0.4", "0.06±0.02", "Lin et al. 2018, Table 1"),
        "PacGAN4": ("24.8±0.2", "93.6±0.6", "0.04±0.01", "Lin et al. 2018, Table 1"),
    },
    "stacked-mnist": {
        "GAN": ("99", "", "3.4", "DCGAN, VEEGAN Table 2 (Srivastava et al. 2017)"),
        "Unrolled": ("48.7", "", "4.32", "VEEGAN Table 2"),
        "PacGAN2": ("1000.0±0.0", "", "0.06±0.003", "PacDCGAN2, Lin et al. 2018, Table 2"),
        "WGAN-GP": ("995", "", "0.148", "GDPP Table 3 (its own setting)"),
    },
}

def register(p):
    p.add_argument("--quick", action="store_true", help="plain GAN and ours, 2 seeds, short runs (a few minutes)")
    p.add_argument("--sets", default=",".join(SETS), help=f"comma-separated: {', '.join(SETS)}")
    p.add_argument("--methods", help=f"comma-separated: {', '.join(METHODS)} (default: all)")
    p.add_argument("--seeds", type=int, help="seeds per method (default 3; --quick 2)")
    p.add_argument("--steps", type=int, help="generator steps per run (default: the preset's)")
    p.add_argument("--out", help="keep the runs and write results.json / table.md here (default: a temporary folder)")


def _evaluate(set_name: str, model, n: int, seed: int) -> dict:
    x, _ = model.generate(n, seed=seed + 10_000)
    if set_name == "stacked-mnist":
        r = METRICS["stacked"].compute(EvalContext(x, x[:2], DomainExtractor()))
        return {"modes": r["modes"], "kl": r["kl_uniform"], "n": n}
    if "mixture" not in METRICS:
        raise UserError("bench modes: the 2-D mode statistics (gankit.metrics.mixture) are not installed")
    r = METRICS["mixture"].compute(EvalContext(x, x[:2], None, dataset=set_name))
    return {"modes": r["modes"], "hq": 100 * r["hq"], "kl": r["reverse_kl"], "n": n}


def _fit_batch(overrides: list[str], batch: int) -> list[str]:
    """PacGAN needs a batch divisible by the pack size: round it to the nearest multiple."""
    packs = [int(o.split("=")[1]) for o in overrides if o.startswith("remedies.pack=")]
    if packs and batch % packs[0]:
        return overrides + [f"optim.batch_size={max(packs[0], packs[0] * round(batch / packs[0]))}"]
    return overrides


def run_bench(sets, methods, seeds, steps, out: Path, progress=print) -> list[dict]:
    rows = []
    for set_name in sets:
        for method in methods:
            overrides = METHODS[method]
            runs, t0 = [], time.monotonic()
            for seed in range(seeds):
                extra = [f"train.seed={seed}"] + ([f"train.steps={steps[set_name]}"] if steps.get(set_name) else [])
                base = load_config(set_name, extra)
                cfg = load_config(set_name, _fit_batch(overrides, base.optim.batch_size) + extra)
                run = train(cfg, out / set_name / method / f"seed{seed}", progress=False)
                runs.append(_evaluate(set_name, load(run.dir), SETS[set_name], seed))
                progress(f"  {set_name:14s} {method:9s} seed {seed}: {runs[-1]}")
            row = {"set": set_name, "method": method, "seeds": seeds, "n": SETS[set_name],
                   "steps": cfg.train.steps, "minutes": round((time.monotonic() - t0) / 60, 2)}
            for key in runs[0]:
                if key != "n":
                    vals = np.array([r[key] for r in runs], dtype=np.float64)
                    # No sample on any mode makes the KL infinite: then the spread is undefined.
                    spread = float(vals.std(ddof=1)) if len(vals) > 1 and np.isfinite(vals).all() else 0.0
                    row[key] = (float(vals.mean()), spread)
            rows.append(row)
    return rows


def _fmt(v, digits):
    return f"{v[0]:.{digits}f}±{v[1]:.{digits}f}" if v else ""


def format_table(rows: list[dict]) -> str:
    head = ("| set | method | seeds x samples | steps | modes | % HQ | KL | published: modes / % HQ / KL | source | minutes |\n"
            "|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        pub = PUBLISHED.get(r["set"], {}).get(r["method"])
        pub_txt = " / ".join(p for p in pub[:3] if p) if pub else ""
        src = pub[3] if pub else ""
        if "skipped" in r:
            lines.append(f"| {r['set']} | {r['method']} | skipped: {r['skipped']} |  |  |  |  | {pub_txt} | {src} |  |")
            continue
        lines.append(f"| {r['set']} | {r['method']} | {r['seeds']} x {r['n']} | {r['steps']} | {_fmt(r['modes'], 1)} | "
                     f"{_fmt(r.get('hq'), 1)} | {_fmt(r['kl'], 3)} | {pub_txt} | {src} | {r['minutes']} |")
    return "\n".join(lines)


def run(args) -> int:
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    for s in sets:
        if s not in SETS:
            raise UserError(f"--sets: unknown set '{s}' (one of: {', '.join(SETS)})")
    methods = QUICK["methods"] if args.quick and not args.methods else (
        [m.strip() for m in args.methods.split(",")] if args.methods else list(METHODS))
    for m in methods:
        if m not in METHODS:
            raise UserError(f"--methods: unknown method '{m}' (one of: {', '.join(METHODS)})")
    seeds = args.seeds if args.seeds is not None else (QUICK["seeds"] if args.quick else 3)
    if seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {seeds}")
    steps = {s: args.steps for s in sets} if args.steps else (dict(QUICK["steps"]) if args.quick else {})
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="gankit-bench-"))
    if (out / "results.json").exists():
        raise UserError(f"--out '{out}' already holds bench results: pick another folder")
    t0 = time.monotonic()
    rows = run_bench(sets, methods, seeds, steps, out)
    table = format_table(rows)
    minutes = (time.monotonic() - t0) / 60
    print(table)
    print(f"wall clock: {minutes:.1f} min; runs in {out}")
    atomic_write_bytes(out / "results.json", (json.dumps({"rows": rows, "minutes": minutes}, indent=2) + "\n").encode())
    atomic_write_bytes(out / "table.md", (table + f"\n\nwall clock: {minutes:.1f} min\n").encode())
    return 0
