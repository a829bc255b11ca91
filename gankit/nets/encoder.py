"""The VAE-GAN encoder: DCGAN-discriminator-style convolutions, then a mean and a log-variance."""

from __future__ import annotations

import torch
import torch.nn as nn

from .dcgan import stages
from ..accel import Conv2d, Linear


class Encoder(nn.Module):
    def __init__(self, resolution: int, channels: int, z_dim: int, width: int = 64):
        super().__init__()
        base, n = stages(resolution)
        ch = width
        layers: list[nn.Module] = [Conv2d(channels, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]  # thin image side
        for _ in range(n - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.mean = Linear(ch * base * base, z_dim)
        self.logvar = Linear(ch * base * base, z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return self.mean(h), self.logvar(h)
