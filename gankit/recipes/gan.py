"""The noise-to-sample GAN: G maps z ~ N(0, I) to a sample, D scores samples with one logit."""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
from torch.func import functional_call

from ..ada import AdaptiveP, augment as ada_augment
from ..augment import augment
from ..config import Config
from ..data import Dataset
from ..errors import UserError
from ..objectives import LOSSES, gradient_penalty, r1_penalty_of, r1_weight
from .nets import build_nets
from .options import GANOptions

Tensor = torch.Tensor


@dataclass
class Batch:
    """What one D or G step sees: a real batch (with its labels, if any), latents, and the labels
    the fakes are drawn for (None when unconditional)."""

    real: Tensor
    labels: Tensor | None
    z: Tensor
    fake_labels: Tensor | None


def merge_stats(into: dict[str, Tensor], stats: dict[str, Tensor]) -> None:
    """Adds one pass's stats; a stat that several passes report (loss_d) is their sum."""
    for k, v in stats.items():
        into[k] = into[k] + v if k in into else v


def unreduced(module: nn.Module) -> contextlib.AbstractContextManager:
    """Under DDP: a context in which `module`'s gradients are not reduced across ranks (a pass whose
    gradients are summed with a later pass's before the one reduction)."""
    no_sync = getattr(module, "no_sync", None)
    return no_sync() if no_sync else contextlib.nullcontext()


