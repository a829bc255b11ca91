"""Per-layer A/B of gankit's CPU kernels (gankit.accel) against PyTorch's own: forward and backward
of one layer at the shapes the bundled presets use, the fast path on and off, interleaved, so that
docs/performance.md shows on each machine what `accel.CHOICES` decides."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn as nn

from ..accel import CHOICES, Conv2d, ConvTranspose2d, Linear, cpu_isa, kernel_table, mkl_isa
from ..accel.linear import MIN_FEATURES
from ..accel.thin_conv import use_product_path


@dataclass
class KernelRow:
    layer: str
    path: str  # the path's key in a table of accel.CHOICES (linear, thin_conv)
    eligible: bool  # whether use_cpu_kernels puts this shape on the fast path where the table allows
    speedup: float  # PyTorch's time over the fast path's, median of interleaved pairs
    spread: tuple[float, float]


def _layers() -> list[tuple[str, str, nn.Module, tuple[int, ...], str]]:
    """(name, path key in CHOICES' tables, layer, input shape, attribute that switches the fast path)."""
    last = torch.channels_last
    return [
        ("linear 128x100->512", "linear", Linear(100, 512), (128, 100), "onednn"),
        ("linear 128x256->1280", "linear", Linear(256, 1280), (128, 256), "onednn"),
        ("linear 128x784->1280", "linear", Linear(784, 1280), (128, 784), "onednn"),
        ("linear 128x1280->784", "linear", Linear(1280, 784), (128, 1280), "onednn"),
        ("conv_t 64->1 4x4/2 at 14x14 (G's last)", "thin_conv",
         ConvTranspose2d(64, 1, 4, 2, 1).to(memory_format=last), (128, 64, 14, 14), "product_path"),
        ("conv_t 64->3 4x4/2 at 16x16", "thin_conv",
         ConvTranspose2d(64, 3, 4, 2, 1).to(memory_format=last), (64, 64, 16, 16), "product_path"),
        ("conv 1->64 4x4/2 at 28x28 (D's first)", "thin_conv",
         Conv2d(1, 64, 4, 2, 1).to(memory_format=last), (128, 1, 28, 28), "product_path"),
    ]


def _median_seconds(step, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def kernel_rows(pairs: int = 7, reps: int = 10) -> list[KernelRow]:
    with torch.random.fork_rng():  # the layers' random weights leave the caller's random stream as it was
        torch.manual_seed(0)
        return _kernel_rows(pairs, reps)


def _kernel_rows(pairs: int, reps: int) -> list[KernelRow]:
    rows = []
    for name, path, layer, shape, switch in _layers():
        fmt = torch.channels_last if len(shape) == 4 else torch.contiguous_format
        x = torch.randn(*shape).contiguous(memory_format=fmt).requires_grad_(True)

        def step():
            layer(x).sum().backward()

        ratios = []
        for on in (False, True):  # warm-up of both paths
            setattr(layer, switch, on)
            _median_seconds(step, 3)
        for _ in range(pairs):
            setattr(layer, switch, False)
            plain = _median_seconds(step, reps)
            setattr(layer, switch, True)
            ratios.append(plain / _median_seconds(step, reps))
        eligible = (min(layer.in_features, layer.out_features) >= MIN_FEATURES if isinstance(layer, Linear)
                    else use_product_path(layer) == 1)
        rows.append(KernelRow(name, path, eligible, statistics.median(ratios), (min(ratios), max(ratios))))
    return rows


def format_kernels(rows: list[KernelRow], table: str | None = None) -> str:
    table = table or kernel_table()
    lines = [f"kernel choices with oneDNN ISA {cpu_isa()}, MKL ISA {mkl_isa()} (table {table}): forward + backward "
             "of one layer, PyTorch's time over the fast path's",
             f"{'layer':<42}{'speed-up':>9}{'range':>12}  {'path':<16}{'used':>5}"]
    for r in rows:
        used = "yes" if CHOICES[table][r.path] and r.eligible else "no"
        lines.append(f"{r.layer:<42}{r.speedup:>9.2f}{r.spread[0]:>6.2f}-{r.spread[1]:.2f}  {r.path:<16}{used:>5}")
    return "\n".join(lines)
