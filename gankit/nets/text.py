"""Text-to-image nets after Reed et al. 2016 (GAN-INT-CLS), on the DCGAN nets.

- `TextEncoder`: word embeddings and a bidirectional GRU; the sentence embedding is the mean of its
  outputs over the caption's words.
- `TextGenerator`: the embedding compressed by a linear layer and a leaky ReLU, joined to z, into
  the DCGAN generator.
- `TextDiscriminator`: the DCGAN discriminator's convolutional features; the compressed embedding
  replicated over their spatial map and joined to them as channels; a 1x1 convolution and a leaky
  ReLU mix the two; a convolution over the whole map gives the logit. It owns the text encoder
  (pre-trained and frozen, or trained by D's matching-aware loss when text.pretrain_steps is 0), and
  optionally adds a projection term (Miyato & Koyama 2018): the inner product of its pooled image
  features with a linear map of the embedding.
- `ImageEncoder`: the DCGAN discriminator's features and a linear layer to the sentence embedding's
  size: the image side of the joint embedding the text encoder is pre-trained with (DS-SJE, Reed et
  al. 2016, "Learning deep representations of fine-grained visual descriptions").
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..accel import Conv2d, Linear
from .dcgan import DCGANDiscriminator, DCGANGenerator, stages

Tensor = torch.Tensor


class TextEncoder(nn.Module):
    """(N, L) word indices, 0 = padding after the caption's words -> (N, dim) sentence embeddings:
    a bidirectional GRU (dim / 2 units each way) over the word embeddings, its outputs at each word
    (both directions joined) averaged over the caption's words, as Reed et al.'s char-CNN-RNN
    averages its hidden units over the sequence. Averaged, every word's output counts alike wherever
    it stands; the two final states alone hold most of the first and last words. Pre-trained for
    1,500 steps on text-mnist, an encoder with the final states scored the right digit word highest
    in the held-out phrasing (which names the digit last, where no training phrasing does) for 52% of
    images, the averaged one for 87%, and 96% after 600 steps, against 95-99% in training phrasings
    (docs/text-to-image.md)."""

    def __init__(self, vocab_size: int, word_dim: int, dim: int):
        super().__init__()
        if dim % 2:
            raise ValueError(f"the sentence embedding's size must be even (two directions), got {dim}")
        self.embed = nn.Embedding(vocab_size, word_dim, padding_idx=0)
        self.gru = nn.GRU(word_dim, dim // 2, batch_first=True, bidirectional=True)

    def forward(self, tokens: Tensor) -> Tensor:
        words = tokens != 0
        lengths = words.sum(1).clamp_min(1).cpu()  # pack_padded_sequence takes CPU lengths
        packed = pack_padded_sequence(self.embed(tokens), lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True, total_length=tokens.shape[1])
        mask = words[:, :, None].to(out.dtype)  # (N, L, 1): padding's outputs (zeros) are left out of the mean
        return (out * mask).sum(1) / lengths.to(out.device, out.dtype)[:, None]


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
    """D(x, e): one logit per image and sentence embedding; `encoder` turns captions into e.
    `projection`: the logit adds <sum of the features over the map, W e> (Miyato & Koyama 2018), a
    path by which the embedding reaches the score directly, beside Reed's spatial join."""

    def __init__(self, vocab_size: int, word_dim: int, embed_dim: int, compressed: int, resolution: int,
                 channels: int, width: int, batch_norm: bool = True, projection: bool = False):
        super().__init__()
        self.encoder = TextEncoder(vocab_size, word_dim, embed_dim)
        self.features = DCGANDiscriminator(resolution, channels, width, batch_norm).features
        base, n = stages(resolution)
        ch = width * 2 ** (n - 1)  # the features' channels on their base x base map
        self.compress = compressor(embed_dim, compressed)
        self.joint = nn.Sequential(Conv2d(ch + compressed, ch, 1), nn.LeakyReLU(0.2, True))
        self.head = Conv2d(ch, 1, base)
        self.project = Linear(embed_dim, ch, bias=False) if projection else None

    def forward(self, x: Tensor, embedding: Tensor) -> Tensor:
        h = self.features(x)
        t = self.compress(embedding)[:, :, None, None].expand(-1, -1, *h.shape[2:])
        logit = self.head(self.joint(torch.cat([h, t.to(h.dtype)], 1))).flatten()
        if self.project is not None:
            logit = logit + (h.sum((2, 3)) * self.project(embedding).to(h.dtype)).sum(1)
        return logit


class ImageEncoder(nn.Module):
    """(N, C, H, W) images -> (N, dim): the DCGAN discriminator's features (no batch norm: the joint
    embedding's loss compares the batch's images with each other) flattened, and a linear layer."""

    def __init__(self, resolution: int, channels: int, width: int, dim: int):
        super().__init__()
        self.features = DCGANDiscriminator(resolution, channels, width, batch_norm=False).features
        base, n = stages(resolution)
        self.out = nn.Linear(width * 2 ** (n - 1) * base * base, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.features(x).flatten(1))
