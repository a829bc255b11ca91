"""`gankit bench speed --write-docs FILE`: the bench's tables into docs/performance.md, stamped with
what they were measured on. The file keeps one section per device and instruction set between its
marker lines, so a run on the AVX2 path (ONEDNN_MAX_CPU_ISA=AVX2) replaces only the AVX2 section of
its own CPU model."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from ..accel import cpu_isa, cpuinfo_field
from ..errors import UserError
from ..io import atomic_write_bytes

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def cpu_model() -> str:
    return cpuinfo_field("model name") or platform.processor() or platform.machine()


def commit() -> str:
    """The source checkout's commit (with -dirty for uncommitted changes), or 'unknown' outside git."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def section_title(device: torch.device) -> str:
    if device.type == "cuda":
        return f"### cuda: {torch.cuda.get_device_name(device)}"
    # The CPU's model is in the title: machines of one kind differ (AMD EPYC, Intel Xeon with AMX), and
    # a run on one must not replace another's figures.
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    return f"### cpu: {cpu_model()}, oneDNN ISA {cpu_isa()}" + (f" (ONEDNN_MAX_CPU_ISA={cap})" if cap else "")


def stamp(device: torch.device) -> str:
    env = {k: os.environ[k] for k in ("ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "OMP_NUM_THREADS") if k in os.environ}
    return (f"Measured {time.strftime('%Y-%m-%d')} on {cpu_model()} ({os.cpu_count()} logical CPUs, "
            f"{torch.get_num_threads()} threads), PyTorch CPU capability {torch.backends.cpu.get_cpu_capability()}, "
            f"torch {torch.__version__}, gankit commit {commit()}"
            + (f", environment {' '.join(f'{k}={v}' for k, v in env.items())}" if env else "")
            + f"; command `gankit {' '.join(sys.argv[1:])}`.")


def write_section(path: Path, device: torch.device, body: str, dry_run: bool = False) -> None:
    """Replace (or add) this device's section between the marker lines of `path`; with `dry_run`,
    only check that it can (a UserError naming the problem otherwise)."""
    path = Path(path)
    if path.exists():
        lines = path.read_text().splitlines()
    elif path.parent.is_dir():
        lines = ["# Performance", "", BEGIN, END]
    else:
        raise UserError(f"--write-docs '{path}': folder '{path.parent}' does not exist")
    marks = [i for i, line in enumerate(lines) if line.strip() in (BEGIN, END)]  # markers alone on their line
    if len(marks) != 2 or lines[marks[0]].strip() != BEGIN:
        raise UserError(f"--write-docs '{path}': expected one '{BEGIN}' line followed by one '{END}' line")
    if dry_run:
        if not os.access(path if path.exists() else path.parent, os.W_OK):
            raise UserError(f"--write-docs '{path}': cannot be written")
        return
    begin, end = marks
    sections: dict[str, list[str]] = {}
    title = None
    for line in lines[begin + 1:end]:
        if line.startswith("### "):
            title = line
            sections[title] = []
        elif title is not None:
            sections[title].append(line)
    sections[section_title(device)] = ["", stamp(device), "", "```", *body.splitlines(), "```", ""]
    block = [line for t in sorted(sections) for line in (t, *sections[t])]
    atomic_write_bytes(path, ("\n".join(lines[:begin + 1] + block + lines[end:]) + "\n").encode())
