"""Fingerprints of fixed-seed training runs, to show that a change trains the same weights.

For each preset: `gankit train PRESET --steps N --seed 0` into a temporary folder, then the SHA-256
of every tensor in checkpoints/last.safetensors (names, dtypes, shapes, bytes, in name order) except
Python's and NumPy's global random states (rng.python, rng.numpy): gankit never seeds or draws from
them, so they differ from process to process. The file's own SHA-256 differs between any two runs
(its metadata holds the wall-clock time trained), so it is printed for reference only.

    python benchmarks/checkpoint_hashes.py            # dcgan-mnist 300 steps; wgangp, cgan, srgan, vaegan 200
"""

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file

RUNS = [("dcgan-mnist", 300), ("wgangp-mnist", 200), ("cgan-mnist", 200), ("srgan", 200), ("vaegan-mnist", 200)]
UNSEEDED = ("rng.python", "rng.numpy")


def tensors_digest(path: Path) -> str:
    tensors = load_file(str(path))
    h = hashlib.sha256()
    for name in sorted(k for k in tensors if k not in UNSEEDED):
        t = tensors[name].contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for preset, steps in RUNS:
            out = Path(tmp) / preset
            subprocess.run([sys.executable, "-m", "gankit", "train", preset, "--steps", str(steps), "--seed", "0",
                            "--device", "cpu", "--quiet", "--out", str(out)], check=True, capture_output=True)
            last = out / "checkpoints" / "last.safetensors"
            file_digest = hashlib.sha256(last.read_bytes()).hexdigest()
            print(f"{preset:<14}{steps:>5} steps  tensors {tensors_digest(last)}  file {file_digest}")


if __name__ == "__main__":
    main()
