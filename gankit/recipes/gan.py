"""The noise-to-sample GAN: G maps z ~ N(0, I) to a sample, D scores samples with one logit."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from ..config import Config
from ..data import Dataset
from ..nets import build_nets
from ..objectives import LOSSES

Tensor = torch.Tensor


@dataclass
class Batch:
    """What one D or G step sees: a real batch (with its labels, if any), latents, and the labels
    the fakes are drawn for (None when unconditional)."""

    real: Tensor
    labels: Tensor | None
    z: Tensor
    fake_labels: Tensor | None


class GANRecipe:
    def __init__(self, cfg: Config, data: Dataset):
        self.cfg = cfg
        self.z_dim = cfg.model.z_dim
        self.loss = LOSSES[cfg.loss]
        self.G, self.D = build_nets(cfg, tuple(data.x.shape[1:]))

    def modules(self) -> dict[str, nn.Module]:
        """Every network whose weights a checkpoint holds."""
        return {"G": self.G, "D": self.D}

    def g_parameters(self):
        """What the generator's optimiser trains (VAE-GAN adds its encoder)."""
        return self.G.parameters()

    def sample_z(self, n: int, generator: torch.Generator) -> Tensor:
        return torch.randn(n, self.z_dim, generator=generator, device=generator.device)

    def sample_labels(self, n: int, generator: torch.Generator) -> Tensor | None:
        """Labels for fake samples; None for an unconditional model."""
        return None

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.G(z)

    def _d_stats(self, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        squash = torch.sigmoid if self.loss.probabilities else (lambda t: t)
        return {"d_real": squash(real.detach()).mean(), "d_fake": squash(fake.detach()).mean()}

    def d_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        """D's loss on a real and a fake batch; G is frozen (no graph through it)."""
        with torch.no_grad():
            fake = self.generate(batch.z, batch.fake_labels)
        real_logits, fake_logits = self.D(batch.real), self.D(fake)
        loss = self.loss.d(real_logits, fake_logits)
        return loss, {"loss_d": loss.detach(), **self._d_stats(real_logits, fake_logits)}

    def g_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        """G's loss through D; the loop has switched off D's weight gradients. Recipes that need
        real data in G's step (SRGAN's content loss, VAE-GAN's encoder) find it in `batch.real`."""
        fake_logits = self.D(self.generate(batch.z, batch.fake_labels))
        loss = self.loss.g(fake_logits)
        return loss, {"loss_g": loss.detach()}

    def after_d_step(self) -> None:
        """Hook for constraints applied after each D update (WGAN's weight clipping)."""
