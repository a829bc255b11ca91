"""Adaptive augmentation on limited data: 10% of the bundled MNIST (500 digits), at equal CPU time.

    python benchmarks/ada_bench.py --cpu-minutes 8 --work /tmp/ada [--jobs 2] [--settings "stylegan2,stylegan2 + ADA"]

Five runs, each for the same CPU time:
  stylegan2          stylegan2-mnist                       (no augmentation)
  stylegan2 + ADA    stylegan2-mnist remedies.ada=true
  dcgan              dcgan-mnist                           (no augmentation)
  dcgan + ADA        dcgan-mnist remedies.ada=true
  dcgan + DiffAug    dcgan-mnist remedies.augment=translation,cutout

all with data.limit=500 (a fixed random draw of 500 of the 5,000 digits) and ADA's p allowed to go
from 0 to 1 within --ada-kimg thousand real images. Equal CPU time is set as steps: every setting's
CPU seconds per step (process time, one thread) are measured first, the five interleaved in one
process so that the machine's state weighs on all alike; each run then trains for
cpu_minutes * 60 / (seconds per step) steps, so that later load on the machine changes the wall
clock but not what is trained (the wall minutes printed are the machine's, under whatever else ran).
The calibration and the runs are kept in --work: the same command again only scores. Scored by the domain Frechet distance (gankit's MNIST classifier
features) of 5,000 samples of each run's sampler against all 5,000 bundled digits; lower is better.
The issue's target: ADA at most 0.6x the FD of the same net without it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SETTINGS = {
    "stylegan2": ("stylegan2-mnist", []),
    "stylegan2 + ADA": ("stylegan2-mnist", ["remedies.ada=true"]),
    "dcgan": ("dcgan-mnist", []),
    "dcgan + ADA": ("dcgan-mnist", ["remedies.ada=true"]),
    "dcgan + DiffAugment": ("dcgan-mnist", ["remedies.augment=translation,cutout"]),
}


def overrides(name: str, ada_kimg: float, seed: int) -> tuple[str, list[str]]:
    preset, extra = SETTINGS[name]
    return preset, ["data.limit=500", f"remedies.ada_kimg={ada_kimg}", f"train.seed={seed}", "train.device=cpu",
                    "train.log_every=50", *extra]


def seconds_per_step(args, settings: list[str]) -> dict[str, float]:
    """CPU seconds per training step of each setting, measured round-robin in this process."""
    import torch

    from gankit.configure import load_config
    from gankit.train.loop import Trainer

    torch.set_num_threads(1)
    trainers, spent, steps = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in settings:
            preset, ov = overrides(name, args.ada_kimg, args.seed)
            trainers[name] = Trainer(load_config(preset, ov), Path(tmp) / name.replace(" ", ""), progress=False)
            for _ in range(3):  # warm-up
                trainers[name].train_step()
            spent[name], steps[name] = 0.0, 0
        for _ in range(args.calibration_rounds):
            for name, trainer in trainers.items():
                t0 = time.process_time()
                for _ in range(16):  # a whole lazy-R1 cycle
                    trainer.train_step()
                spent[name] += time.process_time() - t0
                steps[name] += 16
    return {name: spent[name] / steps[name] for name in settings}


def train_and_score(job: tuple[str, int, str, list[str], str]) -> dict:
    """Train one setting for its steps (a finished run of that length in its folder is kept, so a
    second call only scores), then score its sampler."""
    name, steps, preset, ov, out = job
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    import gankit
    from gankit.configure import load_config
    from gankit.metrics.evaluate import evaluate_samples

    torch.set_num_threads(1)
    run_dir = Path(out)
    done = (run_dir / "metrics.jsonl").is_file() and gankit.load(run_dir).meta["step"] == steps
    if not done:
        cfg = load_config(preset, [*ov, f"train.steps={steps}", "train.minutes=0", f"train.sample_every={steps}",
                                   f"train.checkpoint_every={steps}"])
        gankit.train(cfg, run_dir, progress=False)
    fake, _ = gankit.load(run_dir).generate(5000, seed=0)
    fd = evaluate_samples(fake, "mnist", ["fd"])["fd"]
    last = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if '"loss_d"' in line][-1]
    return {"name": name, "steps": steps, "fd": fd, "wall_s": last["time"], "ada_p": last.get("ada_p"), "rt": last.get("rt")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpu-minutes", type=float, default=8.0, help="CPU minutes of training per setting")
    ap.add_argument("--ada-kimg", type=float, default=100.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calibration-rounds", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=1, help="runs trained at once, one thread each")
    ap.add_argument("--work", default="runs/ada_bench", help="folder for the runs (kept, with their report.html)")
    ap.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated settings to run (default all five)")
    args = ap.parse_args()
    settings = [name.strip() for name in args.settings.split(",") if name.strip()]
    unknown = [name for name in settings if name not in SETTINGS]
    if unknown or not settings:
        ap.error(f"--settings: unknown {unknown or 'none given'}; choose from {', '.join(SETTINGS)}")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    # The calibration is kept beside the runs: a second call with the same settings reuses it, and
    # with it the finished runs (their step counts match), and only scores them again.
    plan_file = work / "plan.json"
    key = {"cpu_minutes": args.cpu_minutes, "ada_kimg": args.ada_kimg, "seed": args.seed, "settings": settings}
    plan = json.loads(plan_file.read_text()) if plan_file.is_file() else {}
    if plan.get("key") == key:
        cost = plan["seconds_per_step"]
    else:
        cost = seconds_per_step(args, settings)
        plan_file.write_text(json.dumps({"key": key, "seconds_per_step": cost}, indent=1))
    print(f"CPU seconds per step (one thread): " + ", ".join(f"{k} {v:.3f}" for k, v in cost.items()))
    jobs = []
    for name in settings:
        preset, ov = overrides(name, args.ada_kimg, args.seed)
        steps = max(1, round(args.cpu_minutes * 60 / cost[name]))
        jobs.append((name, steps, preset, ov, str(work / name.replace(" + ", "_").replace(" ", "_"))))
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(train_and_score, jobs))
    (work / "results.json").write_text(json.dumps(rows, indent=1))
    print(f"\n500 digits (data.limit=500), {args.cpu_minutes:g} CPU minutes each, ADA's p able to go 0 -> 1 in "
          f"{args.ada_kimg:g}k images; domain FD of 5,000 samples vs all 5,000 digits")
    print(f"{'setting':<22}{'steps':>7}{'wall min':>9}{'FD':>9}{'ADA p':>7}{'r_t':>7}")
    for r in rows:
        p = "-" if r["ada_p"] is None else f"{r['ada_p']:.2f}"
        rt = "-" if r["rt"] is None else f"{r['rt']:.2f}"
        print(f"{r['name']:<22}{r['steps']:>7}{r['wall_s'] / 60:>9.1f}{r['fd']:>9.2f}{p:>7}{rt:>7}")
    fd = {r["name"]: r["fd"] for r in rows}
    for net in ("stylegan2", "dcgan"):
        if net in fd and net + " + ADA" in fd:
            print(f"{net}: ADA / none = {fd[net + ' + ADA'] / fd[net]:.2f} (target at most 0.6)")
    if "dcgan" in fd and "dcgan + DiffAugment" in fd:
        print(f"dcgan: DiffAugment / none = {fd['dcgan + DiffAugment'] / fd['dcgan']:.2f}")
    best = min(rows, key=lambda r: r["fd"])
    print(f"best: {best['name']} (FD {best['fd']:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
