"""Runs made to show each condition `gankit doctor` names, and the doctor's output for each.

    OMP_NUM_THREADS=1 python benchmarks/doctor_cases.py [--out runs/doctor-cases] [--only NAME ...]

Each case trains a short fixed-seed run (skipped when its folder already holds one, so a rerun only
re-diagnoses), then prints `gankit doctor RUN` and whether the expected condition was named:
- healthy: the dcgan-mnist preset, shortened (no problem expected)
- overfitting: dcgan-mnist on 100 images (data.limit=100), 500 more held out to measure D's gap
- collapse: a tiny generator (2 channels in its last hidden layer, a 2-d latent)
- divergence: D's learning rate 1.0 (the preset's is 4e-4)
- vanishing: the minimax loss
The collapse, divergence and vanishing cases use a D of width 16 and batch 32 to run faster.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

SMALL = ["model.d_width=16", "optim.batch_size=32"]
LOG = ["train.log_every=25", "train.checkpoint_every=100"]
# name -> (expected finding or None, steps, overrides of dcgan-mnist)
CASES = {
    "healthy": (None, 400, LOG),
    "overfitting": ("D overfitting", 600, LOG + ["data.limit=100", "data.held_out=500", "optim.batch_size=50"]),
    "collapse": ("mode collapse", 300, LOG + SMALL + ["model.g_width=2", "model.z_dim=2"]),
    "divergence": ("divergence", 150, LOG + SMALL + ["optim.lr_d=1.0"]),
    "vanishing": ("vanishing G gradient", 300, LOG + SMALL + ["loss=minimax"]),
}


def gankit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/doctor-cases", help="folder of the case runs")
    parser.add_argument("--only", nargs="*", choices=list(CASES), help="these cases only")
    args = parser.parse_args()
    root = Path(args.out)
    summary = []
    for name in args.only or CASES:
        expected, steps, overrides = CASES[name]
        run = root / name
        train = ["train", "dcgan-mnist", "--steps", str(steps), "--seed", "0", "--device", "cpu", "--quiet", *overrides]
        print(f"## {name}\n$ gankit {' '.join(train)} --out {run}")
        if not (run / "metrics.jsonl").exists():
            done = gankit(*train, "--out", str(run))
            last = (done.stderr.strip().splitlines() or [""])[-1]
            print(f"(train exit {done.returncode}{': ' + last if done.returncode else ''})")
        report = run / "doctor.json"
        doctor = gankit("doctor", str(run), "--json", str(report))
        print(f"$ gankit doctor {run}\n{doctor.stdout.rstrip()}{doctor.stderr.rstrip()}\n")
        found = {f["name"]: f["step"] for f in json.loads(report.read_text())["findings"]} if report.exists() else {}
        if expected is None:
            verdict = "as expected: no problem found" if not found else f"FALSE ALARM: {', '.join(found)}"
        else:
            verdict = f"as expected: {expected} from step {found[expected]}" if expected in found else f"MISSED: {expected}"
        summary.append(f"{name:<12} {verdict}" + (f" (also: {', '.join(k for k in found if k != expected)})"
                                                  if expected and len(found) > (expected in found) else ""))
    print("## summary\n" + "\n".join(summary))


if __name__ == "__main__":
    main()
