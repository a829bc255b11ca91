"""Convolutions onto a thin map (1 or 3 channels) computed as a matrix product.

G's last layer (a transposed convolution, 64 -> 1 channel) and the input gradient of D's first
(a convolution 1 -> 64, whose input gradient is the same operation) are slow on oneDNN's
convolution kernels, which are made for wide outputs. Written out, that operation is one product of
the wide map's pixel rows with the weight ((N*H*W x 64) times (64 x k*k*C)), where oneDNN's matmul
is fast, and a col2im sum of the products back into the thin map's patches. The rest stays on
oneDNN's convolution, which is fast there: a convolution from a thin map (D's first layer forward,
G's last layer's input gradient) and the weight gradients.

_ThinConvT is that operation. Its gradients are a thin-input convolution and a weight gradient,
PyTorch's own differentiable ops, and _ThinConv (a convolution from a thin map) takes its input
gradient through _ThinConvT, so a double backward (WGAN-GP, R1) runs on them like on any op.
Maps are channels-last: a (N, C, H, W) tensor whose memory is (N, H, W, C), so a row per pixel is
a view, not a copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .linear import matmul_t, onednn_usable

Tensor = torch.Tensor


@dataclass(frozen=True)
class Geometry:
    """A convolution's shape between the thin map x and the wide map y, one pixel of y per patch of x."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    size: tuple[int, int]  # x's height and width
    out: tuple[int, int]  # y's height and width

    @staticmethod
    def of(module: nn.Module, size: tuple[int, int], out: tuple[int, int]) -> "Geometry":
        return Geometry(module.kernel_size, module.stride, module.padding, size, out)


def _rows(t: Tensor) -> Tensor:
    """(N, C, H, W) -> (N*H*W, C): a view of a channels-last map."""
    return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])


def _weight_rows(w: Tensor) -> Tensor:
    """(O, C, kh, kw) -> (O, kh*kw*C), the order of the patch rows; a view of a channels-last weight."""
    return w.permute(0, 2, 3, 1).reshape(w.shape[0], -1)


