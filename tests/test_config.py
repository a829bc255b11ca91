import pytest

from gankit.config import Config, from_dict, load_config, preset_names
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
