"""StyleGAN2 (Karras et al. 2020, "Analyzing and improving the image quality of StyleGAN", config F
scaled down): a mapping network z -> w, a synthesis network from a learned 4x4 constant through
modulated and demodulated 3x3 convolutions with per-layer noise and skip (toRGB) outputs, and a
residual discriminator with a minibatch standard-deviation feature.

Every weight is stored as N(0, 1) and scaled at run time by He's constant (equalised learning rate,
Karras et al. 2018), so Adam's step is the same size for every layer; the mapping network's layers
also take a learning-rate multiplier (0.01), stored as weights divided by it. Equalised learning
rate needs the run-time scale, so these layers are written on F.linear / F.conv2d, not gankit.accel.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor
SQRT2 = math.sqrt(2.0)  # the gain that keeps a leaky ReLU's output variance that of its input
NOISE_MODES = ("random", "const", "none")


def lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2) * SQRT2


# Low-pass filtering with the separable [1, 3, 3, 1] / 8 binomial filter (StyleGAN2's). Along one axis
# a filter with zero padding (and a stride, or 2x zero insertion) is a linear map, so each is applied
# as a small banded matrix on each side: M_h @ x @ M_w^T, two matrix products forwards and backwards.
# On the CPU a depthwise convolution runs far below this speed, and so do sums of shifted slices
# (each slice's backward fills a zero tensor): measured 3-10x slower on StyleGAN2's 8-32 px maps.

FIR = (1 / 8, 3 / 8, 3 / 8, 1 / 8)


@functools.lru_cache(maxsize=None)
def _fir_matrix(n: int, pad: int, stride: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """(out, n): output j = sum_t FIR[t] x[stride j + t - pad], zeros outside x."""
    out = (n + 2 * pad - len(FIR)) // stride + 1
    m = torch.zeros(out, n, dtype=torch.float64)
    for j in range(out):
        for t, f in enumerate(FIR):
            if 0 <= stride * j + t - pad < n:
                m[j, stride * j + t - pad] += f
    return m.to(device, dtype)


@functools.lru_cache(maxsize=None)
def _up_matrix(n: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """(2n, n): 2x zero insertion and the filter with gain 2, as polyphase weights: output 2m is
    (x[m-1] + 3 x[m]) / 4, output 2m+1 is (3 x[m] + x[m+1]) / 4, zeros beyond the border."""
    m = torch.zeros(2 * n, n, dtype=torch.float64)
    for i in range(n):
        m[2 * i, i] = m[2 * i + 1, i] = 0.75
        if i > 0:
            m[2 * i, i - 1] = 0.25
        if i + 1 < n:
            m[2 * i + 1, i + 1] = 0.25
    return m.to(device, dtype)


def _both_axes(x: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    return rows @ x @ cols.T


def upsample2d(x: Tensor) -> Tensor:
    """2x upsampling by zero insertion and the low-pass filter (gain 4, so a constant stays constant)."""
    h, w = x.shape[-2:]
    return _both_axes(x, _up_matrix(h, x.device, x.dtype), _up_matrix(w, x.device, x.dtype))


def downsample2d(x: Tensor) -> Tensor:
    """2x downsampling: the low-pass filter (zero padding 1), then every second pixel."""
    h, w = x.shape[-2:]
    return _both_axes(x, _fir_matrix(h, 1, 2, x.device, x.dtype), _fir_matrix(w, 1, 2, x.device, x.dtype))


def blur(x: Tensor, pad: int) -> Tensor:
    """The low-pass filter over x zero-padded by `pad` each side."""
    h, w = x.shape[-2:]
    return _both_axes(x, _fir_matrix(h, pad, 1, x.device, x.dtype), _fir_matrix(w, pad, 1, x.device, x.dtype))


class EqualLinear(nn.Module):
    """y = x (W * lr_mul / sqrt(in))^T + b * lr_mul, W ~ N(0, 1/lr_mul^2): the effective weight starts
    He-initialised and its learning rate is lr_mul times Adam's."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul))
        self.scale = lr_mul / math.sqrt(in_features)
        self.lr_mul, self.activation = lr_mul, activation

    def forward(self, x: Tensor) -> Tensor:
        y = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        return lrelu(y) if self.activation else y


