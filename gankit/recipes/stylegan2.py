"""StyleGAN2 (Karras et al. 2020), trained as StyleGAN2-ADA's `StyleGAN2Loss` does: the non-saturating
logistic loss; lazy R1 on the reals (penalty.r1_gamma, every penalty.r1_every D updates, weighted by
the interval); style mixing (two latents, crossing over at a random layer, with probability
stylegan2.style_mixing); lazy path-length regularisation every stylegan2.pl_every G updates,

    L_pl = E[(||J_w^T y||_2 - a)^2],  y ~ N(0, I) / sqrt(H W),  a = the moving mean of the lengths,

weighted by pl_weight x pl_every; and an EMA of G whose half-life is given in thousands of images,
ramped up over the first images. D's phase is the GAN recipe's own, so ADA (remedies.ada) and
DiffAugment apply to every image D sees, as for every image recipe."""

from __future__ import annotations

import contextlib
import copy

import torch
import torch.nn as nn

from ..augment import parse as parse_augment
from ..config import Config
from ..data import Dataset
from ..errors import UserError
from ..nets import StyleGAN2Discriminator, StyleGAN2Generator
from ..objectives import path_length_penalty
from .gan import Batch, GANRecipe, unreduced
from .options import GANOptions

Tensor = torch.Tensor


class StyleGAN2Recipe(GANRecipe):
    needs_images = True
    has_styles = True  # mapping and synthesis networks: truncation, style mixing, projection
    config_keys = ("loss", "model.z_dim", "model.conditional", "remedies.augment", "remedies.ada",
                   "remedies.ada_target", "remedies.ada_kimg", "penalty.r1_gamma", "penalty.r1_every", "stylegan2")

    def __init__(self, cfg: Config, data: Dataset, autocast=contextlib.nullcontext):
        r, p = cfg.remedies, cfg.penalty
        self.s = cfg.stylegan2
        options = GANOptions(conditional=cfg.model.conditional, augment=parse_augment(r.augment), ada=r.ada,
                             ada_target=r.ada_target, ada_kimg=r.ada_kimg, r1_gamma=p.r1_gamma, r1_every=p.r1_every)
        super().__init__(cfg, data, autocast, options)
        self.joint_d = False  # minibatch stddev mixes the batch: real and fake take passes of their own
        if self.s.ema_kimg > 0:
            self.G_ema = copy.deepcopy(self.G).requires_grad_(False)
        self.pl_mean = torch.zeros(())  # a, the moving mean of the path lengths

    def build_nets(self, cfg: Config, data: Dataset) -> tuple[nn.Module, nn.Module]:
        c, res, width = data.sample_shape
        if res < 8 or width != res:
            raise UserError(f"config key 'data.resolution': StyleGAN2 needs square images of at least 8x8, "
                            f"data '{data.name}' has {res}x{width}")
        s, k = cfg.stylegan2, (self.num_classes if self.conditional else 0)
        G = StyleGAN2Generator(cfg.model.z_dim, res, c, s.w_dim, s.mapping_layers, s.channel_base, s.channel_max, k)
        D = StyleGAN2Discriminator(res, c, s.channel_base, s.channel_max, k, s.mbstd_group)
        return G, D

    # ---- the generator ----------------------------------------------------------------------
    def mixed_ws(self, G: nn.Module, z: Tensor, labels: Tensor | None, update_w_avg: bool = False) -> Tensor:
        """w for every layer; with probability style_mixing, the layers from a random cutoff on take
        the w of a second latent (one cutoff per batch, drawn on the device: no sync)."""
        ws = G.mapping(z, labels, update_w_avg=update_w_avg)
        if self.s.style_mixing <= 0:
            return ws
        n = ws.shape[1]
        cutoff = torch.randint(1, n, (), device=z.device)
        cutoff = torch.where(torch.rand((), device=z.device) < self.s.style_mixing, cutoff, torch.full_like(cutoff, n))
        second = G.mapping(torch.randn_like(z), labels)
        return torch.where((torch.arange(n, device=z.device) < cutoff).view(1, n, 1), ws, second)

    def generate(self, z: Tensor, labels: Tensor | None = None, truncation: float = 1.0) -> Tensor:
        """Training: style mixing, random noise, and w_avg tracked. In evaluation mode: G(z) with the
        fixed noise maps (truncated towards w_avg by `truncation`), as `sample` draws."""
        if not self.G.training:
            return self.G(z, labels, truncation=truncation, noise_mode="const")
        return self.G.synthesis(self.mixed_ws(self.G, z, labels, update_w_avg=True))

    def sample(self, z: Tensor, labels: Tensor | None = None, truncation: float | Tensor = 1.0) -> Tensor:
        """The EMA generator with its fixed noise maps (StyleGAN2-ADA's noise_mode='const'), truncated
        towards w_avg by `truncation` (1 = none)."""
        return self.sampler(z, labels, truncation=truncation, noise_mode="const")

    def path_length_penalty(self, z: Tensor, labels: Tensor | None) -> Tensor:
        """L_pl on batch / pl_batch_shrink latents; updates a."""
        n = max(1, len(z) // self.s.pl_batch_shrink)
        ws = self.mixed_ws(self.G, z[:n], None if labels is None else labels[:n])
        penalty, self.pl_mean = path_length_penalty(self.G.synthesis(ws), ws, self.pl_mean, self.s.pl_decay)
        return penalty

    @property
    def g_updates(self) -> int:
        """G updates so far: the loop counts (and restores) D updates, d_steps of them per G update."""
        return self.d_updates // self.cfg.optim.d_steps

    def g_backward(self, batch: Batch, fake: Tensor | None = None) -> dict[str, Tensor]:
        """G's loss through a frozen D, then, every pl_every-th update, the path-length penalty."""
        stats = super().g_backward(batch, fake)
        if self.s.pl_weight > 0 and self.g_updates % self.s.pl_every == 0:
            with unreduced(self.D), self.autocast():
                pl = self.path_length_penalty(batch.z, batch.fake_labels)
            (pl * (self.s.pl_weight * self.s.pl_every)).backward()
            stats["pl"] = pl.detach() * self.s.pl_every  # the log's per-step mean is then the mean measured penalty
        return stats

    def after_g_step(self) -> None:
        """G's EMA: decay 0.5 ** (batch / half-life in images), the half-life at most ema_rampup x the
        images seen so far; buffers (w_avg, the fixed noise) are copied."""
        if self.G_ema is None:
            return
        batch = self.cfg.optim.batch_size
        half_life = self.s.ema_kimg * 1000
        if self.s.ema_rampup > 0:
            half_life = min(half_life, self.d_updates * batch * self.s.ema_rampup)
        beta = 0.5 ** (batch / max(half_life, 1e-8))
        with torch.no_grad():
            torch._foreach_lerp_(list(self.G_ema.parameters()), list(self.G.parameters()), 1.0 - beta)
            for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
                b_ema.copy_(b)

    def refresh_ema_statistics(self, batches: int = 8, size: int = 256) -> None:
        """No batch norm in StyleGAN2's generator: nothing to refresh."""

    def extra_state(self) -> dict[str, Tensor]:
        return {**super().extra_state(), "pl_mean": self.pl_mean}

    def load_extra_state(self, state: dict[str, Tensor]) -> None:
        super().load_extra_state(state)
        self.pl_mean = state["pl_mean"].clone()
