"""Inception-v3 as used by pytorch-fid (the TensorFlow FID graph, 'pt_inception-2015-12-05'),
written out here because torchvision is not a dependency. Given that weights file, the 2048-d
pool features equal pytorch-fid's: images are resized to 299x299 (bilinear, align_corners=False)
and scaled to [-1, 1]; the FID-specific blocks average-pool without counting the padding, and the
last block max-pools its pool branch (as the TF graph does).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import UserError


class Conv(nn.Module):
    """Conv (no bias) + batch norm (eps 1e-3) + ReLU: torchvision's BasicConv2d, same key names."""

    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):  # Mixed_5b/c/d
    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = Conv(cin, 64, 1)
        self.branch5x5_1 = Conv(cin, 48, 1)
        self.branch5x5_2 = Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = Conv(cin, 64, 1)
        self.branch3x3dbl_2 = Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = Conv(96, 96, 3, padding=1)
        self.branch_pool = Conv(cin, pool_features, 1)

    def forward(self, x):
        return torch.cat([
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_avg_pool(x)),
        ], 1)


class BlockB(nn.Module):  # Mixed_6a
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = Conv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = Conv(cin, 64, 1)
        self.branch3x3dbl_2 = Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = Conv(96, 96, 3, stride=2)

    def forward(self, x):
        return torch.cat([
            self.branch3x3(x),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            F.max_pool2d(x, 3, stride=2),
        ], 1)


class BlockC(nn.Module):  # Mixed_6b..e
    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = Conv(cin, 192, 1)
        self.branch7x7_1 = Conv(cin, c7, 1)
        self.branch7x7_2 = Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = Conv(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = Conv(cin, c7, 1)
        self.branch7x7dbl_2 = Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = Conv(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = Conv(cin, 192, 1)

    def forward(self, x):
        dbl = x
        for i in range(1, 6):
            dbl = getattr(self, f"branch7x7dbl_{i}")(dbl)
        return torch.cat([
            self.branch1x1(x),
            self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
            dbl,
            self.branch_pool(_avg_pool(x)),
        ], 1)


class BlockD(nn.Module):  # Mixed_7a
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = Conv(cin, 192, 1)
        self.branch3x3_2 = Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = Conv(cin, 192, 1)
        self.branch7x7x3_2 = Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = Conv(192, 192, 3, stride=2)

    def forward(self, x):
        b = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):  # Mixed_7b (average pool), Mixed_7c (max pool)
    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = Conv(cin, 320, 1)
        self.branch3x3_1 = Conv(cin, 384, 1)
        self.branch3x3_2a = Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = Conv(cin, 448, 1)
        self.branch3x3dbl_2 = Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = Conv(cin, 192, 1)

    def forward(self, x):
        a = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pool = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(a), self.branch3x3_2b(a),
            self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d),
            self.branch_pool(pool),
        ], 1)


class FIDInception(nn.Module):
    """Module names match the weights file's keys (Conv2d_1a_3x3.conv.weight, ..., fc.bias)."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = Conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = Conv(80, 192, 3)
        self.Mixed_5b = BlockA(192, 32)
        self.Mixed_5c = BlockA(256, 64)
        self.Mixed_5d = BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b = BlockC(768, 128)
        self.Mixed_6c = BlockC(768, 160)
        self.Mixed_6d = BlockC(768, 160)
        self.Mixed_6e = BlockC(768, 192)
        self.Mixed_7a = BlockD(768)
        self.Mixed_7b = BlockE(1280, max_pool=False)
        self.Mixed_7c = BlockE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)  # the TF graph's 1,008 classes; kept so the file loads whole

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (N, 3, H, W) in [-1, 1] -> (2048-d pool features, softmax over the 1,008 logits). The
        logits leave out fc's bias, as the original Inception Score's graph (pool_3 times the softmax
        weights) and torch-fidelity's `logits_unbiased` do."""
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        feats = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return feats, F.linear(feats, self.fc.weight).softmax(1)


def load_inception(path: str | Path) -> FIDInception:
    """Load the pt_inception-2015-12-05 weights without executing code (weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--inception-weights '{path}' does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, or one that would need code to load
        raise UserError(f"--inception-weights '{path}': cannot read a state dict ({type(exc).__name__})") from None
    net = FIDInception()
    expected = {k: v.shape for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    got = {k: v.shape for k, v in state.items() if not k.endswith("num_batches_tracked")} if isinstance(state, dict) else {}
    if expected != got:
        missing = sorted(set(expected) - set(got))[:3]
        raise UserError(f"--inception-weights '{path}': not the FID Inception weights (missing or misshapen keys, e.g. {missing})")
    net.load_state_dict(state, strict=False)
    return net.eval()


class ImageExtractor:
    """Wraps a network taking (N, 3, H, W) in [-1, 1]; grayscale is repeated to 3 channels.
    Networks returning one tensor give features only (no class probabilities)."""

    def __init__(self, net, name: str):
        self.net, self.name = net, name

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, batch: int = 100) -> tuple[torch.Tensor, torch.Tensor | None]:
        if x.dim() != 4:
            raise ValueError(f"{self.name} takes images (N, C, H, W), got {tuple(x.shape)}")
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        feats, probs = [], []
        for i in range(0, len(x), batch):
            out = self.net(x[i:i + batch].float())
            f, p = (out[0], out[1]) if isinstance(out, (tuple, list)) else (out, None)
            feats.append(f.flatten(1).float())
            if p is not None:
                probs.append(p.float())
        return torch.cat(feats), (torch.cat(probs) if probs else None)


def load_torchscript(path: str | Path) -> ImageExtractor:
    """A user's extractor: a TorchScript module mapping (N, 3, H, W) in [-1, 1] to (N, D) features
    (or to a (features, probabilities) pair). TorchScript files hold no pickled Python objects."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--extractor '{path}' does not exist")
    try:
        net = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise UserError(f"--extractor '{path}': not a TorchScript file ({type(exc).__name__})") from None
    return ImageExtractor(net.eval(), f"torchscript:{path.name}")