class EqualConv2d(nn.Module):
    """A convolution with an equalised-lr weight; `down`: low-pass filter, then stride 2."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, bias: bool = True, activation: bool = True,
                 down: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel * kernel)
        self.kernel, self.activation, self.down = kernel, activation, down

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight * self.scale
        if self.down and self.kernel == 1:
            y = F.conv2d(downsample2d(x), w, self.bias)
        elif self.down:  # blur with the padding that leaves exactly h/2 after a 3x3 conv of stride 2
            y = F.conv2d(blur(x, (self.kernel + 1) // 2), w, self.bias, stride=2)
        else:
            y = F.conv2d(x, w, self.bias, padding=self.kernel // 2)
        return lrelu(y) if self.activation else y


def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool = True, grouped: bool = False) -> Tensor:
    """StyleGAN2's modulated convolution: sample i is convolved with weight * styles[i] over the input
    channels, then rescaled (demodulated) so that each output channel's weights have unit L2 norm,
    which keeps unit-variance inputs at unit variance. x (N, I, H, W), weight (O, I, k, k), styles
    (N, I) -> (N, O, H, W), 'same' padding.

    grouped=True: one grouped convolution of per-sample weights (StyleGAN2's fused form). False: the
    same function as styles scaling the input, one convolution with the shared weight, and the
    demodulation coefficients scaling the output; it needs no batch-sized group count (so a batch
    size free at run time exports) and runs as one large convolution on the CPU."""
    n, in_c, h, w_ = x.shape
    out_c, _, k, _ = weight.shape
    if not grouped:
        y = F.conv2d(x * styles.view(n, in_c, 1, 1).to(x.dtype), weight.to(x.dtype), padding=k // 2)
        if demodulate:  # sum over i, k of (w[o, i, k] s[n, i])^2 = (s^2) @ (sum over k of w^2)^T
            coef = torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).T + 1e-8)  # (N, O)
            y = y * coef.view(n, out_c, 1, 1).to(y.dtype)
        return y
    w = weight[None] * styles[:, None, :, None, None]  # (N, O, I, k, k)
    if demodulate:
        w = w * torch.rsqrt(w.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
    y = F.conv2d(x.reshape(1, n * in_c, h, w_), w.reshape(n * out_c, in_c, k, k), padding=k // 2, groups=n)
    return y.reshape(n, out_c, *y.shape[2:])


class SynthesisLayer(nn.Module):
    """Style -> modulated, demodulated 3x3 conv -> noise (learned strength) -> bias -> leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)  # styles start at 1: an unmodulated conv
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))  # the fixed noise of 'const'
        self.up, self.resolution = up, resolution

    def forward(self, x: Tensor, w: Tensor, noise_mode: str = "random") -> Tensor:
        if self.up:
            x = upsample2d(x)
        x = modulated_conv2d(x, self.weight, self.affine(w))
        if noise_mode == "random":
            x = x + torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device, dtype=x.dtype) * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const.to(x.dtype) * self.noise_strength
        return lrelu(x + self.bias.view(1, -1, 1, 1))


