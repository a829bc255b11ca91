"""Text-to-image: GAN-INT-CLS (Reed et al. 2016, "Generative adversarial text to image synthesis").

A caption's words go through D's text encoder (word embeddings + GRU) to a sentence embedding e.
G draws G(z, e); D scores an image together with an embedding. D is matching-aware: it learns
whether a caption describes an image, from three kinds of pairs,

    L_D = loss.d_real(D(x, e_right)) + 1/2 [loss.d_fake(D(x, e_wrong)) + loss.d_fake(D(G(z, e_fake), e_fake))],

real images with their own captions (real), real images with other captions (fake: wrong text) and
G's images with the captions they were drawn for (fake), the last two averaged. e_fake and e_wrong
are one draw of training captions, so a caption is seen once beside a real image it does not
describe and once beside a fake drawn for it. G's loss adds GAN-INT: images for the interpolation
beta e1 + (1 - beta) e2 of two captions' embeddings, which have no real image, are pushed to look
real and to match:

    L_G = loss.g(D(G(z, e), e)) + interp_weight * loss.g(D(G(z, e_int), e_int)).

With `text.embed_noise` sigma > 0, G takes e + N(0, sigma^2) in training (`noisy`: in both terms and
in the fakes D scores) while D scores its image against e itself: G learns to draw a caption's content
from embeddings around its own, as another phrasing's embedding of it lies (docs/text-to-image.md).

The text encoder is pre-trained, as Reed et al. do, and then kept fixed (`text.pretrain_steps` > 0):
before the GAN's first step, it and a small image encoder are trained on a joint image-text
embedding (DS-SJE, Reed et al. 2016, "Learning deep representations of fine-grained visual
descriptions"): over a batch of image-caption pairs, each image has to pick its own caption among
the batch's captions by cosine score, and each caption its own image (`joint_embedding_loss`). The
image encoder is then dropped; the text encoder's weights stay in D (so the checkpoint holds them)
and take no gradient in the GAN. Pre-training is what makes the digit word count: trained by D's
loss alone (`text.pretrain_steps=0`, kept to compare), the encoder learnt which words matter too
slowly, and G drew any digit for any digit word (docs/text-to-image.md). G takes the embedding as
given in either case (it is detached for G, and D's weights are frozen in G's step).
"""

from __future__ import annotations

import contextlib
import copy
from typing import Callable

import torch
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm

from ..config import Config
from ..data import Dataset
from ..data.captions import Vocabulary
from ..errors import UserError
from ..nets import ImageEncoder, TextDiscriminator, TextGenerator, dcgan_init
from ..objectives import LOSSES, Loss
from .gan import Batch, GANRecipe, merge_stats
from .options import GANOptions

Tensor = torch.Tensor


def matching_aware_d_loss(loss: Loss, real_right: Tensor, real_wrong: Tensor, fake_right: Tensor) -> Tensor:
    """D's three terms from its logits for (real image, right text), (real image, wrong text) and
    (fake image, right text): the first scored as real, the other two as fake and averaged."""
    return loss.d_real(real_right) + 0.5 * (loss.d_fake(real_wrong) + loss.d_fake(fake_right))


# The joint embedding's scores are cosine similarities divided by this temperature: 0.1 lets a
# softmax over a batch of 128 put nearly all its weight on one pair (a cosine 0.5 above the rest is a
# factor e^5), where raw cosines would leave it close to uniform.
TEMPERATURE = 0.1


def joint_embedding_loss(image_emb: Tensor, text_emb: Tensor, tokens: Tensor,
                         temperature: float = TEMPERATURE) -> tuple[Tensor, Tensor]:
    """The symmetric objective of the joint embedding over a batch of n image-caption pairs (DS-SJE's
    two directions, as a softmax over the batch): pair i's image classifies which of the n captions is
    its own, and its caption which of the n images; the two cross-entropies averaged. Another pair
    whose caption has the very same words as pair i's is no negative of it: it is left out of both
    softmaxes. Returns (loss, the share of images whose own caption scores highest)."""
    scores = F.normalize(image_emb, dim=1) @ F.normalize(text_emb, dim=1).T / temperature
    n = len(scores)
    own = torch.arange(n, device=scores.device)
    same = (tokens[:, None] == tokens[None]).all(-1) & ~torch.eye(n, dtype=torch.bool, device=scores.device)
    scores = scores.masked_fill(same, float("-inf"))
    loss = 0.5 * (F.cross_entropy(scores, own) + F.cross_entropy(scores.T, own))
    return loss, (scores.argmax(1) == own).float().mean()


