"""The fully connected nets of Salimans et al. 2016 ("Improved techniques for training GANs") for
semi-supervised MNIST: a softplus generator with batch norm, and a discriminator that is a K-class
classifier with weight-normalised layers and Gaussian noise on its input and after every hidden layer."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import parametrize

from ..accel import Linear

Tensor = torch.Tensor


class GaussianNoise(nn.Module):
    """x + N(0, std^2) while training; the identity in evaluation mode."""

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, x: Tensor) -> Tensor:
        return x + self.std * torch.randn_like(x) if self.training and self.std > 0 else x


class WeightNorm(nn.Module):
    """The parametrisation w = g v / ||v|| of a linear layer's or a convolution's weight, one g per
    output unit or channel (Salimans & Kingma 2016). The authors' D trains g only in its last layer:
    in hidden layers g stays what data-dependent initialisation set, so D cannot scale its
    activations up past its Gaussian noise."""

    def __init__(self, n_out: int, train_scale: bool):
        super().__init__()
        scale = torch.ones(n_out, 1)
        if train_scale:
            self.scale = nn.Parameter(scale)
        else:
            self.register_buffer("scale", scale)

    def forward(self, v: Tensor) -> Tensor:  # v: (n_out, n_in), or a convolution's (n_out, c_in, k, k)
        per_unit = (-1,) + (1,) * (v.dim() - 1)
        return self.scale.view(per_unit) * v / v.flatten(1).norm(dim=1).view(per_unit)


def _weight_normed(layer: nn.Module, train_scale: bool, std: float) -> nn.Module:
    """`layer` (linear or convolution) weight-normalised, v drawn N(0, std^2) and the bias zero. The
    direction v's scale sets how far one Adam step (of about lr per entry) turns it, so it matters
    even though w = g v / ||v||."""
    nn.init.normal_(layer.weight, 0.0, std)
    nn.init.zeros_(layer.bias)
    parametrize.register_parametrization(layer, "weight", WeightNorm(layer.weight.shape[0], train_scale))
    return layer


@torch.no_grad()
def _data_init(layer: nn.Module, x: Tensor) -> Tensor:
    """Data-dependent initialisation of a weight-normalised layer (Salimans & Kingma 2016): scale g and
    bias b so that the layer's outputs on `x` have zero mean and unit variance per unit (per channel
    for a convolution, over the batch and positions); returns them."""
    if isinstance(layer, nn.Conv2d):
        out = F.conv2d(x, layer.weight, None, layer.stride, layer.padding)
        dims, shape = (0, 2, 3), (1, -1, 1, 1)
    else:
        out = F.linear(x, layer.weight)
        dims, shape = (0,), (1, -1)
    mean, std = out.mean(dims), out.std(dims, unbiased=False).clamp_min(1e-6)
    layer.parametrizations.weight[0].scale.div_(std[:, None])
    layer.bias.copy_(-mean / std)
    return (out - mean.view(shape)) / std.view(shape)


class SSGANDiscriminator(nn.Module):
    """x -> K class logits. The (K+1)-th, "fake" class has its logit fixed at 0, so it has no output:
    P(real | x) = Z / (Z + 1) with Z = sum_k exp(logit_k).

    Layers: noise(input_noise) on pixels in [0, 1], then for each width a weight-normalised linear
    layer (its scale fixed by data-dependent initialisation), ReLU and noise(hidden_noise), then a
    weight-normalised linear layer (scale trained) to K logits. `features`
    is the last hidden layer before its noise: what G matches (feature matching)."""

    def __init__(self, in_shape: tuple[int, ...], widths: tuple[int, ...], num_classes: int,
                 input_noise: float = 0.3, hidden_noise: float = 0.5):
        super().__init__()
        self.input_noise = GaussianNoise(input_noise)
        sizes = [math.prod(in_shape), *widths]
        # v ~ N(0, 0.1^2): the authors' MNIST DenseLayer (nn.py, theta=Normal(0.1))
        self.hidden = nn.ModuleList(_weight_normed(Linear(a, b), train_scale=False, std=0.1) for a, b in zip(sizes, sizes[1:]))
        self.noise = nn.ModuleList(GaussianNoise(hidden_noise) for _ in widths)
        self.head = _weight_normed(Linear(sizes[-1], num_classes), train_scale=True, std=0.1)

    def _pixels(self, x: Tensor) -> Tensor:
        return self.input_noise((x.flatten(1) + 1.0) * 0.5)  # gankit's [-1, 1] to the paper's [0, 1]

    def features(self, x: Tensor) -> Tensor:
        """The last hidden layer's activations (N, widths[-1]), before its noise."""
        h = self._pixels(x)
        for i, layer in enumerate(self.hidden):
            if i:
                h = self.noise[i - 1](h)
            h = F.relu(layer(h))
        return h

    def logits(self, features: Tensor) -> Tensor:
        return self.head(self.noise[-1](features))

    def forward(self, x: Tensor) -> Tensor:
        return self.logits(self.features(x))

    @torch.no_grad()
    def data_init(self, x: Tensor) -> None:
        """Data-dependent initialisation, layer by layer, on a batch of real images (noise on, as in training)."""
        h = self._pixels(x)
        for i, layer in enumerate(self.hidden):
            if i:
                h = self.noise[i - 1](h)
            h = F.relu(_data_init(layer, h))
        _data_init(self.head, self.noise[-1](h))


