"""DCGAN (Radford et al. 2015): strided (transposed) convolutions, batch norm except at G's output
and D's input, ReLU in G, LeakyReLU(0.2) in D, tanh output.

Nets are sized from the resolution: the feature map starts at `base` = resolution halved while it
stays an even number above 7 (28 -> 7, 32 -> 4, 64 -> 4), and each stage doubles it.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..accel import Conv2d, ConvTranspose2d


def stages(resolution: int) -> tuple[int, int]:
    """(base size, number of x2 stages) with base * 2**n == resolution."""
    base, n = resolution, 0
    while base > 7 and base % 2 == 0:
        base, n = base // 2, n + 1
    if n == 0:
        raise ValueError(f"resolution {resolution} cannot be reached by doubling a small base")
    return base, n


class Projection(nn.ConvTranspose2d):
    """G's first layer: z projected to a size x size map, "just a matrix multiplication, but the
    result is reshaped" (Radford et al.). Kept as the transposed convolution on a 1x1 input that it
    equals, so weights and checkpoints are those of that layer, and computed as the matrix product in
    the weight's own layout: oneDNN's channels-last kernel for this shape is much slower than the
    product (docs/performance.md)."""

    def __init__(self, z_dim: int, channels: int, size: int):
        super().__init__(z_dim, channels, size, 1, 0, bias=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        w = self.weight  # (z_dim, channels, size, size)
        n, (z_dim, c, k, _) = z.shape[0], w.shape
        z = z.reshape(n, z_dim)
        if w.is_contiguous():
            return (z @ w.reshape(z_dim, -1)).view(n, c, k, k)
        # channels-last weight: the permuted view is contiguous, and so is the map it gives
        return (z @ w.permute(0, 2, 3, 1).reshape(z_dim, -1)).view(n, k, k, c).permute(0, 3, 1, 2)


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, resolution: int, channels: int, width: int = 64, refine: bool = False):
        super().__init__()
        base, n = stages(resolution)
        self.z_dim = z_dim
        ch = width * 2 ** (n - 1)

        def block(conv: nn.Module, out: int) -> list[nn.Module]:
            # refine: a 3x3 stride-1 convolution after each upsampling, more capacity where strokes form
            extra = [nn.Conv2d(out, out, 3, 1, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU(True)] if refine else []
            return [conv, nn.BatchNorm2d(out), nn.ReLU(True), *extra]

        # project z to a base x base map (the transposed conv on 1x1 that Projection computes as a product)
        layers = block(Projection(z_dim, ch, base), ch)
        for _ in range(n - 1):
            layers += block(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), ch // 2)
            ch //= 2
        layers += [ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]  # onto the image: thin_conv's product path
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    def __init__(self, resolution: int, channels: int, width: int = 64, batch_norm: bool = True):
        super().__init__()
        base, n = stages(resolution)
        ch = width
        # no BN at the input; a thin_conv layer, as its input gradient lands on the image
        layers: list[nn.Module] = [Conv2d(channels, ch, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for _ in range(n - 1):
            norm = nn.BatchNorm2d(ch * 2) if batch_norm else nn.Identity()  # WGAN-GP, SN: no batch norm
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=not batch_norm), norm, nn.LeakyReLU(0.2, True)]
            ch *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(ch, 1, base, 1, 0)  # one logit from the base x base map

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).flatten()
