"""Run a fully convolutional image net (an upscaler, a translator) on an image of any size, tile by
tile, with an overlap so that the seams vanish: super-resolution and image-to-image translation
both use it.

Each tile is cut with `overlap` extra input pixels on every side (where the image has them), passed
through the net, and only its centre is kept. When the overlap covers the network's receptive field,
the result is the same as running the whole image at once (BN in eval mode makes the net
translation-equivariant).
"""

from __future__ import annotations

import torch


@torch.no_grad()
def upscale_tiled(net, lr: torch.Tensor, scale: int, tile: int = 128, overlap: int = 32) -> torch.Tensor:
    """lr (1, C, H, W) -> (1, C', H*scale, W*scale); tiles of `tile` input pixels, `overlap` on each
    side; scale 1 for a net whose output has its input's size."""
    _, _, h, w = lr.shape
    if h <= tile and w <= tile:
        return net(lr)
    out = None
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            t0, l0 = max(top - overlap, 0), max(left - overlap, 0)
            t1, l1 = min(top + tile + overlap, h), min(left + tile + overlap, w)
            sr = net(lr[:, :, t0:t1, l0:l1])
            if out is None:
                out = sr.new_empty(1, sr.shape[1], h * scale, w * scale)
            bottom, right = min(top + tile, h), min(left + tile, w)
            out[:, :, top * scale : bottom * scale, left * scale : right * scale] = sr[
                :, :, (top - t0) * scale : (bottom - t0) * scale, (left - l0) * scale : (right - l0) * scale]
    return out