def _fold(rows: Tensor, n: int, c: int, g: Geometry) -> Tensor:
    """col2im: each row of (N*Ho*Wo, kh*kw*C) added back over the k x k patch it belongs to; channels-last.
    With the kernel a multiple of the stride (k = q*s), a patch covers q x q whole s x s blocks, so the
    rows add back in q*q block-aligned sums instead of k*k strided ones."""
    (kh, kw), (sh, sw), (ph, pw), (ho, wo), (h, w) = g.kernel, g.stride, g.padding, g.out, g.size
    qh, qw = kh // sh, kw // sw
    cols = rows.view(n, ho, wo, qh, sh, qw, sw, c)
    # blocks of the zero-padded map; rows past the last patch stay zero (a transposed convolution's output_padding)
    bh, bw = max(ho + qh - 1, -(-(h + 2 * ph) // sh)), max(wo + qw - 1, -(-(w + 2 * pw) // sw))
    full = rows.new_zeros(n, bh, sh, bw, sw, c)
    for a in range(qh):
        for b in range(qw):
            full[:, a:a + ho, :, b:b + wo] += cols[:, :, :, a, :, b].transpose(2, 3)
    full = full.view(n, bh * sh, bw * sw, c)[:, ph:ph + h, pw:pw + w]
    return full.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)


def _weight_grad(x: Tensor, y: Tensor, w: Tensor, g: Geometry) -> Tensor:
    """The gradient of conv(x, w) in w for output gradient y: PyTorch's own kernel, which has a
    derivative of its own (a double backward differentiates it)."""
    return torch.ops.aten.convolution_backward(y, x, w, None, g.stride, g.padding, (1, 1), False, (0, 0), 1,
                                               (False, True, False))[1]


class _ThinConvT(torch.autograd.Function):
    """x = conv_t(y, w): a transposed convolution onto a thin map, as a product and a col2im sum."""

    @staticmethod
    def forward(ctx, y: Tensor, w: Tensor, g: Geometry) -> Tensor:
        ctx.save_for_backward(y, w)
        ctx.geometry = g
        rows = matmul_t(_rows(y), _weight_rows(w).t(), None)  # (N*Ho*Wo, kh*kw*C)
        return _fold(rows, y.shape[0], w.shape[1], g)

    @staticmethod
    def backward(ctx, gx: Tensor):
        y, w = ctx.saved_tensors
        g = ctx.geometry
        need_y, need_w = ctx.needs_input_grad[:2]
        gy = F.conv2d(gx, w, None, g.stride, g.padding) if need_y else None  # the adjoint: a thin-input convolution
        gw = _weight_grad(gx, y, w, g) if need_w else None
        return gy, gw, None


class _ThinConv(torch.autograd.Function):
    """y = conv(x, w) + b on a thin input: oneDNN's convolution, with the input gradient through _ThinConvT."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, b: Tensor | None, g: Geometry) -> Tensor:
        ctx.save_for_backward(x, w)
        ctx.geometry, ctx.has_bias = g, b is not None
        return F.conv2d(x, w, b, g.stride, g.padding)

    @staticmethod
    def backward(ctx, gy: Tensor):
        x, w = ctx.saved_tensors
        g = ctx.geometry
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = _ThinConvT.apply(gy, w, g) if need_x else None
        gw = _weight_grad(x, gy, w, g) if need_w else None
        gb = gy.sum((0, 2, 3)) if ctx.has_bias and need_b else None
        return gx, gw, gb, None


class Conv2d(nn.Conv2d):
    """nn.Conv2d (same parameters, same state_dict) whose input gradient is a product when `product_path` is set."""

    product_path = False  # set by use_product_path

    def forward(self, x: Tensor) -> Tensor:
        if not (self.product_path and onednn_usable(x, self.weight)):
            return super().forward(x)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        h, w = x.shape[2:]
        g = Geometry.of(self, (h, w), ((h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1))
        return _ThinConv.apply(x, self.weight, self.bias, g)


class ConvTranspose2d(nn.ConvTranspose2d):
    """nn.ConvTranspose2d (same parameters, same state_dict) computed as a product when `product_path` is set."""

    product_path = False  # set by use_product_path

    def forward(self, y: Tensor, output_size: list[int] | None = None) -> Tensor:
        if not (self.product_path and output_size is None and onednn_usable(y, self.weight)):
            return super().forward(y, output_size)
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = self.kernel_size, self.stride, self.padding, self.output_padding
        ho, wo = y.shape[2:]
        g = Geometry.of(self, ((ho - 1) * sh - 2 * ph + kh + oh, (wo - 1) * sw - 2 * pw + kw + ow), (ho, wo))
        x = _ThinConvT.apply(y, self.weight, g)
        return x if self.bias is None else x + self.bias.view(1, -1, 1, 1)


# The thin side's channels times the kernel's area up to which the product path pays (docs/performance.md).
MAX_PATCH = 64


def _thin(m: nn.Module) -> bool:
    """A plain (ungrouped, undilated, zero-padded) convolution whose image side is thin."""
    plain = m.groups == 1 and m.dilation == (1, 1) and m.padding_mode == "zeros" and not isinstance(m.padding, str)
    plain = plain and all(k % s == 0 for k, s in zip(m.kernel_size, m.stride))  # what _fold's block sums need
    thin_channels = m.in_channels if isinstance(m, Conv2d) else m.out_channels
    return plain and thin_channels * m.kernel_size[0] * m.kernel_size[1] <= MAX_PATCH


def use_product_path(module: nn.Module, on: bool = True) -> int:
    """Switch the thin convolutions of `module` onto the product path, or all back to oneDNN's
    convolution; returns how many are switched."""
    switched = 0
    for m in module.modules():
        if isinstance(m, (Conv2d, ConvTranspose2d)):
            m.product_path = on and _thin(m)
            switched += m.product_path
    return switched
