"""Recipes: one per GAN family. A recipe owns what a discriminator step and a generator step
compute, forward and backward (`d_backward`, `g_backward`); the training loop owns everything else
(optimisers, alternation, logging, checkpoints). The net builder and its architecture registry live
in `recipes/nets.py`."""

from __future__ import annotations

import contextlib
from typing import Callable

from ..config import Config
from ..data import Dataset
from ..data.split import UNLABELLED
from ..errors import UserError
from .gan import Batch, GANRecipe, merge_stats
from .nets import ARCHITECTURES, build_nets
from .cyclegan import CycleGANRecipe
from .pix2pix import Pix2PixRecipe
from .srgan import SRGANRecipe
from .ssgan import SSGANRecipe
from .stylegan2 import StyleGAN2Recipe
from .text2img import TextToImageRecipe
from .vaegan import VAEGANRecipe

RECIPES = {"gan": GANRecipe, "srgan": SRGANRecipe, "vaegan": VAEGANRecipe, "text2img": TextToImageRecipe,
           "pix2pix": Pix2PixRecipe, "cyclegan": CycleGANRecipe, "stylegan2": StyleGAN2Recipe,
           "ssgan": SSGANRecipe}


def build_recipe(cfg: Config, data: Dataset,
                 autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext):
    """The recipe `cfg.recipe` for `data`; `autocast` is the context its forward passes run in."""
    recipe = RECIPES[cfg.recipe]
    if recipe.needs_images and not data.is_images:
        raise UserError(f"config key 'recipe': {cfg.recipe} needs image data, and data '{data.name}' holds points")
    translates = bool(getattr(recipe, "directions", ()))
    if not translates and cfg.data.pairs != "none":
        raise UserError(f"config key 'data.pairs': recipe '{cfg.recipe}' learns from single images, not "
                        f"{cfg.data.pairs} image-to-image data (recipes pix2pix and cyclegan do)")
    if data.labels is not None and bool((data.labels == UNLABELLED).any()) and not getattr(recipe, "learns_from_unlabelled", False):
        raise UserError(f"config key 'data.labelled': recipe {cfg.recipe} cannot learn from unlabelled examples "
                        f"(recipe ssgan does); leave data.labelled at 0")
    return recipe(cfg, data, autocast)


__all__ = ["RECIPES", "ARCHITECTURES", "build_recipe", "build_nets", "GANRecipe", "Batch", "merge_stats"]