class ToRGB(nn.Module):
    """Style -> modulated 1x1 conv to the image's channels (no demodulation) -> bias."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = 1.0 / math.sqrt(in_channels)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        y = modulated_conv2d(x, self.weight, self.affine(w) * self.scale, demodulate=False)
        return y + self.bias.view(1, -1, 1, 1)


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    """The width schedule: channel_base / resolution, at most channel_max."""
    return max(1, min(channel_base // resolution, channel_max))


def block_resolutions(resolution: int) -> list[int]:
    """4, 8, ..., the power of two at or above `resolution` (28 -> up to 32)."""
    top = 2 ** math.ceil(math.log2(resolution))
    return [2**i for i in range(2, int(math.log2(top)) + 1)]


class MappingNetwork(nn.Module):
    """z (normalised to unit second moment; joined with a normalised label embedding when conditional)
    -> `layers` fully connected leaky-ReLU layers at learning-rate multiplier `lr_mul` -> w. Tracks
    w_avg, the moving mean of w during training, for the truncation trick."""

    def __init__(self, z_dim: int, w_dim: int, num_ws: int, layers: int = 8, num_classes: int = 0,
                 lr_mul: float = 0.01, w_avg_beta: float = 0.995):
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.num_classes = z_dim, w_dim, num_ws, num_classes
        self.embed = EqualLinear(num_classes, w_dim) if num_classes else None
        features = [z_dim + (w_dim if num_classes else 0)] + [w_dim] * layers
        self.fc = nn.Sequential(*[EqualLinear(a, b, lr_mul=lr_mul, activation=True) for a, b in zip(features, features[1:])])
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.w_avg_beta = w_avg_beta

    def forward(self, z: Tensor, labels: Tensor | None = None, truncation: float | Tensor = 1.0,
                update_w_avg: bool = False) -> Tensor:
        """(N, num_ws, w_dim): the same w broadcast to every layer."""
        x = z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8)
        if self.embed is not None:
            y = self.embed(F.one_hot(labels, self.num_classes).to(z.dtype))
            x = torch.cat([x, y * torch.rsqrt(y.square().mean(1, keepdim=True) + 1e-8)], 1)
        w = self.fc(x)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().float().mean(0).lerp(self.w_avg, self.w_avg_beta))
        if isinstance(truncation, Tensor) or truncation != 1.0:
            w = self.w_avg.to(w.dtype).lerp(w, truncation)
        return w.unsqueeze(1).expand(-1, self.num_ws, -1)


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> images (N, C, R, R). Blocks double the resolution from a learned 4x4
    constant; each block's toRGB output is added to the upsampled image of the blocks before it."""

    def __init__(self, w_dim: int, resolution: int, channels: int, channel_base: int = 16384, channel_max: int = 512):
        super().__init__()
        self.resolution = resolution
        self.resolutions = block_resolutions(resolution)
        ch = {r: channels_at(r, channel_base, channel_max) for r in self.resolutions}
        self.const = nn.Parameter(torch.randn(ch[4], 4, 4))
        self.convs = nn.ModuleList()
        self.torgbs = nn.ModuleList()
        for r in self.resolutions:
            if r > 4:
                self.convs.append(SynthesisLayer(ch[r // 2], ch[r], w_dim, r, up=True))
            self.convs.append(SynthesisLayer(ch[r], ch[r], w_dim, r))
            self.torgbs.append(ToRGB(ch[r], channels, w_dim))
        self.num_ws = len(self.convs) + 1  # toRGB of one block shares its w with the next block's first conv

    def forward(self, ws: Tensor, noise_mode: str = "random") -> Tensor:
        x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
        img = None
        conv, i = iter(self.convs), 0  # i: the w index of the next layer
        for block, r in enumerate(self.resolutions):
            for _ in range(1 if r == 4 else 2):
                x = next(conv)(x, ws[:, i], noise_mode)
                i += 1
            rgb = self.torgbs[block](x, ws[:, i])
            img = rgb if img is None else upsample2d(img) + rgb
        if img.shape[-1] != self.resolution:  # e.g. 28x28 data: resized from the 32x32 synthesis
            img = F.interpolate(img, size=(self.resolution, self.resolution), mode="bilinear", antialias=True,
                                align_corners=False)
        return img


class StyleGAN2Generator(nn.Module):
    """G(z[, labels]) = synthesis(mapping(z[, labels])), with style mixing and truncation left to callers
    of `mapping` and `synthesis` (the recipe, `gankit mix`, `gankit project`)."""

    def __init__(self, z_dim: int, resolution: int, channels: int, w_dim: int = 512, mapping_layers: int = 8,
                 channel_base: int = 16384, channel_max: int = 512, num_classes: int = 0):
        super().__init__()
        self.z_dim, self.w_dim, self.num_classes = z_dim, w_dim, num_classes
        self.synthesis = SynthesisNetwork(w_dim, resolution, channels, channel_base, channel_max)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, w_dim, self.num_ws, mapping_layers, num_classes)

    def forward(self, z: Tensor, labels: Tensor | None = None, truncation: float = 1.0,
                noise_mode: str = "random") -> Tensor:
        return self.synthesis(self.mapping(z, labels, truncation), noise_mode)


def minibatch_stddev(x: Tensor, group: int) -> Tensor:
    """Karras et al. 2018 as in StyleGAN2: within groups of `group` samples, the standard deviation of
    every feature, averaged into one extra channel. The group is the largest size <= `group` that
    divides the batch."""
    n, c, h, w = x.shape
    g = min(group, n)
    while n % g:
        g -= 1
    y = x.reshape(g, n // g, c, h, w).float()
    y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt()  # (n/g, c, h, w)
    y = y.mean(dim=(1, 2, 3)).to(x.dtype)  # (n/g,)
    y = y.view(1, -1, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y], 1)


class DiscriminatorBlock(nn.Module):
    """Residual: (conv3x3 -> conv3x3 with 2x down) + (2x down -> conv1x1), scaled by sqrt(1/2)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, down=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False, activation=False, down=True)

    def forward(self, x: Tensor) -> Tensor:
        return (self.skip(x) + self.conv1(self.conv0(x))) * math.sqrt(0.5)


class StyleGAN2Discriminator(nn.Module):
    """images (N, C, R, R) [, labels] -> logits (N,). fromRGB, residual blocks down to 4x4, then the
    epilogue: minibatch stddev, conv3x3, fully connected, and the output layer; when conditional the
    output is a projection onto a label embedding (Miyato & Koyama 2018, as StyleGAN2-ADA's cmap)."""

    def __init__(self, resolution: int, channels: int, channel_base: int = 16384, channel_max: int = 512,
                 num_classes: int = 0, mbstd_group: int = 4):
        super().__init__()
        self.resolution, self.num_classes, self.mbstd_group = resolution, num_classes, mbstd_group
        resolutions = block_resolutions(resolution)
        self.top = resolutions[-1]
        ch = {r: channels_at(r, channel_base, channel_max) for r in resolutions}
        self.fromrgb = EqualConv2d(channels, ch[self.top], 1)
        self.blocks = nn.Sequential(*[DiscriminatorBlock(ch[r], ch[r // 2]) for r in reversed(resolutions[1:])])
        c4 = ch[4]
        self.conv = EqualConv2d(c4 + 1, c4, 3)
        self.fc = EqualLinear(c4 * 16, c4, activation=True)
        self.cmap_dim = c4 if num_classes else 1
        self.out = EqualLinear(c4, self.cmap_dim)
        self.embed = EqualLinear(num_classes, self.cmap_dim) if num_classes else None

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        if x.shape[-1] != self.top:  # 28x28 data: scored at the 32x32 the blocks are built for
            x = F.interpolate(x, size=(self.top, self.top), mode="bilinear", align_corners=False)
        h = self.blocks(self.fromrgb(x))
        h = self.conv(minibatch_stddev(h, self.mbstd_group))
        h = self.out(self.fc(h.flatten(1)))
        if self.embed is None:
            return h.squeeze(1)
        cmap = self.embed(F.one_hot(labels, self.num_classes).to(h.dtype))
        return (h * cmap).sum(1) / math.sqrt(self.cmap_dim)
