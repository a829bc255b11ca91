"""The noise-to-sample GAN: G maps z ~ N(0, I) to a sample, D scores samples with one logit."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import copy

import torch
import torch.nn as nn
from torch.func import functional_call

from ..augment import augment, parse as parse_augment
from ..config import Config
from ..data import Dataset
from ..nets import build_nets
from ..errors import UserError
from ..objectives import LOSSES, gradient_penalty, r1_penalty_of, r1_weight

Tensor = torch.Tensor


@dataclass
class Batch:
    """What one D or G step sees: a real batch (with its labels, if any), latents, and the labels
    the fakes are drawn for (None when unconditional)."""

    real: Tensor
    labels: Tensor | None
    z: Tensor
    fake_labels: Tensor | None


Term = Callable[[], tuple[Tensor, dict[str, Tensor]]]  # builds one term of a loss: (loss, its logged stats)


def merge_stats(into: dict[str, Tensor], stats: dict[str, Tensor]) -> None:
    """Adds one term's stats; a stat that several terms report (loss_d) is their sum."""
    for k, v in stats.items():
        into[k] = into[k] + v if k in into else v


def add_terms(terms: list[tuple[Tensor, dict[str, Tensor]]]) -> tuple[Tensor, dict[str, Tensor]]:
    stats: dict[str, Tensor] = {}
    for _, s in terms:
        merge_stats(stats, s)
    return sum(loss for loss, _ in terms), stats


