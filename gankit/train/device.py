import torch

from ..errors import UserError


def resolve_device(name: str) -> torch.device:
    """auto picks CUDA when present; asking for CUDA without it is a user mistake, not a fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available (use --device cpu or auto)")
    return torch.device(name)