@contextlib.contextmanager
def frozen(module: nn.Module):
    """A context in which `module`'s weights take no gradient (G's step through a frozen D). Each
    weight gets back the flag it had: one frozen for the whole run (text2img's pre-trained text
    encoder inside D) stays frozen."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


class GANRecipe:
    """The noise-to-sample GAN with its options: the loss (nonsat, minimax, wasserstein, hinge,
    lsgan), penalties (WGAN-GP, R1, clipping), the conditional form, and the remedies (packing,
    minibatch std / discrimination, unrolled D, an EMA of G).

    A recipe owns its two phases whole, as stylegan2-ada's `Loss.accumulate_gradients` does:
    `d_backward` and `g_backward` run the forward passes, the backward passes and the rule for when
    gradients are reduced across ranks; the training loop only zeroes gradients, calls a phase and
    steps its optimiser."""

    reuses_fake = True  # G's step can take the D step's fakes (train.reuse_fake)
    needs_images = False
    draws_from_noise = True  # G maps latents to samples (sampling, latent interpolation)
    # D's output for an image alone (with its class where conditional) is its real/fake logit: what
    # `gankit score` and the server report and the doctor's held-out probe measures.
    d_scores_images = True
    # The config keys this recipe reads, among the sections recipes own (configure.RECIPE_SECTIONS):
    # a whole section by its name, or single keys. A key set that the chosen recipe does not read is
    # refused when a run starts.
    config_keys: tuple[str, ...] = ("loss", "model", "remedies", "penalty")
    ada: AdaptiveP | None = None  # adaptive augmentation's p (remedies.ada)
    d_updates = 0  # D updates so far, counted by after_d_step (lazy R1 needs it; the loop restores it on resume)

    def __init__(self, cfg: Config, data: Dataset, autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
                 options: GANOptions | None = None):
        """`options`: the GAN's remedies and penalties, read from `cfg` unless a subclass gives its own."""
        self.cfg = cfg  # the run's whole config, for what reports it (Model.config); options are read below
        self.autocast = autocast  # the context of every forward pass (the loop's mixed precision)
        self.opt = options or GANOptions.from_config(cfg)
        self.z_dim = cfg.model.z_dim
        self.loss = LOSSES[cfg.loss]
        self.conditional = self.opt.conditional
        self.num_classes = data.num_classes
        if self.conditional and self.num_classes < 2:
            raise UserError(f"config key 'model.conditional': data '{data.name}' has no class labels")
        self.G, self.D = self.build_nets(cfg, data)
        if self.opt.augment and not data.is_images:
            raise UserError(f"config key 'remedies.augment': DiffAugment needs image data, '{data.name}' holds points")
        if self.opt.ada and not data.is_images:
            raise UserError(f"config key 'remedies.ada': adaptive augmentation needs image data, '{data.name}' holds points")
        # ADA's probability, tuned after every D update from D's signs on the reals
        self.ada = AdaptiveP(self.opt.ada_target, self.opt.ada_kimg, device=data.pixels.device) if self.opt.ada else None
        # A D that scores each sample (or packed group) on its own can take real and fake in one
        # batch: one pass of twice the size instead of two (fewer, larger matrix products). Batch
        # norm, minibatch std and minibatch discrimination mix the batch, so they keep two passes.
        batch_norm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.D.modules())
        self.joint_d = not (batch_norm or self.opt.mbstd or self.opt.minibatch_disc)
        self.G_ema = None
        if self.opt.ema > 0:
            self.G_ema = copy.deepcopy(self.G).requires_grad_(False)

    def build_nets(self, cfg: Config, data: Dataset) -> tuple[nn.Module, nn.Module]:
        """G and D for the data (a family with nets of its own builds them here)."""
        return build_nets(cfg, data.sample_shape, self.num_classes, self.opt)

    def extra_state(self) -> dict[str, Tensor]:
        """The recipe's state beyond its nets that a checkpoint holds: ADA's p and its r_t sums."""
        return {f"ada.{k}": v for k, v in self.ada.state().items()} if self.ada is not None else {}

    def load_extra_state(self, state: dict[str, Tensor]) -> None:
        if self.ada is not None:
            self.ada.load_state({k[4:]: v for k, v in state.items() if k.startswith("ada.")})

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

    def training_labels(self, n: int, generator: torch.Generator) -> Tensor | None:
        """Labels for a training batch's fakes: `sample_labels`' (a recipe may vary them in training only)."""
        return self.sample_labels(n, generator)

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
        if self.ada is not None:
            x = ada_augment(x, self.ada.p)
        if self.opt.augment:
            x = augment(x, self.opt.augment)
        args = (x, labels) if self.conditional else (x,)
        return self.D(*args) if params is None else functional_call(self.D, params, args)

    def _d_real_fake(self, real: Tensor, labels: Tensor | None, fake: Tensor, fake_labels: Tensor | None,
                     params: dict | None = None) -> tuple[Tensor, Tensor]:
        """D's logits for `real` and for `fake`: one pass over both where D allows it."""
        if not self.joint_d:
            return self._d(real, labels, params), self._d(fake, fake_labels, params)
        both_labels = torch.cat([labels, fake_labels]) if self.conditional else None
        logits = self._d(torch.cat([real, fake]), both_labels, params)
        return logits.split([len(real) // self.opt.pack, len(fake) // self.opt.pack])

    def fakes_for_d(self, batch: Batch) -> Tensor:
        """What D's step scores as fake, drawn with G frozen: G(z) for the batch's latents."""
        with torch.no_grad(), self.autocast():
            return self.generate(batch.z, batch.fake_labels)

    def fakes_for_g(self, batch: Batch) -> Tensor:
        """G(z) with its graph kept: drawn once before D's step, so that G's step can push the same
        fakes through the updated D (train.reuse_fake: one G forward per iteration)."""
        with self.autocast():
            return self.generate(batch.z, batch.fake_labels)

    def d_loss(self, batch: Batch, fake: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """What D minimises, in one graph (G frozen: no gradient reaches it):

            L_D = loss.d_real(D(x)) + r1_w * R1(x) + loss.d_fake(D(G(z))) + gp_weight * GP(x, G(z)),

        R1 from D's own pass over x when lazy R1 is due, GP on interpolates between x and G(z).
        `fake`: the batch's fakes when the loop has drawn them already (to reuse them in G's step)."""
        real, fake, r1_w = self._d_inputs(batch, fake)
        stats: dict[str, Tensor] = {}
        real_logits, fake_logits = self._d_real_fake(real, batch.labels, fake, batch.fake_labels)
        loss = self._real_loss(real_logits, real, r1_w, stats) + self._fake_loss(fake_logits, stats)
        return loss + self._gp(batch, fake, stats), stats

    def d_backward(self, batch: Batch, fake: Tensor | None = None) -> dict[str, Tensor]:
        """D's phase: `d_loss` backpropagated into D's gradients; returns the logged stats. A D that
        mixes its batch (batch norm, minibatch features) takes x and G(z) in two passes, and each is
        backpropagated before the next runs, so that one pass's activations are freed before the next
        allocates its own (as pytorch/examples' DCGAN does); under DDP the first pass's gradients wait
        for the second, so D's gradients are reduced once."""
        if self.joint_d:  # one pass over real and fake
            with self.autocast():
                loss, stats = self.d_loss(batch, fake)
            loss.backward()
            return stats
        real, fake, r1_w = self._d_inputs(batch, fake)
        stats = {}
        with unreduced(self.D):
            with self.autocast():
                loss = self._real_loss(self._d(real, batch.labels), real, r1_w, stats)
            loss.backward()
        with self.autocast():
            loss = self._fake_loss(self._d(fake, batch.fake_labels), stats) + self._gp(batch, fake, stats)
        loss.backward()
        return stats

    def _d_inputs(self, batch: Batch, fake: Tensor | None) -> tuple[Tensor, Tensor, float]:
        """D's real batch, its fakes (detached) and R1's weight at this update (lazy R1: 0 between its
        updates); when R1 is due the real batch takes a gradient, which R1 differentiates."""
        fake = (self.fakes_for_d(batch) if fake is None else fake).detach()
        r1_w = r1_weight(self.opt.r1_gamma, self.opt.r1_every, self.d_updates)
        return (batch.real.detach().requires_grad_(True) if r1_w else batch.real), fake, r1_w

    def g_backward(self, batch: Batch, fake: Tensor | None = None) -> dict[str, Tensor]:
        """G's phase: G's loss through a frozen D, backpropagated into G's gradients (D's weights
        take none; under DDP D's reducer is told not to wait for them). Returns the logged stats."""
        with frozen(self.D):
            with unreduced(self.D), self.autocast():
                loss, stats = self.g_loss(batch, fake)
            loss.backward()
        return stats

    def _squash(self, logits: Tensor) -> Tensor:
        """The mean of D's outputs, logged: a probability for the classic losses, a score otherwise."""
        return (torch.sigmoid(logits.detach()) if self.loss.probabilities else logits.detach()).mean()

    def _real_loss(self, logits: Tensor, real: Tensor, r1_w: float, stats: dict[str, Tensor]) -> Tensor:
        """D's loss on its logits for the real batch, plus R1 from the same pass when it is due."""
        loss = self.loss.d_real(logits)
        # rt = E[sign(D's logit on a real)], the overfitting heuristic of ADA (Karras et al. 2020b):
        # ADA tunes p on it, the training doctor reads it
        rt = self.ada.observe(logits) if self.ada is not None else logits.detach().float().sign().mean()
        merge_stats(stats, {"loss_d": loss.detach(), "d_real": self._squash(logits), "rt": rt})
        if self.ada is not None:
            stats["ada_p"] = self.ada.p.clone()
        if r1_w:
            r1 = r1_penalty_of(logits, real, self.opt.pack)
            loss = loss + r1_w * r1
            stats["r1"] = r1.detach() * self.opt.r1_every  # the log's per-step mean is then the mean measured R1
        return loss

    def _fake_loss(self, logits: Tensor, stats: dict[str, Tensor]) -> Tensor:
        loss = self.loss.d_fake(logits)
        merge_stats(stats, {"loss_d": loss.detach(), "d_fake": self._squash(logits)})
        return loss

    def _gp(self, batch: Batch, fake: Tensor, stats: dict[str, Tensor]) -> Tensor | float:
        """WGAN-GP's term (0 when off). Interpolates pair real i with fake i, so both carry the real batch's labels."""
        if not self.opt.gp_weight > 0:
            return 0.0
        eps = torch.rand(batch.real.shape[0], device=batch.real.device)
        gp = gradient_penalty(lambda x: self._d(x, batch.labels), batch.real, fake, eps, self.opt.pack)
        stats["gp"] = gp.detach()
        return self.opt.gp_weight * gp

    def g_loss(self, batch: Batch, fake: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        """G's loss through D (`g_backward` has frozen D's weights). Recipes that need real data in
        G's step (SRGAN's content loss, VAE-GAN's encoder) find it in `batch.real`. `fake`: G's
        output for `batch.z`, graph kept, when the loop drew it before D's step."""
        if fake is None:
            fake = self.generate(batch.z, batch.fake_labels)
        params = self._unrolled_params(batch, fake) if self.opt.unrolled_steps else None
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
        for t in range(1, self.opt.unrolled_steps + 1):
            state = {**params, **buffers}
            loss = self.loss.d(*self._d_real_fake(batch.real, batch.labels, fake, batch.fake_labels, state))
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
        if self.ada is not None:
            self.ada.step(self.cfg.optim.batch_size)
        c = self.opt.clip
        if c > 0:
            with torch.no_grad():
                for p in self.D.parameters():
                    p.clamp_(-c, c)

    def after_g_step(self) -> None:
        """Update the EMA of G's weights (its batch-norm statistics: `refresh_ema_statistics`)."""
        if self.G_ema is None:
            return
        decay = self.opt.ema
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
