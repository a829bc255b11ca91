"""The package's layers (docs/architecture.md): a module imports gankit only from a lower tier,
never sideways between units of one tier and never inside a function body; the registries are
the one source of names."""

import ast
import dataclasses
from pathlib import Path

import pytest

import gankit
from gankit import config
from gankit.configure import RECIPE_SECTIONS, unread_options
from gankit.recipes import ARCHITECTURES, RECIPES

# unit (a first-level module or package of gankit) -> tier, lowest first
TIERS = {
    "errors": 0, "io": 0, "version": 0,
    "config": 1, "objectives": 1, "augment": 1, "ada": 1, "accel": 1, "memory": 1, "tiles": 1,
    "data": 2, "nets": 2, "health": 2,
    "recipes": 3, "metrics": 3, "report": 3,
    "configure": 4,
    "train": 5,
    "model": 6,
    "sr": 7, "bench": 7, "export": 7, "doctor": 7, "translate": 7, "styles": 7, "classify": 7,
    "serve": 8,
    "commands": 9,
    "cli": 10,
}
FACADES = {"__init__", "__main__"}  # gankit/__init__.py (the public API) and python -m gankit sit above all


def _unit(rel: Path) -> str:
    parts = rel.with_suffix("").parts  # ("gankit", "train", "loop") or ("gankit", "config")
    return parts[1]


