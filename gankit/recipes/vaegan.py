"""VAE-GAN (Larsen et al. 2016): a VAE whose decoder is the GAN's generator and whose
reconstruction error is measured in the discriminator's intermediate features.

Encoder E gives q(z|x) = N(mu, diag(exp(logvar))); z = mu + sigma * eps (reparameterisation).
  D's loss:     adversarial, real x against both prior samples G(z_p) and reconstructions G(z).
  E + G's loss: kl_weight * KL(q(z|x) || N(0, I)) + feature_weight * ||D_l(x) - D_l(G(z))||^2
                (+ pixel_weight * ||x - G(z)||^2) + adv_weight * adversarial(G(z_p), G(z)).
D_l is D's last convolutional block (before the logit head). One optimiser trains E and G together
(`g_parameters`), so the encoder also feels the adversarial term; Larsen et al. keep it out of the
encoder's loss, which matters less here than the simplicity of one G step in the shared loop.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from ..config import Config
from ..data import Dataset
from ..nets import Encoder, dcgan_init, flatten_features
from .gan import Batch, GANRecipe
from .options import GANOptions

Tensor = torch.Tensor


def kl_normal(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) summed over latent dimensions, averaged over the batch:
    1/2 sum(mean^2 + exp(logvar) - logvar - 1)."""
    return 0.5 * (mean.pow(2) + logvar.exp() - logvar - 1.0).sum(1).mean()


class VAEGANRecipe(GANRecipe):
    reuses_fake = False  # G's step draws its own batch (the `fake` argument is unused)
    needs_images = True
    # G's step reads D's features directly, past the layers the remedies add; D's step is its own,
    # without penalties or augmentation, and G's without unrolling.
    config_keys = ("loss", "model.arch", "model.z_dim", "model.g_width", "model.d_width", "model.spectral_norm",
               "model.cond_mode", "model.g_layers", "model.d_layers", "model.maxout_pieces", "model.dropout",
               "model.g_batch_norm", "model.g_refine", "remedies.ema", "penalty.clip", "vaegan")

    def __init__(self, cfg: Config, data: Dataset, autocast=contextlib.nullcontext):
        # The EMA of G and weight clipping; no labels, remedies in D or penalties.
        super().__init__(cfg, data, autocast, GANOptions(ema=cfg.remedies.ema, clip=cfg.penalty.clip))
        self.joint_d = False  # real, prior samples and reconstructions: passes of their own
        self.v = cfg.vaegan
        c, r = data.sample_shape[0], data.sample_shape[1]
        self.E = Encoder(r, c, cfg.model.z_dim, cfg.model.d_width)
        self.E.apply(dcgan_init)

    def modules(self):
        return {**super().modules(), "E": self.E}

    def g_parameters(self):
        return list(self.G.parameters()) + list(self.E.parameters())

    def encode(self, images: Tensor) -> Tensor:
        """Latent means of images (N, C, H, W) in [-1, 1]: the point `interpolate` walks between."""
        return self.E(images)[0]

    def reconstruct(self, images: Tensor) -> Tensor:
        return self.G(self.encode(images))

    def _posterior(self, x: Tensor, noise: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mean, logvar = self.E(x)
        logvar = logvar.clamp(-10.0, 10.0)  # exp() stays finite early in training
        return mean + (0.5 * logvar).exp() * noise, mean, logvar

    def fakes_for_d(self, batch: Batch) -> Tensor:
        """D scores the data against G's samples from the prior and its reconstructions."""
        with torch.no_grad(), self.autocast():
            z, _, _ = self._posterior(batch.real, torch.randn_like(batch.z))
            return torch.cat([self.G(batch.z), self.G(z)])

    def g_loss(self, batch: Batch, fake: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        x = batch.real
        z, mean, logvar = self._posterior(x, torch.randn_like(batch.z))
        recon = self.G(z)
        prior = self.G(batch.z)
        kl = kl_normal(mean, logvar)
        feats_fake = self.D.features(torch.cat([recon, prior]))
        with torch.no_grad():
            feats_real = self.D.features(x)
        n = len(x)
        # Per-image squared error in D's features, summed over features like the pixel term below.
        feature = (feats_fake[:n] - feats_real).pow(2).flatten(1).sum(1).mean() / feats_real[0].numel() * x[0].numel()
        adv = self.loss.g(self.D.head(flatten_features(feats_fake)).flatten())
        loss = self.v.kl_weight * kl + self.v.feature_weight * feature + self.v.adv_weight * adv
        stats = {"loss_kl": kl.detach(), "loss_feature": feature.detach(), "loss_adv": adv.detach()}
        if self.v.pixel_weight:
            pixel = (recon - x).pow(2).flatten(1).sum(1).mean()
            loss = loss + self.v.pixel_weight * pixel
            stats["loss_pixel"] = pixel.detach()
        return loss, {"loss_g": loss.detach(), **stats}
