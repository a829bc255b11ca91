"""The domain feature extractor for MNIST-like data: a small CNN classifier trained on the bundled
MNIST digits, deterministic and cached on disk under a content hash (of its training data, its
architecture and its recipe), so that every user computes the same numbers with the same weights.

Its penultimate layer (128 units) gives features; its softmax gives class probabilities.
The last HELD_OUT digits of a fixed permutation are never trained on: they are the 'real held-out
digits' that evaluations compare against.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save
from tqdm import tqdm

from ..config import DataConfig
from ..data import load_dataset
from ..io import atomic_write_bytes, cache_dir

HELD_OUT = 1000
RECIPE = {"version": 1, "epochs": 4, "batch": 50, "lr": 2e-3, "seed": 0, "widths": (16, 32, 128)}


class DigitNet(nn.Module):
    def __init__(self, widths=RECIPE["widths"]):
        super().__init__()
        a, b, f = widths
        self.conv1 = nn.Conv2d(1, a, 3, padding=1)
        self.conv2 = nn.Conv2d(a, b, 3, padding=1)
        self.fc = nn.Linear(b * 7 * 7, f)
        self.out = nn.Linear(f, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return F.relu(self.fc(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(x)
        return f, self.out(f).softmax(1)


@functools.lru_cache(maxsize=1)  # reading the bundled CSV takes seconds; callers must not modify
def mnist_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train x, train y, held-out x, held-out y) from the bundled MNIST, images in [-1, 1]."""
    data = load_dataset(DataConfig(source="mnist"))
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    tr, ho = perm[:-HELD_OUT], perm[-HELD_OUT:]
    x = data.floats()
    return x[tr], data.labels[tr], x[ho], data.labels[ho]


def _content_hash(x: torch.Tensor, y: torch.Tensor) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x.numpy()).tobytes())
    h.update(np.ascontiguousarray(y.numpy()).tobytes())
    h.update(repr(sorted(RECIPE.items())).encode())
    return h.hexdigest()[:16]


def train_classifier(x: torch.Tensor, y: torch.Tensor, progress: bool = True) -> DigitNet:
    torch.manual_seed(RECIPE["seed"])
    net = DigitNet()
    opt = torch.optim.Adam(net.parameters(), lr=RECIPE["lr"])
    gen = torch.Generator().manual_seed(RECIPE["seed"])
    b = RECIPE["batch"]
    steps = RECIPE["epochs"] * (len(x) // b)
    bar = tqdm(total=steps, desc="training the MNIST feature classifier (once, then cached)", disable=not progress)
    for _ in range(RECIPE["epochs"]):
        perm = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x) - b + 1, b):
            idx = perm[start:start + b]
            # Small random shifts make the classifier robust to imperfect generated digits.
            xb = torch.roll(x[idx], shifts=tuple(torch.randint(-2, 3, (2,), generator=gen).tolist()), dims=(2, 3))
            loss = F.cross_entropy(net.out(net.features(xb)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            bar.update(1)
    bar.close()
    return net.eval()


_LOADED: dict[str, DigitNet] = {}


def load_classifier(progress: bool | None = None) -> DigitNet:
    """The cached classifier, trained on first use."""
    x, y, _, _ = mnist_split()
    key = _content_hash(x, y)
    if key in _LOADED:
        return _LOADED[key]
    path = cache_dir() / f"mnist-classifier-{key}.safetensors"
    net = DigitNet()
    if path.exists():
        net.load_state_dict(load_file(str(path)))
    else:
        import sys
        net = train_classifier(x, y, progress=sys.stderr.isatty() if progress is None else progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, save({k: v.contiguous() for k, v in net.state_dict().items()}))
    _LOADED[key] = net.eval()
    return _LOADED[key]


class DomainExtractor:
    """Features and class probabilities for (N, 1, S, S) images in [-1, 1]: 28x28 as they are, other
    sizes (a StyleGAN2 run's 32x32) resized to 28x28 first, bilinear with antialiasing, the same for
    samples and reference, which `reference` loads at the samples' size."""

    name = "mnist-classifier"

    def __init__(self, net: DigitNet | None = None):
        self.net = net or load_classifier()

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, batch: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[2] != x.shape[3]:
            raise ValueError(f"the MNIST classifier takes (N, 1, S, S) images, got {tuple(x.shape)}")
        feats, probs = zip(*(self.net(self._at_28(x[i:i + batch].float())) for i in range(0, len(x), batch)))
        return torch.cat(feats), torch.cat(probs)

    @staticmethod
    def _at_28(x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] == 28:
            return x
        return F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False, antialias=True)
