"""pix2pix (Isola et al. 2017): paired translation A -> B.

G is a U-Net whose only noise is dropout; D is a PatchGAN that sees the input beside the image, (A, B)
as real and (A, G(A)) as fake. The losses:

    L_D = loss.d_real(D(A, B)) + loss.d_fake(D(A, G(A)))
    L_G = adv_weight x loss.g(D(A, G(A))) + l1_weight x |G(A) - B|_1      (1 and 100 in the paper)

`translation.adv_weight=0` is the paper's L1-only ablation: D is then not trained at all.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from ..config import Config
from ..data import Dataset
from ..errors import UserError
from ..nets import PatchDiscriminator, UNetGenerator, dcgan_init
from ..objectives import LOSSES
from .gan import Batch
from .translation import TranslationRecipe, side_by_side

Tensor = torch.Tensor


class Pix2PixRecipe(TranslationRecipe):
    config_keys = ("loss", "model.g_width", "model.d_width", "translation.adv_weight", "translation.d_layers",
                   "translation.l1_weight", "translation.unet_depth", "translation.dropout")
    directions = ("a2b",)

    def __init__(self, cfg: Config, data: Dataset, autocast=contextlib.nullcontext):
        if cfg.data.pairs != "paired":
            raise UserError(f"config key 'data.pairs': pix2pix learns from paired data, got {cfg.data.pairs!r} "
                            f"(data.pairs=paired; unpaired data: recipe=cyclegan)")
        super().__init__(cfg, data, autocast)
        t = self.t
        if t.unet_depth < 2:
            raise UserError(f"config key 'translation.unet_depth': must be at least 2, got {t.unet_depth}")
        self.loss = LOSSES[cfg.loss]
        self.adv_weight, self.l1_weight = t.adv_weight, t.l1_weight
        self.G = UNetGenerator(self.channels_a, self.channels_b, cfg.model.g_width, t.unet_depth, t.dropout, "batch")
        self.D = PatchDiscriminator(self.channels_a + self.channels_b, cfg.model.d_width, t.d_layers, "batch")
        self.G.apply(dcgan_init)  # the reference code's N(0, 0.02) initialisation
        self.D.apply(dcgan_init)

    @property
    def stride(self) -> int:
        return self.G.stride

    def translator(self, direction: str):
        return self.G

    def translate_batch(self, batch: Batch) -> Tensor:
        return self.G(self.split(batch.real)[0])

    def d_loss(self, batch: Batch, fake: Tensor):
        if not self.adv_weight:
            return None, {}
        a, b = self.split(batch.real)
        real_logits = self.D(torch.cat([a, b], 1))
        fake_logits = self.D(torch.cat([a, fake.detach()], 1))
        real, fake_term = self.loss.d_real(real_logits), self.loss.d_fake(fake_logits)
        return real + fake_term, {"loss_d": (real + fake_term).detach(), "d_real": self._squash(real_logits),
                                  "d_fake": self._squash(fake_logits)}

    def _squash(self, logits: Tensor) -> Tensor:
        return (torch.sigmoid(logits.detach()) if self.loss.probabilities else logits.detach()).mean()

    def g_loss(self, batch: Batch, fake: Tensor):
        a, b = self.split(batch.real)
        l1 = F.l1_loss(fake, b)
        loss = self.l1_weight * l1
        stats = {"loss_l1": l1.detach()}
        if self.adv_weight:
            adv = self.loss.g(self.D(torch.cat([a, fake], 1)))
            loss = loss + self.adv_weight * adv
            stats["loss_adv"] = adv.detach()
        return loss, {"loss_g": loss.detach(), **stats}

    def sample(self, z: Tensor, labels=None) -> Tensor:
        """input | output | target, per example."""
        a, b = self.split(z)
        return side_by_side(a, self.G(a), b)