def one_caption_each(table: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """(N, K, L) word indices of each image's captions (missing ones all padding) -> (N, L): one
    caption per image, drawn uniformly among its own from `generator` (default: the global random
    state, which checkpoints hold). With one caption per image nothing is drawn."""
    if table.shape[1] == 1:
        return table[:, 0]
    counts = (table[:, :, 0] != 0).sum(1)
    device = table.device if generator is None else generator.device
    pick = (torch.rand(len(table), generator=generator, device=device).to(table.device) * counts).long()
    return table[torch.arange(len(table), device=table.device), pick]


def augment_captions(tokens: Tensor, drop: float, swaps: int, generator: torch.Generator | None = None) -> Tensor:
    """Captions (N, L) of word indices, padding (0) after the words, with words dropped and swapped
    (EDA's random deletion and random swap, Wei & Zou 2019): each word is dropped with probability
    `drop` (a caption that would lose every word keeps them all), the rest close up, then two of
    its words, drawn uniformly, trade places `swaps` times. Draws from `generator` (default: the global
    random state, which checkpoints hold). A new tensor; `tokens` is left as it is."""
    device = tokens.device if generator is None else generator.device
    out = tokens.clone()
    n, length = out.shape
    if drop:
        words = out != 0
        keep = words & (torch.rand(n, length, generator=generator, device=device).to(out.device) >= drop)
        lost = ~keep.any(1)
        keep[lost] = words[lost]
        # the kept words, in their order, to the front: sort positions by (dropped, position)
        order = torch.argsort((~keep).long() * length + torch.arange(length, device=out.device), dim=1)
        out = torch.where(keep, out, 0).gather(1, order)
    lengths = (out != 0).sum(1)
    rows = torch.arange(n, device=out.device)
    for _ in range(swaps):
        i, j = ((torch.rand(2, n, generator=generator, device=device).to(out.device) * lengths).long())
        first = out[rows, i]
        out[rows, i] = out[rows, j]
        out[rows, j] = first
    return out


class TextToImageRecipe(GANRecipe):
    reuses_fake = True
    needs_images = True
    draws_from_noise = True
    d_scores_images = False  # D judges an image with a caption's embedding
    # No class labels, remedies or penalties: the caption is the condition, and D's own pass is one
    # batch of three kinds of pairs.
    config_keys = ("loss", "model.z_dim", "model.g_width", "model.d_width", "model.spectral_norm", "model.g_refine",
                   "remedies.ema", "text")

    def __init__(self, cfg: Config, data: Dataset, autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext):
        # GANRecipe's own constructor builds the noise-to-sample nets; this one builds its own and
        # sets what GANRecipe's shared methods read (loss, z_dim, options, G, D, G_ema). Of the GAN's
        # options it takes the EMA of G (sampling, grids and `gankit sample` use it).
        if data.captions is None:
            raise UserError(f"recipe 'text2img' needs captioned images, and data '{data.name}' has no captions "
                            f"(use data.source=mnist-captions, or a folder of name.png beside name.txt, or with a captions.jsonl)")
        self.cfg, self.autocast = cfg, autocast
        self.opt = GANOptions(ema=cfg.remedies.ema)
        self.z_dim, self.loss = cfg.model.z_dim, LOSSES[cfg.loss]
        self.conditional = False  # no class labels
        self.num_classes = data.num_classes
        self.text = cfg.text
        every_caption = [caption for mine in data.captions for caption in mine]
        self.vocabulary = Vocabulary.from_captions(every_caption)
        # Every training caption as word indices (M, L): the pool fakes' captions are drawn from.
        self.tokens = self.vocabulary.encode(every_caption, source=f"data '{data.name}': caption")
        # Each image's captions (N, K, L), K the most any image has, an image's missing ones all
        # padding: what a real batch carries, one of them drawn per image each time (`one_caption_each`).
        counts = torch.tensor([len(mine) for mine in data.captions])
        self.caption_table = torch.zeros(len(counts), int(counts.max()), self.tokens.shape[1], dtype=torch.int64)
        image = torch.repeat_interleave(torch.arange(len(counts)), counts)
        slot = torch.arange(len(image)) - torch.repeat_interleave(counts.cumsum(0) - counts, counts)
        self.caption_table[image, slot] = self.tokens
        self._tokens_on: dict[torch.device, Tensor] = {}
        m, t = cfg.model, cfg.text
        channels, resolution = data.sample_shape[0], data.sample_shape[1]
        self.G = TextGenerator(m.z_dim, t.embed_dim, t.compressed, resolution, channels, m.g_width, m.g_refine)
        # Batch norm in D unless spectrally normalised, as in the DCGAN.
        self.D = TextDiscriminator(len(self.vocabulary), t.word_dim, t.embed_dim, t.compressed, resolution, channels,
                                   m.d_width, batch_norm=not m.spectral_norm, projection=t.projection)
        # DCGAN's N(0, 0.02) init for the image layers; the text layers keep PyTorch's own (the encoder's
        # GRU and embeddings, the compression layers), so that the text features are not small beside
        # the image features they are joined to (docs/text-to-image.md).
        for net in (self.G.base, self.D.features, self.D.joint, self.D.head):
            net.apply(dcgan_init)
        if m.spectral_norm:
            for module in [*self.D.features.modules(), *self.D.joint.modules(), self.D.head]:
                if isinstance(module, torch.nn.Conv2d):
                    spectral_norm(module)
        self.encoder = self.D.encoder  # kept apart from D, which distributed training wraps
        # A pre-trained encoder takes no gradient in the GAN (frozen before distributed training wraps
        # D, so that D's reducer never waits for it): D's optimiser holds its weights but, without
        # gradients, leaves them as they are.
        self.frozen_encoder = t.pretrain_steps > 0
        self.image_encoder: torch.nn.Module | None = None  # the joint embedding's image side, once pre-trained
        if self.frozen_encoder:
            self.encoder.requires_grad_(False)
        # A D with batch statistics scores real pairs and fakes in passes of their own: G's step shows it
        # fakes alone, and statistics of a mixed batch would let it score the same fakes apart (measured:
        # D(G(z)) 0.001 in D's step, 0.98 in G's, after 450 steps of text-mnist with one mixed pass).
        # Without batch norm all three kinds of pairs go in one pass.
        self.joint_d = not any(isinstance(mod, torch.nn.BatchNorm2d) for mod in self.D.modules())
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False) if self.opt.ema > 0 else None

    # ---- what the loop calls ---------------------------------------------------------------
    def pretrain(self, data: Dataset, device: torch.device, seed: int) -> dict:
        """The text encoder's pre-training (`text.pretrain_steps` steps of `joint_embedding_loss`),
        which the loop runs once before a fresh run's first GAN step. Everything it draws comes from
        `seed` (the image encoder's initialisation and the batches), under a forked global random
        state, so the GAN that follows draws what it would without it. Returns what the loop logs."""
        t = self.text
        if not t.pretrain_steps:
            return {}
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            images = ImageEncoder(data.resolution, data.channels, self.cfg.model.d_width, t.embed_dim).to(device)
            gen = torch.Generator().manual_seed(seed)
            self.encoder.requires_grad_(True)
            opt = torch.optim.Adam([*self.encoder.parameters(), *images.parameters()], lr=t.pretrain_lr)
            n, first, last = min(t.pretrain_batch, len(data)), [], []
            window = max(1, min(50, t.pretrain_steps // 2))  # steps averaged for the first and last figures
            try:
                for step in range(t.pretrain_steps):
                    idx = torch.randperm(len(data), generator=gen)[:n]
                    caption = self.augmented(one_caption_each(self.caption_table[data.rows(idx)], gen), gen).to(device)
                    with self.autocast():
                        loss, accuracy = joint_embedding_loss(images(data.take(idx).to(device)), self.encoder(caption), caption)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    if step < window:
                        first.append(torch.stack([loss.detach(), accuracy]))
                    if step >= t.pretrain_steps - window:
                        last.append(torch.stack([loss.detach(), accuracy]))
            finally:
                self.encoder.requires_grad_(False)
                self.encoder.zero_grad(set_to_none=True)
        # Kept for inspection (the tests score pairs with it); no checkpoint holds it, as nothing after
        # the pre-training uses it.
        self.image_encoder = images.requires_grad_(False)
        (loss0, acc0), (loss1, acc1) = torch.stack(first).mean(0).tolist(), torch.stack(last).mean(0).tolist()
        return {"what": "text encoder (joint image-text embedding)", "steps": t.pretrain_steps, "batch": n,
                "loss_first": round(loss0, 4), "loss_last": round(loss1, 4),
                "top1_first": round(acc0, 4), "top1_last": round(acc1, 4)}  # top1: share of images whose own caption scores highest

    def real_labels(self, data: Dataset) -> Tensor:
        """What a real batch carries beside its images: all its captions' word indices (N, K, L)."""
        return self.caption_table

    def sample_labels(self, n: int, generator: torch.Generator) -> Tensor:
        """Captions for fakes: n training captions drawn uniformly, as word indices (n, L)."""
        device = generator.device
        if device not in self._tokens_on:
            self._tokens_on[device] = self.tokens.to(device)
        idx = torch.randint(0, len(self.tokens), (n,), generator=generator, device=device)
        return self._tokens_on[device][idx]

    def augmented(self, tokens: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Training captions with `text.word_drop` and `text.word_swaps` applied (`augment_captions`),
        so that G and D meet each caption's content in more wordings than the data's own."""
        t = self.text
        return augment_captions(tokens, t.word_drop, t.word_swaps, generator) if t.word_drop or t.word_swaps else tokens

    def training_labels(self, n: int, generator: torch.Generator) -> Tensor:
        """A training batch's fakes' captions: `sample_labels`', augmented."""
        return self.augmented(self.sample_labels(n, generator), generator)

    def text_embedding(self, tokens: Tensor) -> Tensor:
        """Sentence embeddings (N, embed_dim) of word indices, as G (and D, when the encoder is
        pre-trained and frozen) takes them: no gradient to the encoder."""
        with torch.no_grad():
            return self.encoder(tokens)

    def noisy(self, embedding: Tensor) -> Tensor:
        """The embedding as G takes it in training: with N(0, text.embed_noise^2) noise on each number
        (from the global random state, which checkpoints hold), so that G draws the caption's content
        from embeddings around the training captions' own, as other phrasings' embeddings lie; D still
        scores G's image against the caption's own embedding. Unchanged in eval mode (sampling)."""
        sigma = self.text.embed_noise
        if not sigma or not self.G.training:
            return embedding
        return embedding + sigma * torch.randn_like(embedding)

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """G's images for latents z and captions `labels` (word indices), in training from `noisy`
        embeddings."""
        return self.G(z, self.noisy(self.text_embedding(labels)))

    def sample(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images for grids and `gankit sample`: the EMA generator's when there is one."""
        return self.sampler(z, self.text_embedding(labels))

    def sample_from_embedding(self, z: Tensor, embedding: Tensor) -> Tensor:
        """The sampler's images for given sentence embeddings (interpolation between captions)."""
        return self.sampler(z, embedding)

    def d_loss(self, batch: Batch, fake: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """The matching-aware loss: D over [x, x, G(z)] with [right, wrong, the fakes' own] texts, in one
        pass, or in two ([x, x], then G(z)) when D has batch norm. The wrong texts are the fakes'
        captions, drawn independently of the real batch."""
        fake = (self.fakes_for_d(batch) if fake is None else fake).detach()
        n = len(batch.real)
        encode = self.text_embedding if self.frozen_encoder else self.encoder
        right, other = encode(torch.cat([self.augmented(one_caption_each(batch.labels)), batch.fake_labels])).split(n)
        if self.joint_d:
            logits = self.D(torch.cat([batch.real, batch.real, fake]), torch.cat([right, other, other]))
        else:
            logits = torch.cat([self.D(torch.cat([batch.real, batch.real]), torch.cat([right, other])), self.D(fake, other)])
        real_right, real_wrong, fake_right = logits.split(n)
        loss = matching_aware_d_loss(self.loss, real_right, real_wrong, fake_right)
        stats = {"loss_d": loss.detach(), "d_real": self._squash(real_right), "d_wrong": self._squash(real_wrong),
                 "d_fake": self._squash(fake_right)}
        return loss, stats

    def d_backward(self, batch: Batch, fake: Tensor | None = None) -> dict[str, Tensor]:
        """D's phase: `d_loss` in one graph, backpropagated once."""
        with self.autocast():
            loss, stats = self.d_loss(batch, fake)
        loss.backward()
        return stats

    def g_loss(self, batch: Batch, fake: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        e = self.text_embedding(batch.fake_labels)
        if fake is None:
            fake = self.G(batch.z, self.noisy(e))
        loss = self.loss.g(self.D(fake, e))
        stats = {"loss_g_cls": loss.detach()}
        if self.text.interp_weight:
            beta = self.text.interp_beta
            mixed = beta * e + (1 - beta) * e.roll(1, 0)  # caption i with caption i - 1 of the batch
            interp = self.loss.g(self.D(self.G(batch.z, self.noisy(mixed)), mixed))
            loss = loss + self.text.interp_weight * interp
            merge_stats(stats, {"loss_g_int": interp.detach()})
        return loss, {"loss_g": loss.detach(), **stats}

    # ---- for users ---------------------------------------------------------------------------
    def encode_text(self, texts: list[str], source: str = "--text") -> Tensor:
        """Word indices (N, L) of the users' captions; an unknown word is a UserError naming it."""
        return self.vocabulary.encode(texts, source)

    def decode_text(self, tokens: Tensor) -> list[str]:
        """Captions from word indices: the words joined by spaces (punctuation is not kept)."""
        return [" ".join(self.vocabulary.words[i - 1] for i in row if i) for row in tokens.tolist()]

