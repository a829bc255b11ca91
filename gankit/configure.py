"""The checks that need the registries, and the config entry points users call.

`gankit.config` checks each field on its own; this step checks the names that come from a registry
(recipe, loss, architecture, augmentation, metrics) and, when a run starts, refuses options the
chosen recipe and architecture never read. It sits above the registries so that none of them
imports the config's checks and the config imports none of them.
"""

from __future__ import annotations

import difflib
from typing import Any

from . import config
from .augment import KINDS, parse as parse_augment
from .config import Config, get_key
from .errors import UserError
from .metrics import METRICS, direction, parse_names
from .objectives import LOSSES
from .recipes import ARCHITECTURES, RECIPES

# The config sections (and top-level keys) that belong to a recipe and its nets: each recipe's
# `config_keys` says which of their keys it reads; the rest (data, optim, train, ...) the loop reads for all.
RECIPE_SECTIONS = ("loss", "model", "remedies", "penalty", "srgan", "vaegan", "text", "translation", "stylegan2", "ssgan")


def _one_of(key: str, value: Any, registry: dict) -> None:
    if value not in registry:
        close = difflib.get_close_matches(str(value), list(registry), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UserError(f"config key '{key}': {value!r} is not one of {', '.join(registry)}{hint}")


def _check_evaluation(ev: config.EvalConfig) -> None:
    try:
        names = parse_names(ev.metrics)
    except UserError as exc:
        raise UserError(f"config key 'evaluation.metrics': {exc}") from None
    if ev.best_metric:
        try:
            direction(ev.best_metric)
        except UserError as exc:
            raise UserError(f"config key 'evaluation.best_metric': {exc}") from None
        offered = {k for n in (names or METRICS) for k in METRICS[n].better}
        if ev.best_metric not in offered:
            raise UserError(f"config key 'evaluation.best_metric': '{ev.best_metric}' is not reported by "
                            f"evaluation.metrics '{ev.metrics}'")


def check(cfg: Config) -> Config:
    """Raise a UserError naming the key when a name is not in its registry."""
    _one_of("recipe", cfg.recipe, RECIPES)
    _one_of("loss", cfg.loss, LOSSES)
    _one_of("model.arch", cfg.model.arch, ARCHITECTURES)
    for kind in parse_augment(cfg.remedies.augment):
        if kind not in KINDS:
            raise UserError(f"config key 'remedies.augment': unknown kind {kind!r} (choose from {', '.join(KINDS)})")
    if cfg.evaluation.every:
        _check_evaluation(cfg.evaluation)
    return cfg


def load_config(name_or_path: str, overrides: list[str] = ()) -> Config:
    """A preset name or a YAML file, then `KEY=VALUE` overrides applied in order; fully checked."""
    return check(config.read_config(name_or_path, overrides))


def from_dict(values: dict[str, Any], source: str = "config") -> Config:
    """A config from a plain mapping (a checkpoint's), fully checked; `source` names it in errors."""
    return check(config.read_dict(values, source))


def _keys_of(names: tuple[str, ...]) -> set[str]:
    """Full keys of section names ('model') and single keys ('model.z_dim')."""
    keys = config.all_keys()
    return {k for name in names for k in keys if k == name or k.startswith(name + ".")}


def unread_options(cfg: Config) -> list[tuple[str, str]]:
    """(key, owner) for every recipe-owned key that neither the chosen recipe nor its architecture
    reads: the recipe's `config_keys`, less the keys of architectures other than the chosen one."""
    recipe = RECIPES[cfg.recipe]
    reads = _keys_of(recipe.config_keys)
    owned = _keys_of(RECIPE_SECTIONS)
    unread = []
    if "model.arch" in reads:
        for name, arch in ARCHITECTURES.items():
            if name != cfg.model.arch:
                unread += [(k, f"model.arch={cfg.model.arch}") for k in arch.config_keys
                           if k not in ARCHITECTURES[cfg.model.arch].config_keys]
    taken = {k for k, _ in unread}
    unread += [(k, f"recipe '{cfg.recipe}'") for k in sorted(owned - reads) if k not in taken]
    return unread


def unread_keys(cfg: Config) -> frozenset[str]:
    """The keys of unread_options(cfg), for advice (gankit doctor, the report) that must not suggest them."""
    return frozenset(key for key, _ in unread_options(cfg))


def refuse_unread(cfg: Config) -> None:
    """A UserError naming a key set away from its default that the chosen architecture or recipe never
    reads: the value would silently change nothing. Checked when a run starts, not when a finished run
    is loaded, so that runs trained before the check still load."""
    default = Config()
    for key, owner in unread_options(cfg):
        if get_key(cfg, key) != get_key(default, key):
            raise UserError(f"config key '{key}': {owner} does not use it (got {get_key(cfg, key)!r}); leave it at "
                            f"its default {get_key(default, key)!r}")
