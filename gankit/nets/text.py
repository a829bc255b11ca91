"""Text-to-image nets after Reed et al. 2016 (GAN-INT-CLS), on the DCGAN nets.

- `TextEncoder`: word embeddings and a bidirectional GRU; the sentence embedding is its two final
  states (after the caption's last word forwards, after its first backwards).
- `TextGenerator`: the embedding compressed by a linear layer and a leaky ReLU, joined to z, into
  the DCGAN generator.
- `TextDiscriminator`: the DCGAN discriminator's convolutional features; the compressed embedding
  replicated over their spatial map and joined to them as channels; a 1x1 convolution and a leaky
  ReLU mix the two; a convolution over the whole map gives the logit. It owns the text encoder, so
  that D's matching-aware loss (does this text describe this image?) is what trains the encoder.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence

from ..accel import Conv2d, Linear
from .dcgan import DCGANDiscriminator, DCGANGenerator, stages

Tensor = torch.Tensor


class TextEncoder(nn.Module):
    """(N, L) word indices, 0 = padding after the caption's words -> (N, dim) sentence embeddings:
    the final states of a bidirectional GRU, dim / 2 units each, joined. The forward state holds
    most of the caption's last words, the backward one most of its first: with the forward state
    alone a G trained on text-mnist (whose phrasings mostly end in the slant and name the digit
    early) followed the slant and drew any digit for any digit word, and with the mean of the
    forward states D learnt to tell captions apart slower still (docs/text-to-image.md)."""

    def __init__(self, vocab_size: int, word_dim: int, dim: int):
        super().__init__()
        if dim % 2:
            raise ValueError(f"the sentence embedding's size must be even (two directions), got {dim}")
        self.embed = nn.Embedding(vocab_size, word_dim, padding_idx=0)
        self.gru = nn.GRU(word_dim, dim // 2, batch_first=True, bidirectional=True)

    def forward(self, tokens: Tensor) -> Tensor:
        lengths = (tokens != 0).sum(1).clamp_min(1).cpu()  # pack_padded_sequence takes CPU lengths
        packed = pack_padded_sequence(self.embed(tokens), lengths, batch_first=True, enforce_sorted=False)
        _, h = self.gru(packed)  # (2, N, dim / 2): after the last word forwards, after the first backwards
        return torch.cat([h[0], h[1]], 1)


def compressor(embed_dim: int, out: int) -> nn.Sequential:
    """Reed et al.: the sentence embedding through a fully connected layer and a leaky ReLU (0.2)."""
    return nn.Sequential(Linear(embed_dim, out), nn.LeakyReLU(0.2, True))


class TextGenerator(nn.Module):
    """G(z, e) = DCGAN-G([z, compress(e)]) for sentence embeddings e (N, embed_dim)."""

    def __init__(self, z_dim: int, embed_dim: int, compressed: int, resolution: int, channels: int,
                 width: int, refine: bool = False):
        super().__init__()
        self.compress = compressor(embed_dim, compressed)
        self.base = DCGANGenerator(z_dim + compressed, resolution, channels, width, refine)

    def forward(self, z: Tensor, embedding: Tensor) -> Tensor:
        return self.base(torch.cat([z, self.compress(embedding)], 1))


class TextDiscriminator(nn.Module):
    """D(x, e): one logit per image and sentence embedding; `encoder` turns captions into e."""

    def __init__(self, vocab_size: int, word_dim: int, embed_dim: int, compressed: int, resolution: int,
                 channels: int, width: int, batch_norm: bool = True):
        super().__init__()
        self.encoder = TextEncoder(vocab_size, word_dim, embed_dim)
        self.features = DCGANDiscriminator(resolution, channels, width, batch_norm).features
        base, n = stages(resolution)
        ch = width * 2 ** (n - 1)  # the features' channels on their base x base map
        self.compress = compressor(embed_dim, compressed)
        self.joint = nn.Sequential(Conv2d(ch + compressed, ch, 1), nn.LeakyReLU(0.2, True))
        self.head = Conv2d(ch, 1, base)

    def forward(self, x: Tensor, embedding: Tensor) -> Tensor:
        h = self.features(x)
        t = self.compress(embedding)[:, :, None, None].expand(-1, -1, *h.shape[2:])
        return self.head(self.joint(torch.cat([h, t.to(h.dtype)], 1))).flatten()
