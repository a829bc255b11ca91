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

The text encoder is trained jointly with D, by D's loss alone, rather than pre-trained: the
matching-aware loss is itself the image-text matching objective that Reed et al. pre-train their
encoder on, and trained here it needs no second model or stage. G takes the embedding as given (it
is detached for G, and D's weights are frozen in G's step).
"""

from __future__ import annotations

import contextlib
import copy
from typing import Callable

import torch
from torch.nn.utils.parametrizations import spectral_norm

from ..config import Config
from ..data import Dataset
from ..data.captions import Vocabulary
from ..errors import UserError
from ..nets import TextDiscriminator, TextGenerator, dcgan_init
from ..objectives import LOSSES, Loss
from .gan import Batch, GANRecipe, merge_stats
from .options import GANOptions

Tensor = torch.Tensor


def matching_aware_d_loss(loss: Loss, real_right: Tensor, real_wrong: Tensor, fake_right: Tensor) -> Tensor:
    """D's three terms from its logits for (real image, right text), (real image, wrong text) and
    (fake image, right text): the first scored as real, the other two as fake and averaged."""
    return loss.d_real(real_right) + 0.5 * (loss.d_fake(real_wrong) + loss.d_fake(fake_right))


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
        self.vocabulary = Vocabulary.from_captions(data.captions)
        # Every training caption as word indices (N, L): what a real batch carries, and the pool that
        # fakes' captions are drawn from.
        self.tokens = self.vocabulary.encode(data.captions, source=f"data '{data.name}': caption")
        self._tokens_on: dict[torch.device, Tensor] = {}
        m, t = cfg.model, cfg.text
        channels, resolution = data.sample_shape[0], data.sample_shape[1]
        self.G = TextGenerator(m.z_dim, t.embed_dim, t.compressed, resolution, channels, m.g_width, m.g_refine)
        # Batch norm in D unless spectrally normalised, as in the DCGAN.
        self.D = TextDiscriminator(len(self.vocabulary), t.word_dim, t.embed_dim, t.compressed, resolution, channels,
                                   m.d_width, batch_norm=not m.spectral_norm)
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
        # A D with batch statistics scores real pairs and fakes in passes of their own: G's step shows it
        # fakes alone, and statistics of a mixed batch would let it score the same fakes apart (measured:
        # D(G(z)) 0.001 in D's step, 0.98 in G's, after 450 steps of text-mnist with one mixed pass).
        # Without batch norm all three kinds of pairs go in one pass.
        self.joint_d = not any(isinstance(mod, torch.nn.BatchNorm2d) for mod in self.D.modules())
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False) if self.opt.ema > 0 else None

    # ---- what the loop calls ---------------------------------------------------------------
    def real_labels(self, data: Dataset) -> Tensor:
        """What a real batch carries beside its images: its captions' word indices."""
        return self.tokens

    def sample_labels(self, n: int, generator: torch.Generator) -> Tensor:
        """Captions for fakes: n training captions drawn uniformly, as word indices (n, L)."""
        device = generator.device
        if device not in self._tokens_on:
            self._tokens_on[device] = self.tokens.to(device)
        idx = torch.randint(0, len(self.tokens), (n,), generator=generator, device=device)
        return self._tokens_on[device][idx]

    def text_embedding(self, tokens: Tensor) -> Tensor:
        """Sentence embeddings (N, embed_dim) of word indices, as G takes them: no gradient to the encoder."""
        with torch.no_grad():
            return self.encoder(tokens)

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """G's images for latents z and captions `labels` (word indices)."""
        return self.G(z, self.text_embedding(labels))

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
        right, other = self.encoder(torch.cat([batch.labels, batch.fake_labels])).split(n)
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
            fake = self.G(batch.z, e)
        loss = self.loss.g(self.D(fake, e))
        stats = {"loss_g_cls": loss.detach()}
        if self.text.interp_weight:
            beta = self.text.interp_beta
            mixed = beta * e + (1 - beta) * e.roll(1, 0)  # caption i with caption i - 1 of the batch
            interp = self.loss.g(self.D(self.G(batch.z, mixed), mixed))
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

