"""SRGAN networks (Ledig et al. 2017).

Generator (SRResNet): 9x9 conv + PReLU, B residual blocks (conv-BN-PReLU-conv-BN + skip), conv-BN
plus a long skip, one sub-pixel x2 stage (conv to 4C channels, PixelShuffle, PReLU) per factor of
two, and a 9x9 output conv. Fully convolutional: any input size, output exactly `scale` times it.
With `bicubic_skip` the output is added to the bicubic upscaling of the input, so G learns only the
missing detail (global residual learning, as VDSR); this converges far faster on a CPU budget.

Discriminator: the paper's stack of 3x3 convs (stride 1 and 2 alternating, BN, LeakyReLU 0.2) with
doubling widths; global average pooling replaces the fixed-size dense layer so any patch size works.
`features(x)` returns every block's activation, for the feature-matching content term.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..accel import Conv2d, Linear


class ResidualBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.PReLU(ch),
                                  nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def bicubic(x: torch.Tensor, scale: int) -> torch.Tensor:
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)


def downsample(x: torch.Tensor, scale: int) -> torch.Tensor:
    """The degradation SR models are trained to undo: bicubic downsampling with antialiasing."""
    h, w = x.shape[-2] // scale, x.shape[-1] // scale
    return F.interpolate(x, size=(h, w), mode="bicubic", antialias=True, align_corners=False).clamp(-1, 1)


def icnr_(weight: torch.Tensor) -> None:
    """ICNR (Aitken et al. 2017): the 4 sub-pixel outputs of each channel start with the same kernel,
    so PixelShuffle starts as nearest-neighbour upsampling, without checkerboard artefacts."""
    out, inp, kh, kw = weight.shape
    base = torch.empty(out // 4, inp, kh, kw)
    nn.init.kaiming_normal_(base)
    with torch.no_grad():
        weight.copy_(base.repeat_interleave(4, dim=0))


class SRResNet(nn.Module):
    def __init__(self, channels: int = 3, scale: int = 4, width: int = 64, blocks: int = 16, bicubic_skip: bool = True):
        super().__init__()
        if scale not in (2, 4):
            raise ValueError(f"scale must be 2 or 4, got {scale}")
        self.scale, self.bicubic_skip = scale, bicubic_skip
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, 1, 4), nn.PReLU(width))
        self.blocks = nn.Sequential(*[ResidualBlock(width) for _ in range(blocks)])
        self.mid = nn.Sequential(nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width))
        up: list[nn.Module] = []
        for _ in range(int(math.log2(scale))):
            up += [nn.Conv2d(width, width * 4, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(width)]
        self.up = nn.Sequential(*up)
        for m in self.up:
            if isinstance(m, nn.Conv2d):
                icnr_(m.weight)
        self.tail = nn.Conv2d(width, channels, 9, 1, 4)
        # G updates so far: a checkpointed counter, so a resumed run knows whether its warm-up is over.
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        if bicubic_skip:  # start from plain bicubic: the correction is zero at initialisation
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    @property
    def context(self) -> int:
        """LR pixels on each side that influence an output pixel (the receptive radius), rounded up:
        9x9 head, two 3x3 per block, the 3x3 after them, a 3x3 per x2 stage, the 9x9 tail at HR
        resolution and the bicubic skip's 2 pixels."""
        return 4 + 2 * len(self.blocks) + 1 + int(math.log2(self.scale)) + math.ceil(4 / self.scale) + 2

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        h = self.head(lr)
        h = h + self.mid(self.blocks(h))
        out = self.tail(self.up(h))
        return out + bicubic(lr, self.scale) if self.bicubic_skip else out


class SRDiscriminator(nn.Module):
    def __init__(self, channels: int = 3, width: int = 64, stages: int = 4):
        super().__init__()
        blocks: list[nn.Module] = [nn.Sequential(Conv2d(channels, width, 3, 1, 1), nn.LeakyReLU(0.2, True))]  # thin image side
        ch = width
        for i in range(2 * stages - 1):  # stride 2, then 1, alternating; width doubles at each stride-1 conv
            stride = 2 if i % 2 == 0 else 1
            out = ch if stride == 2 else ch * 2
            blocks.append(nn.Sequential(nn.Conv2d(ch, out, 3, stride, 1, bias=False), nn.BatchNorm2d(out),
                                        nn.LeakyReLU(0.2, True)))
            ch = out
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), Linear(ch, ch * 2),
                                  nn.LeakyReLU(0.2, True), Linear(ch * 2, 1))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)[-1]).flatten()
