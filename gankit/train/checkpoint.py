"""Checkpoints: one safetensors file holding every tensor, with the counters, config and optimiser
hyper-parameters as JSON in its metadata. Loading never unpickles, so it cannot run code.

Writes are atomic: a temporary file in the same folder, fsync, rename, fsync of the folder. A
reader sees the old file or the new one, never half of one. Each file carries a SHA-256 of its
tensors (names, dtypes, shapes, bytes) in its metadata, checked on load; a run folder keeps the
previous good checkpoint (`prev.safetensors`) beside `last.safetensors`, and `load_latest` falls
back to it (then to the newest periodic one) when the last is missing, truncated or corrupt.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ..errors import UserError
from ..io import atomic_write_bytes

META_KEY = "gankit"
CHECKSUM_KEY = "sha256"
# The layout of the tensors in a checkpoint. Files from before the key existed are format 1.
# 2: the DCGAN critic's head reads its features in height, width, channel order (was channel, height,
#    width), and maxout layers' linear maps are laid out piece-major (was unit-major); a format-1 D
#    loads without error into the new nets but computes a different function, so it is refused.
FORMAT_KEY, FORMAT = "format", 2
LAST, PREV = "last.safetensors", "prev.safetensors"


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """A digest of every tensor's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def checkpoint_bytes(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> bytes:
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    return st_save(tensors, metadata={META_KEY: json.dumps(meta), CHECKSUM_KEY: tensors_sha256(tensors),
                                      FORMAT_KEY: str(FORMAT)})


def save_checkpoint(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any], keep_previous: bool = False) -> None:
    """Atomic write; with `keep_previous` the file it replaces survives as `prev.safetensors`."""
    path = Path(path)
    data = checkpoint_bytes(tensors, meta)
    if keep_previous and path.exists():
        # Between these two renames only prev exists; `load_latest` falls back to it.
        os.replace(path, path.with_name(PREV))
    atomic_write_bytes(path, data)


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata of one checkpoint; a UserError if it is unreadable, truncated or corrupt."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"checkpoint '{path}': cannot read ({exc.strerror})") from None
    try:
        tensors = st_load(data)
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + header_len])
        meta = json.loads(header["__metadata__"][META_KEY])
        checksum = header["__metadata__"].get(CHECKSUM_KEY)
        file_format = int(header["__metadata__"].get(FORMAT_KEY, "1"))
    except (SafetensorError, ValueError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise UserError(f"checkpoint '{path}': not a gankit checkpoint or corrupt ({exc})") from None
    if file_format > FORMAT:
        raise UserError(f"checkpoint '{path}': written in checkpoint format {file_format} by a newer gankit, this "
                        f"gankit reads format {FORMAT}; upgrade gankit")
    if file_format < FORMAT:
        raise UserError(f"checkpoint '{path}': written in checkpoint format {file_format}, this gankit reads format "
                        f"{FORMAT} (the discriminator's weights are laid out differently); train the run again")
    if checksum is not None and checksum != tensors_sha256(tensors):
        raise UserError(f"checkpoint '{path}': corrupt (SHA-256 of its tensors does not match the one stored in it)")
    return tensors, meta


def checkpoint_candidates(folder: Path) -> list[Path]:
    """last, then prev and the periodic ones, newest written first: the order `load_latest` tries."""
    others = [p for p in (folder / PREV, *folder.glob("step_*.safetensors")) if p.is_file()]
    others.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
    return [folder / LAST] * (folder / LAST).is_file() + others


def load_latest(folder: Path) -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]]:
    """The newest good checkpoint in a run's checkpoints folder, warning about each bad one skipped."""
    folder = Path(folder)
    candidates = checkpoint_candidates(folder)
    if not candidates:
        raise UserError(f"no checkpoint in '{folder}'")
    problems = []
    if not (folder / LAST).is_file():
        problems.append(f"'{folder / LAST}' is missing")
    for path in candidates:
        try:
            tensors, meta = load_checkpoint(path)
        except UserError as exc:
            problems.append(str(exc))
            continue
        if problems:
            print(f"gankit: warning: {'; '.join(problems)}; using '{path}' (step {meta.get('step')})", file=sys.stderr)
        return path, tensors, meta
    raise UserError(f"every checkpoint in '{folder}' is unreadable: {'; '.join(problems)}")


def pack_state(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in state.items()}


def unpack_state(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    cut = len(prefix) + 1
    return {k[cut:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def pack_optimizer(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """Optimiser state as flat tensors plus JSON-able parameter groups."""
    sd = opt.state_dict()
    tensors = {}
    for pid, entry in sd["state"].items():
        for name, value in entry.items():
            tensors[f"{prefix}.{pid}.{name}"] = torch.as_tensor(value)
    return tensors, sd["param_groups"]


def unpack_optimizer(prefix: str, tensors: dict[str, torch.Tensor], groups: list[dict]) -> dict:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            pid, name = key[len(prefix) + 1 :].split(".", 1)
            state.setdefault(int(pid), {})[name] = value
    return {"state": state, "param_groups": groups}


def load_optimizer(opt: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor], groups: list[dict]) -> None:
    """Restore an optimiser; per-parameter state takes its parameter's memory layout, because fused
    kernels walk state and parameter memory in step (a contiguous moment for a channels-last
    weight would be applied to the wrong elements)."""
    opt.load_state_dict(unpack_optimizer(prefix, tensors, groups))
    for group in opt.param_groups:
        for p in group["params"]:
            for key, value in opt.state.get(p, {}).items():
                if torch.is_tensor(value) and value.shape == p.shape and value.stride() != p.stride():
                    opt.state[p][key] = torch.empty_like(p, dtype=value.dtype).copy_(value)
