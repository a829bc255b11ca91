"""Your own data at any size: prepare speed, set-up of a second run, peak memory and training speed
of `gankit train dcgan-mnist --data FOLDER`, on generated folders of PNGs.

For each folder (100,000 PNGs at 64x64 RGB and 20,000 at 128x128 RGB, times --scale):
  - prepare files/s: `gankit prepare FOLDER` (all cores) at the size dcgan-mnist trains (28x28 RGB)
  - set-up of a second run: the prepared set found, checked against the folder and memory-mapped
  - peak RSS and training images/s of a `dcgan-mnist --data FOLDER --steps N` run (N = --steps) in a
    fresh process, with this checkout and, given --before DIR (a checkout of the code before prepared
    sets, e.g. `git worktree add /tmp/before d3e2978`), with that one: it decodes the folder at every
    start and holds the whole set as float32, the in-memory path the ratio is taken against.

    python benchmarks/data_bench.py --scale 1 --before /tmp/before         # the full benchmark
    python benchmarks/data_bench.py --scale 0.05 --steps 60 --before /tmp/before

Images/s is the mean of metrics.jsonl's images_per_s after the first log window (warm-up). Wall-clock
figures are only as steady as the machine: on a shared one, say so beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SETS = [("64px", 100_000, 64), ("128px", 20_000, 128)]

# Runs gankit's CLI in this process and prints its peak RSS (ru_maxrss: KiB on Linux) as the last line.
RSS_RUNNER = ("import resource, sys, gankit; from gankit.cli import main; code = main(sys.argv[1:]); "
              "print('gankit_from', gankit.__file__); "
              "print('peak_rss_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(code)")


def _write_chunk(args) -> None:
    folder, start, stop, size, seed = args
    from PIL import Image

    rng = np.random.default_rng(seed + start)
    for i in range(start, stop):
        # smooth colour fields plus fine noise: compresses and decodes like photographs more than pure noise
        coarse = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).resize((size, size), Image.Resampling.BICUBIC)
        noise = rng.integers(-12, 13, (size, size, 3))
        pixels = np.clip(np.asarray(coarse, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i // 1000:03d}" / f"{i:06d}.png")


def write_folder(folder: Path, n: int, size: int) -> float:
    """n generated PNGs in sub-folders of 1,000 (files directly in the root: no class labels). -> seconds."""
    t0 = time.monotonic()
    for k in range(0, n, 1000):
        (folder / f"{k // 1000:03d}").mkdir(parents=True, exist_ok=True)
    chunks = [(folder, s, min(s + 500, n), size, 0) for s in range(0, n, 500)]
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(_write_chunk, chunks))
    return time.monotonic() - t0


def _env(code_root: Path, cache: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(code_root), "GANKIT_DATA_CACHE": str(cache), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}


def prepare(folder: Path, cache: Path) -> tuple[float, str]:
    """Seconds `gankit prepare` took (as it reports them: listing, decoding, checksum; not Python's start-up)."""
    out = subprocess.run([sys.executable, "-m", "gankit", "prepare", str(folder), "--resolution", "28", "--channels", "3",
                          "--quiet"], env=_env(ROOT, cache), cwd=ROOT, capture_output=True, text=True, check=True)
    said = out.stdout.strip().splitlines()[0]
    return float(re.search(r" in ([\d.]+) s ", said).group(1)), said


def second_setup(folder: Path, cache: Path) -> float:
    """Seconds from asking for the prepared set to holding it memory-mapped (in a fresh process, after imports)."""
    code = ("import sys, time; from pathlib import Path; from gankit.data import prepare_folder; t = time.monotonic(); "
            "p = prepare_folder(Path(sys.argv[1]), 28, 3); assert p.reused; print(time.monotonic() - t)")
    out = subprocess.run([sys.executable, "-c", code, str(folder)], env=_env(ROOT, cache), cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip())


def train_run(code_root: Path, folder: Path, cache: Path, out: Path, steps: int) -> dict:
    """Peak RSS (GB), images/s and wall seconds of one training run; `oom` when it died of memory."""
    args = ["train", "dcgan-mnist", "--data", str(folder), "--steps", str(steps), "--device", "cpu", "--quiet",
            "--out", str(out), "train.log_every=10", "train.sample_every=100000", "train.checkpoint_every=100000"]
    if code_root != ROOT:  # the old code trains grey unless told: give both the same RGB run
        args.append("data.channels=3")
    t0 = time.monotonic()
    # cwd: `python -c` puts the working folder first on sys.path, before PYTHONPATH
    proc = subprocess.run([sys.executable, "-c", RSS_RUNNER, *args], env=_env(code_root, cache), cwd=code_root,
                          capture_output=True, text=True)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {"error": f"exit {proc.returncode}: {tail[0][:200]}", "wall_s": wall}
    lines = proc.stdout.strip().splitlines()
    assert Path(lines[-2].split(" ", 1)[1]).resolve().is_relative_to(code_root.resolve()), lines[-2]  # the code meant
    rss_kib = int(lines[-1].split()[1])
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    speeds = [r["images_per_s"] for r in records if "images_per_s" in r][1:]
    return {"peak_rss_gb": rss_kib * 1024 / 1e9, "images_per_s": float(np.mean(speeds)) if speeds else float("nan"),
            "wall_s": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=float, default=1.0, help="image counts times this (1 = 100,000 and 20,000)")
    p.add_argument("--steps", type=int, default=200, help="training steps of each run")
    p.add_argument("--before", type=Path, help="a checkout of gankit before prepared sets (e.g. commit d3e2978)")
    p.add_argument("--work", type=Path, help="folder for the PNGs and the cache (default: a temporary one, removed)")
    args = p.parse_args()
    if args.scale <= 0 or args.steps < 20:
        p.error("--scale must be positive and --steps at least 20 (two log windows)")
    if args.before is not None and not (args.before / "gankit" / "cli.py").exists():
        p.error(f"--before {args.before}: not a gankit checkout")
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        print(f"scale {args.scale:g}, {args.steps} steps of dcgan-mnist (28x28 RGB, batch 128), "
              f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '1')}, {os.cpu_count()} CPUs")
        rows = []
        for name, full, size in SETS:
            n = max(1, round(full * args.scale))
            folder, cache = work / name, work / f"cache-{name}"
            wrote = write_folder(folder, n, size)
            print(f"{name}: wrote {n:,} PNGs at {size}x{size} RGB in {wrote:.0f} s "
                  f"({sum(f.stat().st_size for f in folder.rglob('*.png')) / 1e6:,.0f} MB)", flush=True)
            seconds, said = prepare(folder, cache)
            print(f"  prepare: {said}", flush=True)
            row = {"set": name, "n": n, "size": size, "prepare_files_per_s": n / seconds, "prepare_s": seconds,
                   "second_setup_s": second_setup(folder, cache)}
            row["after"] = train_run(ROOT, folder, cache, work / f"run-{name}-after", args.steps)
            print(f"  after:  {row['after']}", flush=True)
            if args.before is not None:
                row["before"] = train_run(args.before, folder, cache, work / f"run-{name}-before", args.steps)
                print(f"  before: {row['before']}", flush=True)
            rows.append(row)
    print()
    print("| set | images | prepare files/s | set-up of a 2nd run (s) | peak RSS before (GB) | peak RSS after (GB) "
          "| images/s before | images/s after | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        a, b = r["after"], r.get("before", {})
        def cell(d, key, fmt):
            return ("failed" if "error" in d else "-") if key not in d else format(d[key], fmt)
        ratio = (f"{a['images_per_s'] / b['images_per_s']:.2f}" if "images_per_s" in a and "images_per_s" in b else "-")
        print(f"| {r['set']} {r['size']}x{r['size']} | {r['n']:,} | {r['prepare_files_per_s']:,.0f} | {r['second_setup_s']:.2f} "
              f"| {cell(b, 'peak_rss_gb', '.2f')} | {cell(a, 'peak_rss_gb', '.2f')} | {cell(b, 'images_per_s', ',.0f')} "
              f"| {cell(a, 'images_per_s', ',.0f')} | {ratio} |")


if __name__ == "__main__":
    main()
