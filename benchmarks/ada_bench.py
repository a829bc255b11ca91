"""Adaptive augmentation on limited data, at equal CPU time: 10% of the bundled MNIST (500 digits), or
the 100 bundled faces.

    python benchmarks/ada_bench.py --cpu-minutes 8 --work /tmp/ada [--jobs 2] [--settings "stylegan2,stylegan2 + ADA"]
    python benchmarks/ada_bench.py --task faces --cpu-minutes 12 --work /tmp/ada_faces --jobs 2

`--task mnist500` (the default), five runs, each for the same CPU time:
  stylegan2          stylegan2-mnist                       (no augmentation)
  stylegan2 + ADA    stylegan2-mnist remedies.ada=true
  dcgan              dcgan-mnist                           (no augmentation)
  dcgan + ADA        dcgan-mnist remedies.ada=true
  dcgan + DiffAug    dcgan-mnist remedies.augment=translation,cutout
all with data.limit=500 (a fixed random draw of 500 of the 5,000 digits). Scored by the domain
Frechet distance (gankit's MNIST classifier features) of 5,000 samples of each run's sampler against
all 5,000 bundled digits; lower is better. The issue's target: ADA at most 0.6x the FD of the same
net without it.

`--task faces`: the same settings on the 100 LFW face crops (presets stylegan2-faces, which has ADA
on, and dcgan-faces), 32x32 grayscale. There is nothing beyond the 100 to score against, so the
scores are against them: KID and FD of 5,000 samples in the built-in extractor's features (gankit's
MNIST classifier: a fixed embedding, not one trained on faces), and the share of samples memorised
(nearer a training face in pixels than the 1st percentile of the faces' own nearest-neighbour
distances).

ADA's p may go from 0 to 1 within --ada-kimg thousand real images. Equal CPU time is set as steps:
every setting's CPU seconds per step (process time, one thread) are measured first, interleaved in
one process so that the machine's state weighs on all alike; each run then trains for
cpu_minutes * 60 / (seconds per step) steps, so that later load on the machine changes the wall
clock but not what is trained (the wall minutes printed are the machine's, under whatever else ran).
The calibration and the runs are kept in --work: the same command again only scores.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# task -> setting -> (preset, overrides)
TASKS = {
    "mnist500": {
        "stylegan2": ("stylegan2-mnist", ["data.limit=500"]),
        "stylegan2 + ADA": ("stylegan2-mnist", ["data.limit=500", "remedies.ada=true"]),
        "dcgan": ("dcgan-mnist", ["data.limit=500"]),
        "dcgan + ADA": ("dcgan-mnist", ["data.limit=500", "remedies.ada=true"]),
        "dcgan + DiffAugment": ("dcgan-mnist", ["data.limit=500", "remedies.augment=translation,cutout"]),
    },
    "faces": {
        "stylegan2": ("stylegan2-faces", ["remedies.ada=false"]),
        "stylegan2 + ADA": ("stylegan2-faces", ["remedies.ada=true"]),
        "dcgan": ("dcgan-faces", ["remedies.ada=false"]),
        "dcgan + ADA": ("dcgan-faces", ["remedies.ada=true"]),
        "dcgan + DiffAugment": ("dcgan-faces", ["remedies.augment=translation,cutout"]),
    },
}


def overrides(task: str, name: str, ada_kimg: float, seed: int) -> tuple[str, list[str]]:
    preset, extra = TASKS[task][name]
    return preset, [f"remedies.ada_kimg={ada_kimg}", f"train.seed={seed}", "train.device=cpu", "train.log_every=50",
                    *extra]


def seconds_per_step(args, settings: list[str]) -> dict[str, float]:
    """CPU seconds per training step of each setting, measured round-robin in this process."""
    import torch

    from gankit.configure import load_config
    from gankit.train.loop import Trainer

    torch.set_num_threads(1)
    trainers, spent, steps = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in settings:
            preset, ov = overrides(args.task, name, args.ada_kimg, args.seed)
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


def train_and_score(job: tuple[str, str, int, str, list[str], str]) -> dict:
    """Train one setting for its steps (a finished run of that length in its folder is kept, so a
    second call only scores), then score its sampler."""
    task, name, steps, preset, ov, out = job
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
    if task == "faces":
        scores = evaluate_samples(fake, "faces", ["fd", "kid", "memorisation"])
    else:
        scores = evaluate_samples(fake, "mnist", ["fd"])
    last = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if '"loss_d"' in line][-1]
    return {"name": name, "steps": steps, "fd": scores["fd"], "kid": scores.get("kid_mean"),
            "kid_std": scores.get("kid_std"), "memorised": scores.get("memorised"), "wall_s": last["time"], "ada_p": last.get("ada_p"),
            "rt": last.get("rt")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", choices=sorted(TASKS), default="mnist500",
                    help="mnist500: 500 of the bundled digits; faces: the 100 bundled faces")
    ap.add_argument("--cpu-minutes", type=float, default=8.0, help="CPU minutes of training per setting")
    ap.add_argument("--ada-kimg", type=float, default=100.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--calibration-rounds", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=1, help="runs trained at once, one thread each")
    ap.add_argument("--work", default="runs/ada_bench", help="folder for the runs (kept, with their report.html)")
    ap.add_argument("--settings", help="comma-separated settings to run (default all five)")
    args = ap.parse_args()
    known = TASKS[args.task]
    settings = [name.strip() for name in (args.settings or ",".join(known)).split(",") if name.strip()]
    unknown = [name for name in settings if name not in known]
    if unknown or not settings:
        ap.error(f"--settings: unknown {unknown or 'none given'}; choose from {', '.join(known)}")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    # The calibration is kept beside the runs: a second call with the same settings reuses it, and
    # with it the finished runs (their step counts match), and only scores them again.
    plan_file = work / "plan.json"
    key = {"task": args.task, "cpu_minutes": args.cpu_minutes, "ada_kimg": args.ada_kimg, "seed": args.seed, "settings": settings}
    plan = json.loads(plan_file.read_text()) if plan_file.is_file() else {}
    if plan.get("key") == key:
        cost = plan["seconds_per_step"]
    else:
        cost = seconds_per_step(args, settings)
        plan_file.write_text(json.dumps({"key": key, "seconds_per_step": cost}, indent=1))
    print(f"CPU seconds per step (one thread): " + ", ".join(f"{k} {v:.3f}" for k, v in cost.items()))
    jobs = []
    for name in settings:
        preset, ov = overrides(args.task, name, args.ada_kimg, args.seed)
        steps = max(1, round(args.cpu_minutes * 60 / cost[name]))
        jobs.append((args.task, name, steps, preset, ov, str(work / name.replace(" + ", "_").replace(" ", "_"))))
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(train_and_score, jobs))
    (work / "results.json").write_text(json.dumps(rows, indent=1))
    faces = args.task == "faces"
    data = "the 100 faces" if faces else "500 digits (data.limit=500)"
    scored = ("KID (x1000), FD and memorised share of 5,000 samples vs the 100 faces" if faces
              else "domain FD of 5,000 samples vs all 5,000 digits")
    print(f"\n{data}, {args.cpu_minutes:g} CPU minutes each, ADA's p able to go 0 -> 1 in {args.ada_kimg:g}k images; "
          f"{scored}")
    print(f"{'setting':<22}{'steps':>7}{'wall min':>9}" + (f"{'KID':>9}" if faces else "") + f"{'FD':>9}"
          + (f"{'memor.':>8}" if faces else "") + f"{'ADA p':>7}{'r_t':>7}")
    for r in rows:
        p = "-" if r["ada_p"] is None else f"{r['ada_p']:.2f}"
        rt = "-" if r["rt"] is None else f"{r['rt']:.2f}"
        kid = f"{1000 * r['kid']:>9.1f}" if faces else ""  # its std over subsets is in results.json
        memorised = f"{100 * r['memorised']:>7.1f}%" if faces else ""
        print(f"{r['name']:<22}{r['steps']:>7}{r['wall_s'] / 60:>9.1f}{kid}{r['fd']:>9.2f}{memorised}{p:>7}{rt:>7}")
    # FD, not KID, for the ratios: KID's subsets are the 100 faces themselves, so its estimate swings
    # about zero (negative values included) between runs whose FDs agree
    fd = {r["name"]: r["fd"] for r in rows}
    for net in ("stylegan2", "dcgan"):
        for remedy in ("ADA", "DiffAugment"):
            if net in fd and f"{net} + {remedy}" in fd:
                target = " (target at most 0.6)" if remedy == "ADA" and not faces else ""
                print(f"{net}: FD {remedy} / none = {fd[f'{net} + {remedy}'] / fd[net]:.2f}{target}")
    best = min(rows, key=lambda r: r["fd"])
    print(f"best: {best['name']} (FD {best['fd']:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
