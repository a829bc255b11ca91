"""Discriminator-side remedies for mode collapse and the conditional wrappers.

`Critic` wraps a base discriminator (an MLP or DCGAN D with `features` and a head) and adds, in
order: the label as extra input channels (concat cGAN), packing (PacGAN), the minibatch
standard-deviation feature (Karras et al. 2018), minibatch discrimination (Salimans et al. 2016),
a linear head, and the projection term <embed(y), h> (Miyato & Koyama 2018).
`ConditionalGenerator` joins a label embedding to z (Mirza & Osindero 2014).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..accel import Linear

Tensor = torch.Tensor


def pack(x: Tensor, m: int) -> Tensor:
    """PacGAN: (N, C, ...) -> (N/m, m*C, ...); samples i*m .. i*m+m-1 form group i."""
    if m == 1:
        return x
    n = x.shape[0]
    if n % m:
        raise ValueError(f"batch of {n} cannot be packed in groups of {m}")
    return x.reshape(n // m, m * x.shape[1], *x.shape[2:])


def minibatch_std(h: Tensor) -> Tensor:
    """One feature per sample: the standard deviation of each feature over the batch, averaged
    over features (Karras et al. 2018, with the whole batch as the group)."""
    std = torch.sqrt(h.var(dim=0, unbiased=False) + 1e-8).mean()
    return std.expand(h.shape[0], 1)


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016, section 3.2: M_i = h_i T (B kernels of dimension C);
    o(h_i)_b = sum_{j != i} exp(-||M_i,b - M_j,b||_1); returns [h, o(h)]."""

    def __init__(self, in_features: int, kernels: int, kernel_dim: int = 5):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.1)

    def forward(self, h: Tensor) -> Tensor:
        m = (h @ self.T).view(-1, self.kernels, self.kernel_dim)  # (N, B, C)
        l1 = (m[:, None] - m[None, :]).abs().sum(-1)  # (N, N, B)
        o = torch.exp(-l1).sum(1) - 1.0  # drop j == i, whose term is exp(0) = 1
        return torch.cat([h, o], 1)


def flatten_features(h: Tensor) -> Tensor:
    """D's feature maps (N, C, H, W) as vectors (N, H*W*C), in height, width, channel order: a free
    view of channels-last maps (gankit's default layout), so the head's input costs no copy either way.
    An NCHW map is copied, and its gradient is handed back NCHW: a LeakyReLU backward given a
    gradient in the other layout than its output is an order of magnitude slower (docs/performance.md)."""
    if h.dim() != 4:
        return h
    hwc = h.permute(0, 2, 3, 1)
    if h.requires_grad and not hwc.is_contiguous():
        h.register_hook(lambda grad: grad.contiguous())
    return hwc.reshape(h.shape[0], -1)


class Critic(nn.Module):
    def __init__(self, base: nn.Module, sample_shape: tuple[int, ...], pack_m: int = 1, mbstd: bool = False,
                 minibatch_disc: int = 0, num_classes: int = 0, cond_mode: str = "projection"):
        super().__init__()
        self.features = base.features
        self.pack_m, self.mbstd = pack_m, mbstd
        self.num_classes = num_classes
        self.concat = num_classes > 0 and cond_mode == "concat"
        self.projection = num_classes > 0 and cond_mode == "projection"
        with torch.no_grad():  # the size of the features the head sees
            was = self.features.training
            self.features.eval()
            probe = self._inputs(torch.zeros(2 * pack_m, *sample_shape),
                                 torch.zeros(2 * pack_m, dtype=torch.long) if num_classes else None)
            n_feat = flatten_features(self.features(probe)).shape[1]
            self.features.train(was)
        n_feat += 1 if mbstd else 0
        self.mbdisc = MinibatchDiscrimination(n_feat, minibatch_disc) if minibatch_disc else None
        n_feat += minibatch_disc
        self.head = Linear(n_feat, 1)
        self.embed = nn.Embedding(num_classes, n_feat) if self.projection else None
        if self.embed is not None:  # as small as the head's weights: N(0, 1) makes the term dominate
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def _inputs(self, x: Tensor, labels: Tensor | None) -> Tensor:
        if self.concat:  # one-hot label as extra channels (images) or extra coordinates (points)
            onehot = F.one_hot(labels, self.num_classes).to(x.dtype)
            onehot = onehot.view(*onehot.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
            x = torch.cat([x, onehot], 1)
        return pack(x, self.pack_m)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        h = flatten_features(self.features(self._inputs(x, labels)))
        if self.mbstd:
            h = torch.cat([h, minibatch_std(h)], 1)
        if self.mbdisc is not None:
            h = self.mbdisc(h)
        out = self.head(h).squeeze(1)
        if self.projection:
            out = out + (self.embed(labels) * h).sum(1)
        return out


class ConditionalGenerator(nn.Module):
    """G(z, y) = base([z, embed(y)]): `base` is built for inputs of z_dim + embedding size."""

    def __init__(self, base: nn.Module, num_classes: int, embed_dim: int):
        super().__init__()
        self.base = base
        self.embed = nn.Embedding(num_classes, embed_dim)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.base(torch.cat([z, self.embed(labels)], 1))
