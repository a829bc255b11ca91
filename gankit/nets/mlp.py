"""The fully connected nets of Goodfellow et al. 2014: a ReLU generator and a maxout discriminator."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..accel import Linear


class Maxout(nn.Module):
    """max over `pieces` affine maps (Goodfellow et al. 2013): Linear(in, pieces * units), then max.

    The linear map's outputs are laid out piece-major (all units' first piece, then all units' second
    piece, ...), so the max runs over an outer dimension of contiguous rows, forward and backward much faster
    than a max over an inner dimension of length `pieces` (docs/performance.md)."""

    def __init__(self, in_features: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(x.shape[0], self.pieces, self.units).amax(1)


class MLPGenerator(nn.Module):
    """ReLU hidden layers, optionally with batch norm before each ReLU (the PacGAN toys' G)."""

    def __init__(self, z_dim: int, out_shape: tuple[int, ...], width: int, layers: int, tanh: bool = True,
                 batch_norm: bool = False):
        super().__init__()
        self.z_dim, self.out_shape = z_dim, tuple(out_shape)
        blocks, n_in = [], z_dim
        for _ in range(layers):
            blocks.append(Linear(n_in, width, bias=not batch_norm))  # BN's shift replaces the bias
            if batch_norm:
                blocks.append(nn.BatchNorm1d(width))
            blocks.append(nn.ReLU(inplace=True))
            n_in = width
        blocks.append(Linear(n_in, math.prod(out_shape)))
        if tanh:  # images live in [-1, 1]; toy points are unbounded
            blocks.append(nn.Tanh())
        self.net = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    """Maxout hidden layers with dropout; returns one logit per sample."""

    def __init__(self, in_shape: tuple[int, ...], width: int, layers: int, pieces: int = 5, dropout: float = 0.0):
        super().__init__()
        blocks: list[nn.Module] = [nn.Flatten()]  # features take images or points as they come
        n_in = math.prod(in_shape)
        for _ in range(layers):
            blocks.append(Maxout(n_in, width, pieces))
            if dropout > 0:
                blocks.append(nn.Dropout(dropout))
            n_in = width
        self.features = nn.Sequential(*blocks)
        self.head = Linear(n_in, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)
