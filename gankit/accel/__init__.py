"""Drop-in fast CPU kernels. The nets are built from `Linear`, `Conv2d` and `ConvTranspose2d` here,
which hold the same parameters and state_dict as their torch.nn namesakes and compute the same
function; `use_cpu_kernels` is the one switch that puts them on their faster paths (the trainer calls
it once for the nets it trains, the speed bench once to switch them off). Which path pays depends on
the instruction sets oneDNN and MKL run (`cpu_isa`, `mkl_isa`): the CPU's features, the caps set in
the environment, and for MKL the vendor, because MKL runs its AVX-512 code on Intel CPUs only.
docs/performance.md has the measurements behind each choice.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch
import torch.nn as nn

from .linear import Linear, use_onednn
from .thin_conv import Conv2d, ConvTranspose2d, use_product_path


def cpu_isa() -> str:
    """'avx512' when oneDNN may run AVX-512 kernels on this CPU, else 'avx2' (or older). PyTorch's
    CPU capability says what the CPU has; ONEDNN_MAX_CPU_ISA (DNNL_MAX_CPU_ISA before oneDNN 2.0)
    can cap what oneDNN uses below that."""
    capability = torch.backends.cpu.get_cpu_capability().upper()
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "ALL").upper()
    oneDNN_avx512 = cap == "ALL" or cap.startswith(("AVX512", "AVX10"))
    return "avx512" if capability.startswith("AVX512") and oneDNN_avx512 else "avx2"


def cpuinfo_field(name: str) -> str:
    """The first `name` field of /proc/cpuinfo (Linux), or '' when there is none to read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def cpu_vendor() -> str:
    """The CPU's vendor string (GenuineIntel, AuthenticAMD, ...), or '' when it cannot be read."""
    if vendor := cpuinfo_field("vendor_id"):
        return vendor
    return "GenuineIntel" if "GenuineIntel" in platform.processor() else ""  # Windows names it there


def mkl_isa() -> str:
    """'avx512' when MKL's sgemm may run AVX-512 code on this CPU, else 'avx2' (or older): MKL runs
    it on Intel CPUs with AVX-512 unless MKL_ENABLE_INSTRUCTIONS caps it, and its AVX2 code on other
    vendors' CPUs (AMD EPYC with AVX-512 included)."""
    capability = torch.backends.cpu.get_cpu_capability().upper()
    cap = os.environ.get("MKL_ENABLE_INSTRUCTIONS", "").upper()
    capped = bool(cap) and not cap.startswith("AVX512")
    return "avx512" if capability.startswith("AVX512") and cpu_vendor() == "GenuineIntel" and not capped else "avx2"


# What each path gains (docs/performance.md, "Kernel choices"): the product path beats oneDNN's
# thin convolutions everywhere measured; oneDNN's matmul beats MKL's sgemm on large linear layers
# only where oneDNN runs AVX-512 and MKL does not (AMD EPYC: 1.2x a layer). Where both run one
# width (AVX2 both, or an Intel CPU with AVX-512 both) oneDNN's dearer calls made linear-heavy
# steps slower (vanilla-mnist 9% on AVX2, 27% on an Intel Xeon with AVX-512).
CHOICES = {
    "onednn-wider": {"linear": True, "thin_conv": True},
    "same-width": {"linear": False, "thin_conv": True},
}


def kernel_table(isa: str | None = None, mkl: str | None = None) -> str:
    """The key of CHOICES for oneDNN's instruction set `isa` and MKL's `mkl` (default: this CPU's)."""
    wider = (isa or cpu_isa()) == "avx512" and (mkl or mkl_isa()) != "avx512"
    return "onednn-wider" if wider else "same-width"


def use_cpu_kernels(modules: list[nn.Module], linear: bool = True, thin_conv: bool = True,
                    table: str | None = None) -> dict[str, int]:
    """Switch the drop-in layers of `modules` onto the paths that pay on this CPU (`table`, a key of
    CHOICES, default `kernel_table()`), or off with linear=False and thin_conv=False; returns how
    many layers of each kind run on their fast path."""
    choice = CHOICES[table or kernel_table()]
    counts = {"linear": 0, "thin_conv": 0}
    for module in modules:
        counts["linear"] += use_onednn(module, linear and choice["linear"])
        counts["thin_conv"] += use_product_path(module, thin_conv and choice["thin_conv"])
    return counts


__all__ = ["Linear", "Conv2d", "ConvTranspose2d", "use_cpu_kernels", "cpu_isa", "mkl_isa", "cpu_vendor",
           "cpuinfo_field", "kernel_table", "CHOICES"]