class GANRecipe:
    """Every family of issue 3 is this recipe with options: the loss (nonsat, minimax, wasserstein,
    hinge, lsgan), penalties (WGAN-GP, R1, clipping), the conditional form, and the remedies
    (packing, minibatch std / discrimination, unrolled D, an EMA of G)."""

    reuses_fake = True  # G's step can take the D step's fakes (train.reuse_fake)
    needs_images = False
    draws_from_noise = True  # G maps latents to samples (sampling, latent interpolation)
    unused_keys: tuple[str, ...] = ()  # config keys this family never reads (refused when set)
    d_updates = 0  # D updates so far, counted by after_d_step (lazy R1 needs it; the loop restores it on resume)

    def __init__(self, cfg: Config, data: Dataset):
        self.cfg = cfg
        self.z_dim = cfg.model.z_dim
        self.loss = LOSSES[cfg.loss]
        self.conditional = cfg.model.conditional
        self.num_classes = data.num_classes
        if self.conditional and self.num_classes < 2:
            raise UserError(f"config key 'model.conditional': data '{data.name}' has no class labels")
        self.G, self.D = build_nets(cfg, tuple(data.x.shape[1:]), self.num_classes)
        self.augment = parse_augment(cfg.remedies.augment)
        if self.augment and not data.is_images:
            raise UserError(f"config key 'remedies.augment': DiffAugment needs image data, '{data.name}' holds points")
        # A D that scores each sample (or packed group) on its own can take real and fake in one
        # batch: one pass of twice the size instead of two (fewer, larger matrix products; 4-9%
        # faster here than two passes backpropagated one by one). Batch
        # norm, minibatch std and minibatch discrimination mix the batch, so they keep two passes.
        batch_norm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.D.modules())
        self.joint_d = not (batch_norm or cfg.remedies.mbstd or cfg.remedies.minibatch_disc)
        self.G_ema = None
        if cfg.remedies.ema > 0:
            self.G_ema = copy.deepcopy(self.G).requires_grad_(False)

    def modules(self) -> dict[str, nn.Module]:
        """Every network whose weights a checkpoint holds."""
        mods = {"G": self.G, "D": self.D}
        if self.G_ema is not None:
            mods["G_ema"] = self.G_ema
        return mods

    def g_parameters(self):
        """What the generator's optimiser trains (VAE-GAN adds its encoder)."""
        return self.G.parameters()

    def sample_z(self, n: int, generator: torch.Generator) -> Tensor:
        return torch.randn(n, self.z_dim, generator=generator, device=generator.device)

    def sample_labels(self, n: int, generator: torch.Generator) -> Tensor | None:
        """Labels for fake samples, uniform over the classes; None for an unconditional model."""
        if not self.conditional:
            return None
        return torch.randint(0, self.num_classes, (n,), generator=generator, device=generator.device)

    def _g(self, G: nn.Module, z: Tensor, labels: Tensor | None) -> Tensor:
        return G(z, labels) if self.conditional else G(z)

    def generate(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Samples from the generator being trained."""
        return self._g(self.G, z, labels)

    @property
    def sampler(self) -> nn.Module:
        """The network to draw samples from: the EMA of G when remedies.ema > 0."""
        return self.G_ema if self.G_ema is not None else self.G

    def sample(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Samples for grids and `gankit sample` (the EMA generator when there is one)."""
        return self._g(self.sampler, z, labels)

    def _d(self, x: Tensor, labels: Tensor | None, params: dict | None = None) -> Tensor:
        if self.augment:
            x = augment(x, self.augment)
        args = (x, labels) if self.conditional else (x,)
        return self.D(*args) if params is None else functional_call(self.D, params, args)

    def _d_real_fake(self, batch: Batch, fake: Tensor, params: dict | None = None) -> tuple[Tensor, Tensor]:
        """D's logits for the real batch and for `fake`: one pass over both where D allows it."""
        if not self.joint_d:
            return self._d(batch.real, batch.labels, params), self._d(fake, batch.fake_labels, params)
        labels = torch.cat([batch.labels, batch.fake_labels]) if self.conditional else None
        logits = self._d(torch.cat([batch.real, fake]), labels, params)
        return logits.split([len(batch.real) // self.cfg.remedies.pack, len(fake) // self.cfg.remedies.pack])

    def d_terms(self, batch: Batch, fake: Tensor | None = None) -> list[Term]:
        """D's loss on a real and a fake batch (G frozen: no gradient reaches it), as terms to build
        one at a time: each is one pass of D, and their sum is the loss. The loop backpropagates each
        term before it builds the next, so that one pass's activations are freed before the next
        pass allocates its own (pytorch/examples' DCGAN does the same): fewer page faults and less
        peak memory, and the dcgan-mnist step 4-9% faster on this CPU. `fake`: the batch's fakes
        when the loop has drawn them already (to reuse them in G's step)."""
        if fake is None:
            with torch.no_grad():
                fake = self.generate(batch.z, batch.fake_labels)
        fake = fake.detach()
        p = self.cfg.penalty
        r1_w = r1_weight(p.r1_gamma, p.r1_every, self.d_updates)  # lazy R1: 0 between its updates
        if r1_w:  # R1 differentiates the loss's own pass over the real batch
            batch = replace(batch, real=batch.real.detach().requires_grad_(True))
        terms = [lambda: self._joint_term(batch, fake, r1_w)] if self.joint_d else self._pass_terms(batch, fake, r1_w)
        if p.gp_weight > 0:  # its pass joins the last term: as a term of its own, wgangp-mnist's step ran 3-9% slower
            last = terms[-1]
            terms[-1] = lambda: add_terms([last(), self._gp_term(batch, fake)])
        return terms

    def _pass_terms(self, batch: Batch, fake: Tensor, r1_w: float = 0.0) -> list[Term]:
        """D's pass over the real batch (with R1 when it is due), then its pass over `fake`: a term each."""
        return [lambda: self._real_loss(self._d(batch.real, batch.labels), batch.real, r1_w),
                lambda: self._fake_loss(self._d(fake, batch.fake_labels))]

    def d_loss(self, batch: Batch, fake: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """D's whole loss in one graph: the sum of `d_terms`."""
        return add_terms([term() for term in self.d_terms(batch, fake)])

    def _squash(self, logits: Tensor) -> Tensor:
        """The mean of D's outputs, logged: a probability for the classic losses, a score otherwise."""
        return (torch.sigmoid(logits.detach()) if self.loss.probabilities else logits.detach()).mean()

    def _real_loss(self, logits: Tensor, real: Tensor, r1_w: float = 0.0) -> tuple[Tensor, dict[str, Tensor]]:
        """D's loss on its logits for the real batch, plus R1 from the same pass when it is due."""
        loss = self.loss.d_real(logits)
        stats = {"loss_d": loss.detach(), "d_real": self._squash(logits)}
        if r1_w:
            r1 = r1_penalty_of(logits, real, self.cfg.remedies.pack)
            loss = loss + r1_w * r1
            stats["r1"] = r1.detach() * self.cfg.penalty.r1_every  # the log's per-step mean is then the mean measured R1
        return loss, stats

    def _fake_loss(self, logits: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        loss = self.loss.d_fake(logits)
        return loss, {"loss_d": loss.detach(), "d_fake": self._squash(logits)}

    def _joint_term(self, batch: Batch, fake: Tensor, r1_w: float) -> tuple[Tensor, dict[str, Tensor]]:
        real_logits, fake_logits = self._d_real_fake(batch, fake)
        return add_terms([self._real_loss(real_logits, batch.real, r1_w), self._fake_loss(fake_logits)])

    def _gp_term(self, batch: Batch, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        # Interpolates pair real i with fake i, so both carry the real batch's labels.
        eps = torch.rand(batch.real.shape[0], device=batch.real.device)
        gp = gradient_penalty(lambda x: self._d(x, batch.labels), batch.real, fake, eps, self.cfg.remedies.pack)
        return self.cfg.penalty.gp_weight * gp, {"gp": gp.detach()}

    def g_loss(self, batch: Batch, fake: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """G's loss through D; the loop has switched off D's weight gradients. Recipes that need
        real data in G's step (SRGAN's content loss, VAE-GAN's encoder) find it in `batch.real`.
        `fake`: G's output for `batch.z`, graph kept, when the D step drew it already."""
        if fake is None:
            fake = self.generate(batch.z, batch.fake_labels)
        params = self._unrolled_params(batch, fake) if self.cfg.remedies.unrolled_steps else None
        fake_logits = self._d(fake, batch.fake_labels, params)
        loss = self.loss.g(fake_logits)
        return loss, {"loss_g": loss.detach()}

    def _unrolled_params(self, batch: Batch, fake: Tensor) -> dict[str, Tensor]:
        """Metz et al. 2017: k Adam steps of D on copies of its weights, keeping the graph so that
        G's gradient flows through them. D's own weights and buffers are never written."""
        o = self.cfg.optim
        b1, b2 = o.betas_d
        params = {k: v.detach().clone().requires_grad_(True) for k, v in self.D.named_parameters()}
        buffers = {k: v.clone() for k, v in self.D.named_buffers()}  # BN statistics stay untouched
        m = {k: torch.zeros_like(v) for k, v in params.items()}
        v2 = {k: torch.zeros_like(v) for k, v in params.items()}
        for t in range(1, self.cfg.remedies.unrolled_steps + 1):
            state = {**params, **buffers}
            loss = self.loss.d(*self._d_real_fake(batch, fake, state))
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=True, allow_unused=True)
            new = {}
            for (k, p), g in zip(params.items(), grads):
                if g is None:
                    new[k] = p
                    continue
                m[k] = b1 * m[k] + (1 - b1) * g
                v2[k] = b2 * v2[k] + (1 - b2) * g * g
                m_hat, v_hat = m[k] / (1 - b1**t), v2[k] / (1 - b2**t)
                new[k] = p - o.lr_d * m_hat / torch.sqrt(v_hat + 1e-16)  # eps inside the sqrt: finite gradient at 0
            params = new
        return {**params, **buffers}

    def after_d_step(self) -> None:
        """Counts the D update; WGAN's weight clipping (Arjovsky et al. 2017) after each."""
        self.d_updates += 1
        c = self.cfg.penalty.clip
        if c > 0:
            with torch.no_grad():
                for p in self.D.parameters():
                    p.clamp_(-c, c)

    def after_g_step(self) -> None:
        """Update the EMA of G's weights (its batch-norm statistics: `refresh_ema_statistics`)."""
        if self.G_ema is None:
            return
        decay = self.cfg.remedies.ema
        with torch.no_grad():  # one fused call over all tensors, as torch.optim.swa_utils does
            torch._foreach_lerp_(list(self.G_ema.parameters()), list(self.G.parameters()), 1.0 - decay)

    @torch.no_grad()
    def refresh_ema_statistics(self, batches: int = 8, size: int = 256) -> None:
        """Batch-norm statistics that fit the EMA generator. Its weights are an average, so G's
        running statistics do not match its activations; they are re-estimated as the plain mean
        over fresh latents (BigGAN's "standing statistics"), from a fixed seed so that a resumed
        run stays exact. Called before the EMA generator draws grids and before checkpoints."""
        norms = [m for m in self.G_ema.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)] if self.G_ema else []
        if not norms:
            return
        device = next(self.G_ema.parameters()).device
        gen = torch.Generator(device).manual_seed(0)
        momenta = [m.momentum for m in norms]
        was_training = self.G_ema.training
        self.G_ema.train()
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average
        for _ in range(batches):
            self.sample(self.sample_z(size, gen), self.sample_labels(size, gen))
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        self.G_ema.train(was_training)
