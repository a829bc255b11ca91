"""Recipes: one per GAN family. A recipe says what a discriminator step and a generator step
compute; the training loop owns everything else (optimisers, alternation, logging, checkpoints)."""

from __future__ import annotations

from ..config import Config
from ..data import Dataset
from ..errors import UserError
from .gan import Batch, GANRecipe, merge_stats
from .srgan import SRGANRecipe
from .vaegan import VAEGANRecipe

RECIPES = {"gan": GANRecipe, "srgan": SRGANRecipe, "vaegan": VAEGANRecipe}


def build_recipe(cfg: Config, data: Dataset):
    recipe = RECIPES[cfg.recipe]
    if recipe.needs_images and not data.is_images:
        raise UserError(f"config key 'recipe': {cfg.recipe} needs image data, and data '{data.name}' holds points")
    return recipe(cfg, data)


__all__ = ["RECIPES", "build_recipe", "GANRecipe", "Batch", "merge_stats"]