def _targets(node: ast.AST, rel: Path) -> list[str]:
    """The gankit units an import statement names."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif node.level:  # relative: resolve against the module's package
        package = list(rel.with_suffix("").parts[:-1])
        base = package[: len(package) - (node.level - 1)]
        names = [".".join(base + [node.module])] if node.module else [".".join(base + [a.name]) for a in node.names]
    else:
        names = [node.module or ""]
    return [n.split(".")[1] for n in names if n.startswith("gankit.")]


def tier_violations(root: Path) -> list[str]:
    """Every import in the gankit package under `root` that breaks the layering, as readable lines."""
    problems = []
    for path in sorted((root / "gankit").rglob("*.py")):
        rel = path.relative_to(root)
        unit = _unit(rel)
        if unit in FACADES:
            continue
        if unit not in TIERS:
            problems.append(f"{rel}: unit '{unit}' has no tier (add it to TIERS and docs/architecture.md)")
            continue
        tree = ast.parse(path.read_text(), str(rel))
        in_body = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for n in ast.walk(f)}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _targets(node, rel):
                where = f"{rel}:{node.lineno}"
                if id(node) in in_body:
                    problems.append(f"{where}: imports gankit.{target} inside a function body")
                elif target == unit:
                    continue
                elif target not in TIERS:
                    problems.append(f"{where}: imports gankit.{target}, which has no tier")
                elif TIERS[target] >= TIERS[unit]:
                    kind = "sideways" if TIERS[target] == TIERS[unit] else "upwards"
                    problems.append(f"{where}: {unit} (tier {TIERS[unit]}) imports {target} (tier {TIERS[target]}) {kind}")
    return problems


ROOT = Path(gankit.__file__).resolve().parent.parent


def test_every_import_goes_down_the_tiers():
    assert tier_violations(ROOT) == []


@pytest.mark.parametrize("module, planted, expected", [
    ("config.py", "from .train import loop\n", "config (tier 1) imports train (tier 5) upwards"),
    ("nets/mlp.py", "from ..data import load_dataset\n", "nets (tier 2) imports data (tier 2) sideways"),
    ("data/load.py", "def f():\n    from ..errors import UserError\n", "imports gankit.errors inside a function body"),
    ("metrics/kid.py", "import gankit.report.grid\n", "metrics (tier 3) imports report (tier 3) sideways"),
])
def test_the_check_fails_on_a_planted_import(tmp_path, module, planted, expected):
    """The same check on a copy of the package with one bad import planted names it."""
    for path in (ROOT / "gankit").rglob("*.py"):
        copy = tmp_path / path.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(path.read_text())
    target = tmp_path / "gankit" / module
    target.write_text(target.read_text() + "\n" + planted)
    problems = tier_violations(tmp_path)
    assert len(problems) == 1 and expected in problems[0], problems


def test_a_new_unit_without_a_tier_is_named(tmp_path):
    (tmp_path / "gankit").mkdir()
    (tmp_path / "gankit" / "gallery.py").write_text("import os\n")
    assert tier_violations(tmp_path) == ["gankit/gallery.py: unit 'gallery' has no tier (add it to TIERS and docs/architecture.md)"]


# ---- registries and options ---------------------------------------------------------------------
def test_every_recipe_and_architecture_option_names_a_real_config_key():
    keys = set(config.all_keys())
    sections = {f.name for f in dataclasses.fields(config.Config)}
    for name, recipe in RECIPES.items():
        for option in recipe.config_keys:
            assert option in keys or option in sections, (name, option)
            assert option.split(".")[0] in RECIPE_SECTIONS, (name, option)
    for name, arch in ARCHITECTURES.items():
        assert all(k in keys and k.startswith("model.") for k in arch.config_keys), name


def test_every_recipe_owned_key_is_read_by_some_recipe_and_architecture():
    """A key no recipe reads would be refused for every run: a dead option."""
    unread_everywhere = None
    for recipe in RECIPES:
        for arch in ARCHITECTURES:
            cfg = config.Config(recipe=recipe)
            cfg.model.arch = arch
            unread = {k for k, _ in unread_options(cfg)}
            unread_everywhere = unread if unread_everywhere is None else unread_everywhere & unread
    assert unread_everywhere == set()


def test_what_each_recipe_leaves_unread():
    def unread(recipe, arch="dcgan"):
        cfg = config.Config(recipe=recipe)
        cfg.model.arch = arch
        return dict(unread_options(cfg))

    gan = unread("gan")
    assert gan["model.dropout"] == "model.arch=dcgan" and "model.g_refine" not in gan
    assert "srgan.scale" in gan and "vaegan.kl_weight" in gan and "remedies.pack" not in gan
    assert unread("gan", "mlp")["model.g_refine"] == "model.arch=mlp"
    srgan = unread("srgan")
    assert srgan["remedies.ema"] == "recipe 'srgan'" and "srgan.scale" not in srgan and "model.g_width" not in srgan
    vaegan = unread("vaegan")
    assert {"remedies.pack", "model.conditional", "penalty.gp_weight"} <= set(vaegan) and "remedies.ema" not in vaegan
    ssgan = unread("ssgan")
    assert {"loss", "model.arch", "remedies.ema", "vaegan.kl_weight"} <= set(ssgan)
    assert not {"model.d_width", "ssgan.unlabelled_weight"} & set(ssgan) and "ssgan.input_noise" in unread("gan")


class _Recorder:
    """A read-only view of a config that records every leaf key read through it."""

    def __init__(self, obj, reads: set, prefix: str = ""):
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_reads", reads)
        object.__setattr__(self, "_prefix", prefix)

    def __getattr__(self, name):
        value = getattr(self._obj, name)
        key = self._prefix + name
        if dataclasses.is_dataclass(value):
            return _Recorder(value, self._reads, key + ".")
        self._reads.add(key)
        return value


@pytest.mark.parametrize("preset, overrides", [
    ("dcgan-mnist", []), ("cgan-mnist", []), ("wgangp-mnist", []), ("hinge-mnist", []),
    ("vanilla-mnist", ["remedies.unrolled_steps=1", "remedies.mbstd=true"]),
    ("ring", ["remedies.minibatch_disc=2", "remedies.pack=2", "penalty.clip=0.1"]),
    ("dcgan-mnist", ["remedies.augment=translation,cutout", "penalty.r1_every=1"]),
    ("srgan", ["srgan.blocks=1", "srgan.warmup_steps=0"]), ("vaegan-mnist", []),
    ("pix2pix-edges", ["translation.unet_depth=5", "data.resolution=32", "translation.d_layers=1"]),
    ("cyclegan-digits", ["translation.blocks=1"]),
    ("ssgan-mnist", ["data.held_out=0", "data.labelled=10"]),
])
def test_a_recipe_reads_only_the_options_it_declares(preset, overrides, monkeypatch):
    """Every key of the recipe-owned sections that a recipe reads while it is built and runs a D and
    a G phase is among its `config_keys` (with its architecture's): the declaration cannot go stale,
    and a key refused as unread is truly never read."""
    import torch

    monkeypatch.setattr("gankit.recipes.cyclegan.READER_STEPS", 1)  # CycleGAN's label readers: fitted, not well

    from gankit.configure import _keys_of, load_config
    from gankit.data import load_dataset
    from gankit.recipes import Batch, build_recipe

    cfg = load_config(preset, ["data.limit=64", "model.g_width=8", "model.d_width=8", *overrides])
    reads: set = set()
    data = load_dataset(cfg.data)
    recipe = build_recipe(_Recorder(cfg, reads), data)
    gen = torch.Generator().manual_seed(0)
    n = 8
    batch = Batch(real=data.take(torch.arange(n)), labels=None if data.labels is None else data.labels[:n],
                  z=recipe.sample_z(n, gen), fake_labels=recipe.sample_labels(n, gen))
    recipe.d_backward(batch)
    recipe.after_d_step()
    recipe.g_backward(batch)
    recipe.after_g_step()
    owned = _keys_of(RECIPE_SECTIONS)
    declared = _keys_of(RECIPES[cfg.recipe].config_keys)
    if "model.arch" in declared:
        declared -= {k for a in ARCHITECTURES.values() for k in a.config_keys} - set(ARCHITECTURES[cfg.model.arch].config_keys)
    assert reads & owned, "the recorder saw no read"
    assert (reads & owned) - declared == set()
