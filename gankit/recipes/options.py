"""The options of the noise-to-sample GAN, read from the config once, when a recipe is built: the
conditional form, the remedies for mode collapse and the penalties. A recipe that leaves some of
them off (VAE-GAN, SRGAN) builds its own, so it reads no key it ignores."""

from __future__ import annotations

from dataclasses import dataclass

from ..augment import parse as parse_augment
from ..config import Config


@dataclass(frozen=True)
class GANOptions:
    conditional: bool = False  # class labels into G and D
    augment: tuple[str, ...] = ()  # DiffAugment kinds applied to every image D sees
    ada: bool = False  # adaptive augmentation of every image D sees
    ada_target: float = 0.6  # ADA's target of r_t
    ada_kimg: float = 500.0  # ADA: thousands of real images for p to go from 0 to 1
    pack: int = 1  # PacGAN: D judges this many samples at once
    mbstd: bool = False  # minibatch standard-deviation feature in D
    minibatch_disc: int = 0  # minibatch-discrimination kernels in D
    unrolled_steps: int = 0  # unrolled D steps in G's update
    ema: float = 0.0  # decay of the EMA of G's weights; 0 = none
    gp_weight: float = 0.0  # WGAN-GP
    r1_gamma: float = 0.0  # R1
    r1_every: int = 1  # lazy R1's interval
    clip: float = 0.0  # WGAN weight clipping

    @classmethod
    def from_config(cls, cfg: Config) -> "GANOptions":
        r, p = cfg.remedies, cfg.penalty
        return cls(conditional=cfg.model.conditional, augment=parse_augment(r.augment), ada=r.ada,
                   ada_target=r.ada_target, ada_kimg=r.ada_kimg, pack=r.pack, mbstd=r.mbstd,
                   minibatch_disc=r.minibatch_disc, unrolled_steps=r.unrolled_steps, ema=r.ema,
                   gp_weight=p.gp_weight, r1_gamma=p.r1_gamma, r1_every=p.r1_every, clip=p.clip)
