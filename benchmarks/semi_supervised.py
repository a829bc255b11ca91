"""Test error of the semi-supervised GAN (preset ssgan-mnist) against the same D trained on the labels
alone, over label counts and label seeds, on the 1,000 bundled digits the preset holds out.

    OMP_NUM_THREADS=1 python benchmarks/semi_supervised.py train OUT_DIR [--labels 100] [--seeds 0,1,2]
                                                        [--steps N] [--modes ssgan,supervised] [--set KEY=VALUE ...]
    python benchmarks/semi_supervised.py report OUT_DIR [--write-png docs/semi-supervised.png]

`train` trains one run per (mode, labels, seed) into OUT_DIR (a run already finished is skipped, so
several `train` processes can share the work and a stopped one can be restarted), scores every
periodic checkpoint on the held-out digits and writes the result beside the run as result.json. `--set` adds config overrides to every run
(a variant: give it an OUT_DIR of its own; result.json records them).
`report` prints the tables (mean and spread over seeds, the published figures beside them) and
draws the curves: test error against labels, and against training steps.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import gankit
from gankit.classify import classify
from gankit.data import load_dataset

# Salimans et al. 2016, Table 1: permutation-invariant MNIST, errors of 10,000 test digits with
# 60,000 unlabelled digits (mean +- std over 10 seeds).
PUBLISHED = {20: (1677, 452), 50: (221, 136), 100: (93, 6.5), 200: (90, 4.2)}
# The labels-alone baseline: the same D, loop and shifts, without the unlabelled batch's terms
MODES = {"ssgan": [], "supervised": ["ssgan.unlabelled_weight=0", "ssgan.consistency_weight=0"]}


def test_error(model, held_out) -> float:
    predicted, _ = classify(model, held_out.floats())
    return float((predicted != held_out.labels.numpy()).mean())


def train_one(out: Path, mode: str, labels: int, seed: int, steps: int | None, extra: list[str] = ()) -> dict:
    run_dir = out / f"{mode}-{labels}-seed{seed}"
    result_file = run_dir / "result.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    overrides = [f"data.labelled={labels}", f"data.label_seed={seed}", f"train.seed={seed}", *MODES[mode], *extra]
    if steps:
        overrides += [f"train.steps={steps}", f"train.checkpoint_every={max(steps // 10, 1)}"]
    cfg = gankit.load_config("ssgan-mnist", overrides)
    started = time.time()
    run = gankit.train(cfg, run_dir, progress=False)
    trained_s = time.time() - started
    held_out = load_dataset(cfg.data, held_out=True)
    curve = []
    for ckpt in sorted((run_dir / "checkpoints").glob("step_*.safetensors")):
        curve.append((int(ckpt.stem.split("_")[1]), test_error(gankit.load(ckpt), held_out)))
    result = {"mode": mode, "labels": labels, "seed": seed, "steps": run.step, "trained_s": round(trained_s, 1),
              "test_error": test_error(gankit.load(run_dir), held_out), "test_count": len(held_out), "curve": curve,
              "overrides": list(extra)}
    result_file.write_text(json.dumps(result))
    for ckpt in (run_dir / "checkpoints").glob("step_*.safetensors"):
        ckpt.unlink()  # scored; the run keeps last (and prev)
    print(json.dumps(result), flush=True)
    return result


def report(out: Path, png: Path | None) -> None:
    results = [json.loads(p.read_text()) for p in sorted(out.glob("*/result.json"))]
    if not results:
        sys.exit(f"no results under {out}")
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in results:
        groups.setdefault((r["mode"], r["labels"]), []).append(r)
    label_counts = sorted({r["labels"] for r in results})
    print(f"test error on the {results[0]['test_count']} held-out digits (mean +- std over seeds; errors out of "
          f"{results[0]['test_count']}); published: Salimans et al. 2016, Table 1, errors of 10,000 with 60,000 unlabelled")
    print("| labels | SSGAN error % | SSGAN errors | labels alone error % | labels alone errors | seeds | steps "
          "| minutes per SSGAN run | published % |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in label_counts:
        cells = []
        for mode in ("ssgan", "supervised"):
            rs = groups.get((mode, n), [])
            errs = [100 * r["test_error"] for r in rs]
            if not errs:
                cells.append(("-", "-"))
                continue
            spread = f" +- {statistics.stdev(errs):.2f}" if len(errs) > 1 else ""
            counts = [round(r["test_error"] * r["test_count"]) for r in rs]
            cells.append((f"{statistics.mean(errs):.2f}{spread}", ", ".join(map(str, counts))))
        rs = groups.get(("ssgan", n)) or groups.get(("supervised", n))
        minutes = ", ".join(f"{r['trained_s'] / 60:.1f}" for r in groups.get(("ssgan", n), rs))
        pub = f"{PUBLISHED[n][0] / 100:.2f} +- {PUBLISHED[n][1] / 100:.2f}" if n in PUBLISHED else "-"
        print(f"| {n} | {cells[0][0]} | {cells[0][1]} | {cells[1][0]} | {cells[1][1]} | {len(rs)} | {rs[0]['steps']} "
              f"| {minutes} | {pub} |")
    if png:
        draw(groups, label_counts, png)
        print(f"wrote {png}")


def draw(groups, label_counts, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for mode, style in (("ssgan", "o-"), ("supervised", "s--")):
        ns = [n for n in label_counts if (mode, n) in groups]
        means = [statistics.mean(100 * r["test_error"] for r in groups[mode, n]) for n in ns]
        left.plot(ns, means, style, label="SSGAN" if mode == "ssgan" else "same D, labels alone")
    pub = sorted(PUBLISHED)
    left.errorbar(pub, [PUBLISHED[n][0] / 100 for n in pub], [PUBLISHED[n][1] / 100 for n in pub], fmt="k^:",
                  label="published (60,000 unlabelled)")
    left.axhline(2.0, color="grey", lw=0.8, ls=":", label="target 2%")
    left.set(xscale="log", yscale="log", xlabel="labelled examples", ylabel="test error %", title="held-out error")
    left.legend()
    for (mode, n), rs in sorted(groups.items()):
        if rs[0]["curve"] and (n == 100 or mode == "ssgan"):
            steps = [s for s, _ in rs[0]["curve"]]
            errs = [statistics.mean(100 * r["curve"][i][1] for r in rs) for i in range(len(steps))]
            name = "SSGAN" if mode == "ssgan" else "labels alone"
            right.plot(steps, errs, "-" if mode == "ssgan" else "--", label=f"{name}, {n} labels")
    right.set(xlabel="training step", ylabel="test error %", title="held-out error during training (mean over seeds)")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["train", "report"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--labels", default="100", help="comma-separated label counts")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated label seeds (also the training seeds)")
    parser.add_argument("--modes", default="ssgan,supervised")
    parser.add_argument("--steps", type=int, help="training steps (default: the preset's)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override for every run")
    parser.add_argument("--write-png", type=Path)
    args = parser.parse_args(argv)
    if args.action == "report":
        return report(args.out, args.write_png)
    args.out.mkdir(parents=True, exist_ok=True)
    for n in map(int, args.labels.split(",")):
        for seed in map(int, args.seeds.split(",")):
            for mode in args.modes.split(","):
                train_one(args.out, mode, n, seed, args.steps, args.set)


if __name__ == "__main__":
    main()
