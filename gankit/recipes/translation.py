"""What pix2pix and CycleGAN share: examples that are (A, B) images stacked along the channel axis
(data/pairs.py), generators that map images to images, and progress grids that show each input
beside what G made of it.

"z" for these families is a batch of examples from the training pool, as for SRGAN: the loop's
fixed grid batch is then a fixed set of training examples, so every grid shows the same inputs. A
loaded run has no pool, so `gankit sample` refuses it and `gankit translate` is the real use.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn

from ..config import Config
from ..data import Dataset
from ..errors import UserError
from .gan import Batch, frozen, unreduced

Tensor = torch.Tensor


def side_by_side(*images: Tensor) -> Tensor:
    """Images (N, C_i, H, W) in a row along the width, grey ones shown as RGB when any has colour."""
    channels = max(x.shape[1] for x in images)
    return torch.cat([x.expand(-1, channels, -1, -1) for x in images], 3)


class TranslationRecipe:
    """The parts of an image-to-image recipe the loop and the commands see; a subclass builds `G`
    and `D` (one module each, holding both nets for CycleGAN) and gives `translate_batch`, `d_loss`,
    `g_loss`, `translator` and `sample`."""

    reuses_fake = True  # G's step pushes the D step's translations through the updated D
    needs_images = True
    draws_from_noise = False  # G maps images to images; its "latents" are examples of the training pool
    conditional, num_classes, G_ema = False, 0, None
    directions: tuple[str, ...] = ()  # what `gankit translate --direction` may ask of this model
    d_updates = 0

    def __init__(self, cfg: Config, data: Dataset, autocast=contextlib.nullcontext):
        self.cfg, self.autocast, self.t = cfg, autocast, cfg.translation
        self.channels_a = cfg.data.channels
        self.channels_b = cfg.data.channels_b or cfg.data.channels
        if not data.is_images or data.sample_shape[0] != self.channels_a + self.channels_b:
            raise UserError(f"config key 'data.pairs': recipe '{cfg.recipe}' needs image-to-image data with "
                            f"{self.channels_a} + {self.channels_b} channels per example (data.channels, "
                            f"data.channels_b), and data '{data.name}' has shape {data.sample_shape}")
        self.pool = data  # the training pairs, taken as floats a batch at a time

    def split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """A stacked batch -> (A, B)."""
        return x[:, : self.channels_a], x[:, self.channels_a :]

    # ---- what the loop calls ---------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}

    def g_parameters(self):
        return self.G.parameters()

    def sample_z(self, n: int, generator: torch.Generator) -> Tensor:
        """n random examples of the training pool: the inputs (and targets) of a grid."""
        idx = torch.randint(len(self.pool), (n,), generator=generator, device=generator.device).cpu()
        return self.pool.take(idx).to(generator.device)

    def sample_labels(self, n: int, generator: torch.Generator) -> None:
        return None

    training_labels = sample_labels  # what the loop draws for a training batch's fakes: nothing here either

    @property
    def sampler(self) -> nn.Module:
        return self.G

    def refresh_ema_statistics(self) -> None:  # no EMA generator
        return None

    def fakes_for_g(self, batch: Batch):
        """G's translations of the batch, graph kept: drawn once before D's step, which sees them
        detached, and pushed through the updated D in G's step (one G forward per iteration)."""
        with self.autocast():
            return self.translate_batch(batch)

    def d_backward(self, batch: Batch, fake=None) -> dict[str, Tensor]:
        if fake is None:
            with torch.no_grad():
                fake = self.fakes_for_g(batch)
        with self.autocast():
            loss, stats = self.d_loss(batch, fake)
        if loss is not None:  # None when the adversarial term is off: D need not train
            loss.backward()
        return stats

    def g_backward(self, batch: Batch, fake=None) -> dict[str, Tensor]:
        if fake is None:
            fake = self.fakes_for_g(batch)
        with frozen(self.D):
            with unreduced(self.D), self.autocast():
                loss, stats = self.g_loss(batch, fake)
            loss.backward()
        return stats

    def after_d_step(self) -> None:
        self.d_updates += 1

    def after_g_step(self) -> None:
        return None

    def generate(self, z: Tensor, labels=None) -> Tensor:
        return self.sample(z)