class ConvSSGANDiscriminator(nn.Module):
    """x -> K class logits, as SSGANDiscriminator, from a convolutional net shaped like the authors'
    CIFAR-10 D (openai/improved-gan, facts only), narrowed for small images on a CPU: weight-normalised
    3x3 convolutions with leaky ReLU in two stages (`width` channels, then twice that; each stage's
    last convolution of stride 2), one unpadded 3x3 convolution, a 1x1 ("network in network")
    convolution, global mean pooling and a weight-normalised linear layer to K logits. Their D
    regularises with dropout; this one with the dense D's Gaussian noise, on the pixels and after
    each stage, so that ssgan.input_noise and ssgan.hidden_noise mean one thing for both.
    `features` is the pooled layer: what G matches. Images need MIN_SIZE pixels a side or more."""

    MIN_SIZE = 9  # two stride-2 stages take 9 to 3, and the unpadded 3x3 convolution to 1

    def __init__(self, in_shape: tuple[int, ...], width: int, num_classes: int,
                 input_noise: float = 0.3, hidden_noise: float = 0.5):
        super().__init__()
        c, w2 = in_shape[0], 2 * width
        conv = lambda a, b, k, stride, pad: _weight_normed(nn.Conv2d(a, b, k, stride, pad), train_scale=False, std=0.05)
        self.input_noise = GaussianNoise(input_noise)
        self.stages = nn.ModuleList([
            nn.ModuleList([conv(c, width, 3, 1, 1), conv(width, width, 3, 2, 1)]),  # to half the size
            nn.ModuleList([conv(width, w2, 3, 1, 1), conv(w2, w2, 3, 2, 1)]),       # to a quarter
            nn.ModuleList([conv(w2, w2, 3, 1, 0), conv(w2, w2, 1, 1, 0)]),          # unpadded 3x3, then 1x1
        ])
        self.noise = nn.ModuleList(GaussianNoise(hidden_noise) for _ in range(2))  # after stages 1 and 2
        self.head = _weight_normed(Linear(w2, num_classes), train_scale=True, std=0.05)

    def _run(self, x: Tensor, init: bool = False) -> Tensor:
        h = self.input_noise((x + 1.0) * 0.5)  # gankit's [-1, 1] to the paper's [0, 1]
        for i, stage in enumerate(self.stages):
            for layer in stage:
                h = F.leaky_relu(_data_init(layer, h) if init else layer(h), 0.2)
            if i < len(self.noise):
                h = self.noise[i](h)
        return h.mean((2, 3))

    def features(self, x: Tensor) -> Tensor:
        """The pooled activations (N, 2 x width)."""
        return self._run(x)

    def logits(self, features: Tensor) -> Tensor:
        return self.head(features)

    def forward(self, x: Tensor) -> Tensor:
        return self.logits(self.features(x))

    @torch.no_grad()
    def data_init(self, x: Tensor) -> None:
        """Data-dependent initialisation, layer by layer, on a batch of real images (noise on, as in training)."""
        _data_init(self.head, self._run(x, init=True))


class SSGANGenerator(nn.Module):
    """z -> image in [-1, 1]: hidden layers of softplus units after batch norm, then a weight-normalised
    linear layer and a sigmoid (pixels in [0, 1], brought to gankit's [-1, 1])."""

    def __init__(self, z_dim: int, out_shape: tuple[int, ...], widths: tuple[int, ...]):
        super().__init__()
        self.z_dim, self.out_shape = z_dim, tuple(out_shape)
        blocks, n_in = [], z_dim
        for width in widths:
            blocks += [Linear(n_in, width, bias=False), nn.BatchNorm1d(width), nn.Softplus()]  # BN's shift is the bias
            n_in = width
        self.hidden = nn.Sequential(*blocks)
        # the authors' l2normalize over a lasagne DenseLayer (Glorot-uniform v, std about 0.04 here)
        self.out = _weight_normed(Linear(n_in, math.prod(out_shape)), train_scale=True, std=0.05)

    def forward(self, z: Tensor) -> Tensor:
        pixels = torch.sigmoid(self.out(self.hidden(z)))
        return (pixels * 2.0 - 1.0).view(z.shape[0], *self.out_shape)
