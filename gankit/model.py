"""`gankit.load`: a trained generator from a run directory or checkpoint, ready to sample."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from .configure import from_dict
from .data import Dataset
from .errors import UserError
from .memory import require_memory
from .recipes import build_recipe
from .report.grid import to_uint8
from .train.checkpoint import load_checkpoint, load_latest, unpack_state
from .train.device import resolve_device


def resolve_checkpoint(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / "last.safetensors"
    if not path.is_file():
        raise UserError(f"no checkpoint at '{path}' (give a run directory or a .safetensors checkpoint)")
    return path


class Model:
    """A trained recipe in evaluation mode. `sample` returns arrays in the contract's format."""

    def __init__(self, recipe, meta: dict, device: torch.device):
        self.recipe, self.meta, self.device = recipe, meta, device
        self.config = recipe.cfg
        self.num_classes: int = meta["num_classes"]
        self.sample_shape = tuple(meta["sample_shape"])
        for module in recipe.modules().values():
            module.eval()

    @property
    def is_images(self) -> bool:
        return len(self.sample_shape) == 3

    def require_latents(self) -> None:
        """A UserError for a model whose G does not draw from noise: a loaded SRGAN has no training
        pool to cut LR patches from, and would upscale blank images."""
        if not getattr(self.recipe, "draws_from_noise", True):
            raise UserError(f"this is a '{self.config.recipe}' run: its G upscales images and draws nothing from noise; "
                            f"use 'gankit upscale RUN IN.png OUT.png' (and 'python -m gankit.sr.evaluate RUN OUT_DIR' for PSNR/SSIM)")

    @torch.no_grad()
    def generate(self, n: int, seed: int = 0, label: int | None = None, batch: int = 500) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n raw samples (tensor on the CPU) and their labels (None when unconditional)."""
        self.require_latents()
        if n < 1:
            raise UserError(f"-n must be at least 1, got {n}")
        require_memory(4 * n * math.prod(self.sample_shape),  # the float32 samples, held until all are drawn
                       f"-n {n:,}: {n:,} samples of shape {self.sample_shape}")
        if label is not None and not self.conditional:
            raise UserError(f"--label {label}: this model is not conditional")
        if label is not None and not 0 <= label < self.num_classes:
            raise UserError(f"--label {label}: this model was trained on classes 0..{self.num_classes - 1}")
        gen = torch.Generator(self.device).manual_seed(seed)
        out, labels = [], []
        for start in range(0, n, batch):
            m = min(batch, n - start)
            z = self.recipe.sample_z(m, gen)
            y = self.recipe.sample_labels(m, gen)
            if y is not None and label is not None:
                y = torch.full_like(y, label)
            out.append(self.recipe.sample(z, y).float().cpu())  # G_ema when trained with one
            if y is not None:
                labels.append(y.cpu())
        return torch.cat(out), (torch.cat(labels) if labels else None)

    @property
    def conditional(self) -> bool:
        return bool(getattr(self.recipe, "conditional", False))

    def sample(self, n: int, seed: int = 0, label: int | None = None) -> dict[str, np.ndarray]:
        """{'images': uint8 (N, H, W, C)} or {'points': float32 (N, D)}, plus 'labels' if conditional."""
        x, y = self.generate(n, seed, label)
        out = {"images": to_uint8(x)} if self.is_images else {"points": x.numpy().astype(np.float32)}
        if y is not None:
            out["labels"] = y.numpy().astype(np.int64)
        return out


def load(path: str | Path, device: str = "cpu") -> Model:
    """Load a run directory or a checkpoint file. Never executes code from the file."""
    if Path(path).is_dir() and (Path(path) / "checkpoints").is_dir():
        ckpt, tensors, meta = load_latest(Path(path) / "checkpoints")  # prev if last is corrupt
    else:
        ckpt = resolve_checkpoint(path)
        tensors, meta = load_checkpoint(ckpt)
    cfg = from_dict(meta["config"], source=str(ckpt))
    dev = resolve_device(device)
    shape = tuple(meta["sample_shape"])
    placeholder = Dataset(pixels=torch.zeros(1, *shape), labels=None, num_classes=meta["num_classes"], name=cfg.data.source,
                          resolution=shape[-1] if len(shape) == 3 else 0, channels=shape[0] if len(shape) == 3 else 0)
    recipe = build_recipe(cfg, placeholder)
    for name, module in recipe.modules().items():
        module.load_state_dict(unpack_state(name, tensors))
        module.to(dev)
    return Model(recipe, meta, dev)
