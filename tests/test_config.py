import pytest

from gankit.config import Config, preset_names
from gankit.configure import from_dict, load_config
from gankit.errors import UserError


def test_presets_load_and_validate():
    assert {"dcgan-mnist", "vanilla-mnist"} <= set(preset_names())
    for name in preset_names():
        cfg = load_config(name)
        assert cfg.name == name and cfg.description


def test_dotted_overrides_are_typed():
    cfg = load_config("dcgan-mnist", ["optim.lr_d=1e-4", "loss=hinge", "optim.betas_g=[0.0, 0.9]", "train.steps=7"])
    assert cfg.optim.lr_d == 1e-4 and isinstance(cfg.optim.lr_d, float)
    assert cfg.loss == "hinge" and cfg.optim.betas_g == (0.0, 0.9) and cfg.train.steps == 7


def test_round_trip_through_a_dict():
    cfg = load_config("vanilla-mnist", ["optim.batch_size=32"])
    assert from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("override, message", [
    ("optim.lr_dd=1", "unknown config key 'optim.lr_dd' (did you mean 'optim.lr_d'?)"),
    ("lr_g=1", "did you mean 'optim.lr_g'?"),
    ("optim.lr_d=fast", "config key 'optim.lr_d': expected float, got 'fast'"),
    ("optim.lr_d=-1e-4", "config key 'optim.lr_d': must be positive"),
    ("optim.batch_size=0", "config key 'optim.batch_size': must be positive"),
    ("optim.batch_size=2.5", "config key 'optim.batch_size': expected int"),
    ("loss=magic", "config key 'loss': 'magic' is not one of"),
    ("optim.betas_d=[0.5, 1.0]", "each beta must lie in [0, 1)"),
    ("data.resolution=27", "DCGAN needs an even resolution"),
    ("nonsense", "is not KEY=VALUE"),
    ("train.compile=true", "config key 'train.compile': torch.compile cannot differentiate twice, which penalty.r1_gamma=0.3 needs"),
])
def test_bad_values_name_the_key(override, message):
    with pytest.raises(UserError) as exc:
        load_config("dcgan-mnist", [override])
    assert message in str(exc.value)


def test_compile_is_refused_for_every_second_order_term_and_allowed_without_them():
    with pytest.raises(UserError, match="which penalty.gp_weight=10.0, remedies.unrolled_steps=2 needs"):
        load_config("wgangp-mnist", ["train.compile=true", "remedies.unrolled_steps=2"])
    assert load_config("dcgan-mnist", ["train.compile=true", "penalty.r1_gamma=0"]).train.compile


@pytest.mark.parametrize("preset, overrides, message", [
    ("dcgan-mnist", ["model.dropout=0.3"], "config key 'model.dropout': model.arch=dcgan does not use it (got 0.3); leave it at its default 0.0"),
    ("vanilla-mnist", ["model.g_refine=true"], "config key 'model.g_refine': model.arch=mlp does not use it"),
    ("srgan", ["remedies.ema=0.9"], "config key 'remedies.ema': recipe 'srgan' does not use it (got 0.9)"),
    ("srgan", ["penalty.r1_gamma=1"], "config key 'penalty.r1_gamma': recipe 'srgan' does not use it"),
    ("vaegan-mnist", ["remedies.augment=translation"], "config key 'remedies.augment': recipe 'vaegan' does not use it"),
    ("vaegan-mnist", ["remedies.pack=2"], "config key 'remedies.pack': recipe 'vaegan' does not use it"),
    ("vaegan-mnist", ["data.source=ring", "data.limit=0"], "config key 'recipe': vaegan needs image data, and data 'ring' holds points"),
    ("ring", ["model.arch=dcgan", "model.g_layers=2", "model.d_layers=2", "model.maxout_pieces=5"],
     "config key 'model.arch': dcgan needs image data, and data 'ring' holds points"),
])
def test_options_a_family_never_reads_are_refused_by_name(tmp_path, preset, overrides, message):
    """A value the recipe or architecture would silently ignore is a mistake worth naming; nothing is written."""
    from gankit.train.loop import train

    with pytest.raises(UserError) as exc:
        train(load_config(preset, ["train.device=cpu"] + overrides), tmp_path / "run", progress=False)
    assert message in str(exc.value)
    assert not (tmp_path / "run").exists()


def test_a_finished_run_with_an_unused_key_still_loads(tmp_path):
    """The check guards new runs; a checkpoint whose config holds an unused value (as runs trained
    before the check may) loads as before."""
    import gankit
    from gankit.train.loop import Trainer

    cfg = load_config("dcgan-mnist", ["train.device=cpu", "model.g_width=8", "model.d_width=8", "optim.batch_size=8",
                                      "data.limit=16", "train.steps=1"])
    cfg.model.dropout = 0.3  # past the check, as an old run's stored config would be
    t = Trainer(cfg, tmp_path, progress=False)
    t.train_step()
    t.save(periodic=False)
    assert gankit.load(tmp_path).sample(2)["images"].shape == (2, 28, 28, 1)


def test_malformed_and_unknown_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: {lr_d: [1, 2\n")
    with pytest.raises(UserError, match=r"bad.yaml: malformed YAML at line"):
        load_config(str(bad))
    typo = tmp_path / "typo.yaml"
    typo.write_text("optim:\n  batchsize: 3\n")
    with pytest.raises(UserError, match=r"typo.yaml: unknown config key 'optim.batchsize' \(did you mean 'optim.batch_size'\?\)"):
        load_config(str(typo))
    with pytest.raises(UserError, match="neither a preset nor a YAML file"):
        load_config("dcgan-mnsit")
    with pytest.raises(UserError, match="does not exist"):
        load_config(str(tmp_path / "missing.yaml"))


def test_a_user_yaml_file_gets_defaults_for_what_it_omits(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("name: mine\nmodel: {arch: mlp}\n")
    cfg = load_config(str(f))
    assert cfg.model.arch == "mlp" and cfg.optim.batch_size == Config().optim.batch_size
