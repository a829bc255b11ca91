"""Shared helpers for the fault tests: a tiny MLP config on the ring toy set (trains in well under a
second) and a way to run gankit in a child process that we can SIGKILL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

TINY = ["data.source=ring", "model.arch=mlp", "model.z_dim=4", "model.g_width=16", "model.d_width=16",
        "model.maxout_pieces=2", "model.dropout=0.2", "optim.batch_size=32", "train.steps=40",
        "train.log_every=7", "train.sample_every=1000", "train.checkpoint_every=10", "train.grid_size=16",
        "train.device=cpu"]


def tiny_cfg(*extra: str):
    from gankit.configure import load_config

    return load_config("vanilla-mnist", TINY + list(extra))


def run_python(code: str, *args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout, cwd=ROOT)


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=cwd or ROOT)


def g_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    from gankit.train.checkpoint import load_checkpoint

    tensors, _ = load_checkpoint(Path(run_dir) / "checkpoints" / "last.safetensors")
    return {k: v for k, v in tensors.items() if k.startswith("G.")}


def metrics(run_dir: Path, drop=("time", "images_per_s")) -> list[dict]:
    lines = (Path(run_dir) / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in drop} for line in lines]
