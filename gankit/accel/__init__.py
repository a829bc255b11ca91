"""Drop-in fast CPU kernels. The nets are built from `Linear`, `Conv2d` and `ConvTranspose2d` here,
which hold the same parameters and state_dict as their torch.nn namesakes and compute the same
function; `use_cpu_kernels` is the one switch that puts them on their faster paths (the trainer calls
it once for the nets it trains, the speed bench once to switch them off). Which path pays depends on
the instruction set oneDNN runs, so the choice is made from the CPU's features (`cpu_isa`), never
from its vendor; docs/performance.md has the measurements behind each choice.
"""

from __future__ import annotations

import os

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


# What each path gains by the instruction set oneDNN runs (docs/performance.md, "Kernel choices"):
# the product path beats oneDNN's thin convolutions on both; oneDNN's matmul beats MKL's sgemm on
# large linear layers only where oneDNN has AVX-512 to itself (on AVX2 both run the same width, and
# oneDNN's dearer calls made linear-heavy steps slower).
CHOICES = {
    "avx512": {"linear": True, "thin_conv": True},
    "avx2": {"linear": False, "thin_conv": True},
}


def use_cpu_kernels(modules: list[nn.Module], linear: bool = True, thin_conv: bool = True,
                    isa: str | None = None) -> dict[str, int]:
    """Switch the drop-in layers of `modules` onto the paths that pay on this CPU (`isa`, default
    `cpu_isa()`), or off with linear=False and thin_conv=False; returns how many layers of each kind
    run on their fast path."""
    choice = CHOICES[isa or cpu_isa()]
    counts = {"linear": 0, "thin_conv": 0}
    for module in modules:
        counts["linear"] += use_onednn(module, linear and choice["linear"])
        counts["thin_conv"] += use_product_path(module, thin_conv and choice["thin_conv"])
    return counts


__all__ = ["Linear", "Conv2d", "ConvTranspose2d", "use_cpu_kernels", "cpu_isa", "CHOICES"]
