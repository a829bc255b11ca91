"""CycleGAN (Zhu et al. 2017): unpaired translation both ways, A -> B by G_AB and B -> A by G_BA.

Two ResNet generators, two PatchGAN discriminators (D_A judges A images, D_B B images), instance
norm. With w = translation.cycle_weight and the loss `loss` (lsgan in the paper):

    L_G = adv_weight x [loss.g(D_B(G_AB(a))) + loss.g(D_A(G_BA(b)))]
          + w x [|G_BA(G_AB(a)) - a|_1 + |G_AB(G_BA(b)) - b|_1]
          + identity x w x [|G_AB(b) - b|_1 + |G_BA(a) - a|_1]
    L_D = 1/2 [loss.d_real(D_B(b)) + loss.d_fake(D_B(pool_B(G_AB(a))))] + the same for D_A

pool_X is the history of past fakes (`ImagePool`). The identity term needs A and B of equal channels.

gankit's lsgan carries Mao et al.'s factor 1/2, which the reference code's MSE loss lacks: at
adv_weight=2 the balance of the adversarial and cycle terms is the reference's.

With translation.semantic_weight = s > 0 (a label-keeping loss), L_G gains
    s x [mean_r CE(C_B,r(J(G_AB(a))), y_a) + mean_r CE(C_A,r(J(G_BA(b))), y_b)]:
C_X,r (READERS of them) are classifiers fitted on domain X's own labelled training images before
the GAN starts, each from its own seed, then frozen; y is the class of the image translated and J
a random small move, scaling and turn (`_jitter`). Nothing in the cycle or adversarial terms asks
a translation to keep its class: a 4 may come back as a 9 and return as a 4. This is CyCADA's
semantic consistency loss (Hoffman et al. 2018), which reads both directions with the source
domain's classifier and its pseudo-labels because its target domain has no labels; when both
domains are labelled, each translation is read by classifiers of the domain it is drawn in, with
its true class. It needs data whose two domains are labelled with the same classes.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import Config
from ..data import Dataset
from ..errors import UserError
from ..nets import ClassReader, PatchDiscriminator, ResnetGenerator, dcgan_init
from ..objectives import LOSSES
from .gan import Batch
from .translation import TranslationRecipe, side_by_side

Tensor = torch.Tensor


class ImagePool:
    """Shrivastava et al. 2017's history of generated images, as CycleGAN uses it: until `size`
    images are held, each new image is stored and returned; after that, each new image is returned
    with probability 1/2, and otherwise swapped for a random stored one (which is returned, the new
    image taking its place). Its draws come from its own generator, so a resumed run repeats them."""

    def __init__(self, size: int, seed: int = 0):
        self.size = size
        self.images: Tensor | None = None  # (size, C, H, W) once the first image arrives
        self.count = 0
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, images: Tensor) -> Tensor:
        if self.size == 0:
            return images
        images = images.detach()
        out = images.clone()
        if self.images is None:
            self.images = images.new_zeros(self.size, *images.shape[1:])
        for i in range(len(images)):
            if self.count < self.size:
                self.images[self.count] = images[i]
                self.count += 1
            elif torch.rand((), generator=self.generator) < 0.5:
                j = int(torch.randint(self.size, (), generator=self.generator))
                out[i] = self.images[j]
                self.images[j] = images[i]
        return out

    def state(self) -> dict[str, Tensor]:
        state = {"count": torch.tensor(self.count), "rng": self.generator.get_state()}
        if self.images is not None:
            state["images"] = self.images
        return state

    def load_state(self, state: dict[str, Tensor]) -> None:
        self.count = int(state["count"])
        self.generator.set_state(state["rng"])
        self.images = state.get("images")


READER_STEPS, READER_BATCH, READER_LR = 400, 64, 2e-3
READERS = 3  # classifiers per domain, each fitted from its own seed; a translation must satisfy them all


def _jitter(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Each image moved by up to 1/16 of its side, scaled by 0.9-1.1 and turned by up to 10 degrees
    (the border pixels extend): a classifier fitted on these reads a translation by its shape, not
    by its exact pixels."""
    n = len(x)
    u = torch.rand(n, 4, generator=generator, device=x.device) * 2 - 1
    angle, scale = u[:, 0] * torch.pi / 18, 1 + 0.1 * u[:, 1]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, u[:, 2] / 8], 1), torch.stack([sin, cos, u[:, 3] / 8], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


def fit_reader(images: Tensor, labels: Tensor, num_classes: int, seed: int) -> ClassReader:
    """A ClassReader fitted to (images in [-1, 1], labels) by Adam on jittered batches, then frozen.
    Deterministic for a seed, and it leaves the global random state as it found it (a resumed run
    fits it again before loading it, and must draw what the uninterrupted run drew)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        reader = ClassReader(images.shape[1], num_classes)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(reader.parameters(), lr=READER_LR)
        for _ in range(READER_STEPS):
            idx = torch.randint(len(images), (READER_BATCH,), generator=gen)
            loss = F.cross_entropy(reader(_jitter(images[idx], gen)), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return reader.requires_grad_(False).eval()


class CycleGANRecipe(TranslationRecipe):
    config_keys = ("loss", "model.g_width", "model.d_width", "translation.adv_weight", "translation.d_layers",
                   "translation.cycle_weight", "translation.identity", "translation.blocks", "translation.pool_size",
                   "translation.semantic_weight")
    directions = ("a2b", "b2a")

    def __init__(self, cfg: Config, data: Dataset, autocast=contextlib.nullcontext):
        if cfg.data.pairs == "none":
            raise UserError("config key 'data.pairs': cyclegan learns from two sets of images; set data.pairs=unpaired "
                            "(or paired: the pairing is then unused)")
        super().__init__(cfg, data, autocast)
        t, ca, cb = self.t, self.channels_a, self.channels_b
        if t.identity and ca != cb:
            raise UserError(f"config key 'translation.identity': the identity loss needs A and B of equal channels "
                            f"(data.channels={ca}, data.channels_b={cb}); set translation.identity=0")
        self.loss = LOSSES[cfg.loss]
        self.adv_weight, self.cycle_weight, self.identity_weight = t.adv_weight, t.cycle_weight, t.identity * t.cycle_weight
        w = cfg.model.g_width
        self.G = nn.ModuleDict({"AB": ResnetGenerator(ca, cb, w, t.blocks), "BA": ResnetGenerator(cb, ca, w, t.blocks)})
        self.D = nn.ModuleDict({"A": PatchDiscriminator(ca, cfg.model.d_width, t.d_layers, "instance"),
                                "B": PatchDiscriminator(cb, cfg.model.d_width, t.d_layers, "instance")})
        self.G.apply(dcgan_init)
        self.D.apply(dcgan_init)
        self.pools = {"A": ImagePool(t.pool_size, seed=cfg.train.seed), "B": ImagePool(t.pool_size, seed=cfg.train.seed + 1)}
        self.semantic_weight, self.readers = t.semantic_weight, None
        if self.semantic_weight:
            self.readers = self._readers(data)

    def _readers(self, data: Dataset) -> nn.ModuleDict:
        """READERS classifiers per domain (C_A,r and C_B,r): fitted on the training images of their
        domain when the data carry labels; left as built for a loaded run (whose checkpoint holds them)."""
        k = data.num_classes
        if k < 2:
            raise UserError(f"config key 'translation.semantic_weight': the label-keeping loss needs both domains "
                            f"labelled with the same classes (bundled digit sets, or folders of class subfolders "
                            f"named alike), and data '{data.name}' has no labels shared by A and B; set "
                            f"translation.semantic_weight=0")
        if data.labels is None:
            return nn.ModuleDict({side: nn.ModuleList(ClassReader(c, k) for _ in range(READERS))
                                  for side, c in (("A", self.channels_a), ("B", self.channels_b))})
        every = torch.arange(len(data))
        (a, b), y = self.split(data.take(every)), data.label(every)
        seed = self.cfg.train.seed
        return nn.ModuleDict({side: nn.ModuleList(fit_reader(x, y[:, i], k, seed + 2 * r + i) for r in range(READERS))
                              for i, (side, x) in enumerate((("A", a), ("B", b)))})

    def _misread(self, side: str, images: Tensor, labels: Tensor) -> Tensor:
        """The mean cross-entropy of domain `side`'s readers on jittered `images` against `labels`."""
        return torch.stack([F.cross_entropy(reader(_jitter(images)), labels) for reader in self.readers[side]]).mean()

    def modules(self) -> dict[str, nn.Module]:
        return {**super().modules(), **({"readers": self.readers} if self.readers is not None else {})}

    stride = ResnetGenerator.stride

    def translator(self, direction: str):
        return self.G["AB" if direction == "a2b" else "BA"]

    def translate_batch(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """(G_AB(a), G_BA(b))."""
        a, b = self.split(batch.real)
        return self.G["AB"](a), self.G["BA"](b)

    def d_loss(self, batch: Batch, fake: tuple[Tensor, Tensor]):
        if not self.adv_weight:
            return None, {}
        a, b = self.split(batch.real)
        fake_b, fake_a = (self.pools[k].query(f) for k, f in (("B", fake[0]), ("A", fake[1])))
        stats: dict[str, Tensor] = {}
        total, d_real, d_fake = 0.0, 0.0, 0.0
        for name, real, fake_x in (("A", a, fake_a), ("B", b, fake_b)):
            real_logits, fake_logits = self.D[name](real), self.D[name](fake_x)
            loss = 0.5 * (self.loss.d_real(real_logits) + self.loss.d_fake(fake_logits))
            stats[f"loss_d_{name.lower()}"] = loss.detach()
            total = total + loss
            d_real = d_real + real_logits.detach().mean() / 2  # the mean score of both Ds
            d_fake = d_fake + fake_logits.detach().mean() / 2
        return total, {"loss_d": total.detach(), "d_real": d_real, "d_fake": d_fake, **stats}

    def g_loss(self, batch: Batch, fake: tuple[Tensor, Tensor]):
        a, b = self.split(batch.real)
        fake_b, fake_a = fake
        cycle = F.l1_loss(self.G["BA"](fake_b), a) + F.l1_loss(self.G["AB"](fake_a), b)
        loss = self.cycle_weight * cycle
        stats = {"loss_cycle": cycle.detach()}
        if self.identity_weight:
            identity = F.l1_loss(self.G["AB"](b), b) + F.l1_loss(self.G["BA"](a), a)
            loss = loss + self.identity_weight * identity
            stats["loss_identity"] = identity.detach()
        if self.adv_weight:
            adv = self.loss.g(self.D["B"](fake_b)) + self.loss.g(self.D["A"](fake_a))
            loss = loss + self.adv_weight * adv
            stats["loss_adv"] = adv.detach()
        if self.semantic_weight:
            # Read through the jitter the readers were fitted with: a translation must keep its class
            # under small moves, as a real digit does, and cannot hold it by a few exact pixels.
            semantic = self._misread("B", fake_b, batch.labels[:, 0]) + self._misread("A", fake_a, batch.labels[:, 1])
            loss = loss + self.semantic_weight * semantic
            stats["loss_semantic"] = semantic.detach()
        return loss, {"loss_g": loss.detach(), **stats}

    def sample(self, z: Tensor, labels=None) -> Tensor:
        """Per example two rows' worth side by side: a | G_AB(a) | G_BA(G_AB(a)) | b | G_BA(b) | G_AB(G_BA(b))."""
        a, b = self.split(z)
        ab, ba = self.G["AB"](a), self.G["BA"](b)
        return side_by_side(a, ab, self.G["BA"](ab), b, ba, self.G["AB"](ba))

    def extra_state(self) -> dict[str, Tensor]:
        return {f"pool_{k}.{key}": v for k, pool in self.pools.items() for key, v in pool.state().items()}

    def load_extra_state(self, state: dict[str, Tensor]) -> None:
        for k, pool in self.pools.items():
            prefix = f"pool_{k}."
            pool.load_state({key[len(prefix):]: v for key, v in state.items() if key.startswith(prefix)})
