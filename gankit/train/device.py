from __future__ import annotations

import torch

from ..errors import UserError


def resolve_device(name: str) -> torch.device:
    """auto picks CUDA when present; asking for CUDA without it is a user mistake, not a fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available (use --device cpu or auto)")
    return torch.device(name)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype the training step's forward passes autocast to; None = plain float32. `auto` picks
    bfloat16 only on a GPU that runs it natively: CPUs without native bf16 (AVX2) run it many times
    slower (docs/performance.md), so auto keeps them in fp32. bf16 keeps fp32's exponent range: no loss scaling needed."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
