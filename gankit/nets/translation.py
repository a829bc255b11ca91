"""Image-to-image networks: pix2pix's U-Net and PatchGAN (Isola et al. 2017), CycleGAN's ResNet
generator (Zhu et al. 2017, after Johnson et al. 2016). All are fully convolutional: the U-Net takes
any size that is a multiple of its stride (2^depth), the ResNet generator any multiple of 4, the
PatchGAN any size from its receptive field up.

U-Net: `depth` stride-2 4x4 convolutions down (LeakyReLU 0.2, norm after all but the first and the
innermost), as many 4x4 transposed convolutions up (ReLU, norm), each decoder stage fed the encoder's
map of its size beside its own input (the skips); dropout 0.5 after the three decoder stages next to
the innermost one (at 256 px with depth 8 these are the paper's three dropout layers), which is the
only noise G has; tanh out.

PatchGAN: C64-C128-C256 with stride 2 (`layers` of them), C512 with stride 1, then a 1-channel 4x4
convolution: each output scores one patch of the input. With layers=3 a patch is 70x70 pixels.

ResNet generator: 7x7 conv, two stride-2 3x3 convs down, `blocks` residual blocks (reflection padding,
3x3-norm-ReLU-3x3-norm + skip), two stride-2 transposed convs up, 7x7 conv, tanh.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..accel import Conv2d, ConvTranspose2d

Tensor = torch.Tensor


def norm_layer(kind: str, channels: int) -> nn.Module:
    """'batch' (pix2pix) or 'instance' (CycleGAN; without learned affine or running statistics, as the
    reference code has it)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels)
    raise ValueError(f"norm must be 'batch' or 'instance', got {kind!r}")


class UNetGenerator(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, width: int = 64, depth: int = 8,
                 dropout: float = 0.5, norm: str = "batch"):
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be at least 2, got {depth}")
        self.stride = 2**depth  # input sides must be multiples of it
        widths = [min(width * 2**i, width * 8) for i in range(depth)]
        bias = norm == "instance"  # batch norm's shift makes a conv bias redundant
        self.down = nn.ModuleList()
        for i, w in enumerate(widths):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(Conv2d(in_channels if i == 0 else widths[i - 1], w, 4, 2, 1, bias=bias or i in (0, depth - 1)))
            if 0 < i < depth - 1:
                layers.append(norm_layer(norm, w))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for j in range(depth):  # j = 0 is the innermost stage
            i = depth - 1 - j  # the encoder level this stage returns to
            inp = widths[i] if j == 0 else 2 * widths[i]  # its input, with the skip beside it
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(), ConvTranspose2d(inp, out_channels, 4, 2, 1), nn.Tanh()))
                continue
            layers = [nn.ReLU(), ConvTranspose2d(inp, widths[i - 1], 4, 2, 1, bias=bias), norm_layer(norm, widths[i - 1])]
            if 1 <= j <= 3 and dropout > 0:
                layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for stage in self.down:
            x = stage(x)
            skips.append(x)
        x = self.up[0](skips.pop())
        for stage in self.up[1:]:
            x = stage(torch.cat([x, skips.pop()], 1))
        return x


class PatchDiscriminator(nn.Module):
    """Scores every patch of its input with one logit; `in_channels` is the image's channels plus,
    for pix2pix, the conditioning input's (D sees input and output together)."""

    def __init__(self, in_channels: int, width: int = 64, layers: int = 3, norm: str = "batch"):
        super().__init__()
        bias = norm == "instance"
        seq: list[nn.Module] = [Conv2d(in_channels, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch = width
        for n in range(1, layers + 1):
            out = width * min(2**n, 8)
            stride = 2 if n < layers else 1
            seq += [Conv2d(ch, out, 4, stride, 1, bias=bias), norm_layer(norm, out), nn.LeakyReLU(0.2)]
            ch = out
        seq.append(Conv2d(ch, 1, 4, 1, 1))
        self.net = nn.Sequential(*seq)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def receptive_field(layers: int) -> int:
    """The side of the input patch one PatchGAN output sees: back through the 4x4 convolutions (the
    last two of stride 1, the others of stride 2), r_in = (r_out - 1) * stride + 4."""
    r = 1
    for stride in [1, 1] + [2] * layers:
        r = (r - 1) * stride + 4
    return r


class ResidualBlock(nn.Module):
    def __init__(self, ch: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(nn.ReflectionPad2d(1), Conv2d(ch, ch, 3), norm_layer(norm, ch), nn.ReLU(),
                                  nn.ReflectionPad2d(1), Conv2d(ch, ch, 3), norm_layer(norm, ch))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    stride = 4  # two stride-2 stages: input sides must be multiples of 4

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, blocks: int = 9, norm: str = "instance"):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), Conv2d(in_channels, width, 7), norm_layer(norm, width), nn.ReLU()]
        ch = width
        for _ in range(2):
            layers += [Conv2d(ch, 2 * ch, 3, 2, 1), norm_layer(norm, 2 * ch), nn.ReLU()]
            ch *= 2
        layers += [ResidualBlock(ch, norm) for _ in range(blocks)]
        for _ in range(2):
            layers += [ConvTranspose2d(ch, ch // 2, 3, 2, 1, output_padding=1), norm_layer(norm, ch // 2), nn.ReLU()]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), Conv2d(ch, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ClassReader(nn.Module):
    """A small image classifier (CycleGAN's label-keeping loss reads translations with a few per domain):
    three 3x3 convolutions of `widths` channels with ReLU, 2x2 max pooling after the first two,
    then averages over a 4x4 grid of cells (the layout of the strokes matters to a digit's class)
    and a linear layer to the class logits. Any image size from 16 pixels up."""

    def __init__(self, channels: int, num_classes: int, widths: tuple[int, int, int] = (16, 32, 64)):
        super().__init__()
        a, b, c = widths
        self.features = nn.Sequential(Conv2d(channels, a, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
                                      Conv2d(a, b, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
                                      Conv2d(b, c, 3, 1, 1), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(16 * c, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
