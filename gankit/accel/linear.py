"""Linear layers whose products can run on oneDNN's matmul instead of the BLAS.

On CPU, PyTorch's `F.linear` and `@` call MKL's sgemm, which on some CPUs takes a narrower vector
path than oneDNN (MKL picks its kernels by vendor, oneDNN by instruction set). `onednn_linear` runs the
forward and both gradients on oneDNN's matmul (`mkldnn._linear_pointwise`, the op torch.compile's CPU
backend uses for linear layers). The weights and the checkpoints stay those of nn.Linear; only where
the product runs changes.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import register_flop_formula

Tensor = torch.Tensor

_ONEDNN_AVAILABLE = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def onednn_usable(*tensors: Tensor) -> bool:
    """Whether oneDNN's matmul can take these tensors: float32 on CPU outside autocast, in a PyTorch built with it."""
    return (_ONEDNN_AVAILABLE and all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)
            and not torch.is_autocast_enabled("cpu"))


def matmul_t(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    """x @ w.T + b on oneDNN for 2-d tensors that are `onednn_usable`; x and w may be transposed
    views (oneDNN reads the strides)."""
    return torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")


if _ONEDNN_AVAILABLE:
    @register_flop_formula(torch.ops.mkldnn._linear_pointwise)
    def _matmul_flop(x_shape, w_shape, *args, **kwargs) -> int:
        """What `gankit bench speed` counts for one product: 2 * rows * in * out, as for mm."""
        return 2 * x_shape[0] * x_shape[1] * w_shape[0]


class _OneDNNLinear(torch.autograd.Function):
    """y = x w^T + b, with both gradients again products of this function (on views, no copies), so
    a double backward (WGAN-GP, R1) differentiates them like any other op."""

    @staticmethod
    def forward(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
        return matmul_t(x, w, b)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, w, b = inputs
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        grad_x = _OneDNNLinear.apply(grad, w.t(), None) if need_x else None  # grad w
        grad_w = _OneDNNLinear.apply(grad.t(), x.t(), None) if need_w else None  # grad^T x
        grad_b = grad.sum(0) if ctx.has_bias and need_b else None
        return grad_x, grad_w, grad_b


def onednn_linear(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    """F.linear(x, w, b) on oneDNN where it can run there (float32 on CPU outside autocast);
    F.linear itself elsewhere, so the switch never changes what is computed, only where."""
    if not onednn_usable(x, w):
        return F.linear(x, w, b)
    lead = x.shape[:-1]
    y = _OneDNNLinear.apply(x.reshape(-1, x.shape[-1]), w, b)
    return y.view(*lead, w.shape[0])


class Linear(nn.Linear):
    """nn.Linear (same parameters, same state_dict) whose product runs on oneDNN when `onednn` is set."""

    onednn = False  # set by use_onednn

    def forward(self, x: Tensor) -> Tensor:
        return onednn_linear(x, self.weight, self.bias) if self.onednn else F.linear(x, self.weight, self.bias)


# oneDNN's matmul costs more per call than MKL's and wins only on large products (both sides of at least
# this many features; docs/performance.md).
MIN_FEATURES = 256


def use_onednn(module: nn.Module, on: bool = True) -> int:
    """Switch the linear layers of `module` that are large enough to gain (both sides of at least
    MIN_FEATURES) onto oneDNN, or all of them back to F.linear; returns how many run on oneDNN."""
    switched = 0
    for m in module.modules():
        if isinstance(m, Linear):
            m.onednn = on and min(m.in_features, m.out_features) >= MIN_FEATURES
            switched += m.onednn
    return switched
