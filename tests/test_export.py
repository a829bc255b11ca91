"""gankit export: the exported generator computes what `gankit sample` draws from (EMA weights where
trained with them), at any batch size, in ONNX Runtime and as a torch.export program."""

import json

import numpy as np
import pytest
import torch

import gankit
from gankit.cli import main
from gankit.configure import load_config
from gankit.export import PaddedTextEncoder, export
from gankit.nets import TextEncoder

ort = pytest.importorskip("onnxruntime")

SMALL = ["train.device=cpu", "train.steps=3", "model.g_width=8", "model.d_width=8", "optim.batch_size=16",
         "data.limit=64", "train.log_every=1", "train.sample_every=100", "train.checkpoint_every=100"]


STYLEGAN2 = [o for o in SMALL if not o.startswith("model.")] + [
    "model.z_dim=8", "stylegan2.w_dim=8", "stylegan2.mapping_layers=2", "stylegan2.channel_base=64", "stylegan2.channel_max=8"]


TEXT = SMALL + ["model.z_dim=8", "text.word_dim=8", "text.embed_dim=8", "text.compressed=4", "text.pretrain_steps=4"]


@pytest.fixture(scope="module", params=["dcgan-mnist", "cgan-mnist", "stylegan2-mnist", "text-mnist"])
def run(request, tmp_path_factory):
    extra = ["remedies.ema=0.5"] if request.param in ("dcgan-mnist", "text-mnist") else []  # an EMA that differs from G
    small = {"stylegan2-mnist": STYLEGAN2, "text-mnist": TEXT}.get(request.param, SMALL)
    return gankit.train(load_config(request.param, small + extra), tmp_path_factory.mktemp("exp") / "run", progress=False).dir


def _inputs(model, n):
    gen = torch.Generator().manual_seed(n)
    z = model.recipe.sample_z(n, gen)
    labels = model.recipe.sample_labels(n, gen)
    inputs = (z,) if labels is None else (z, labels)
    return inputs + (torch.tensor([0.6]),) if model.has_styles else inputs  # StyleGAN2: truncation as an input


def _reference(model, inputs):
    with torch.no_grad():
        if model.has_styles:  # what `gankit sample --truncation 0.6` draws from
            return model.recipe.sample(*inputs[:-1], truncation=0.6).numpy()
        return model.recipe.sample(*inputs).numpy()  # what `gankit sample` draws from


@pytest.mark.parametrize("fmt", ["onnx", "pt2"])
def test_the_export_equals_pytorchs_sampler_at_batch_1_and_64(run, tmp_path, fmt):
    model = gankit.load(run)
    out = tmp_path / f"g.{fmt}"
    info = export(model, fmt, out, run=str(run))
    assert json.loads((tmp_path / f"g.{fmt}.json").read_text()) == info
    if model.recipe.G_ema is not None:
        assert info["weights"] == "G_ema"
        z = _inputs(model, 4)[:1 + model.conditional]
        if model.is_text:
            z = (z[0], model.recipe.text_embedding(_inputs(model, 4)[1]))
        with torch.no_grad():
            assert not torch.allclose(model.recipe.G(*z), model.recipe.G_ema(*z))  # the test can tell them apart
    names = [i["name"] for i in info["inputs"]]
    second = ["tokens"] if model.is_text else ["labels"] if model.conditional else []
    assert names == ["z"] + second + (["truncation"] if model.has_styles else [])
    assert info["outputs"][0]["shape"] == ["batch", *model.sample_shape] and info["outputs"][0]["range"] == [-1.0, 1.0]
    if fmt == "onnx":
        session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == names
    else:
        program = torch.export.load(str(out)).module()
    for n in (1, 64):
        inputs = _inputs(model, n)
        if fmt == "onnx":
            got = session.run(None, {k: v.numpy() for k, v in zip(names, inputs)})[0]
        else:
            with torch.no_grad():
                got = program(*inputs).numpy()
        assert got.shape == (n, *model.sample_shape)
        np.testing.assert_allclose(got, _reference(model, inputs), atol=1e-4, rtol=0)


def test_the_exported_text_encoder_ends_where_the_packed_one_does():
    """Captions of every length, padded to one: the unpacked GRU's mean outputs equal pack_padded_sequence's."""
    torch.manual_seed(0)
    encoder = TextEncoder(vocab_size=12, word_dim=5, dim=6)
    tokens = torch.tensor([[3, 1, 4, 1, 5, 9], [2, 6, 0, 0, 0, 0], [7, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
    with torch.no_grad():
        torch.testing.assert_close(PaddedTextEncoder(encoder)(tokens), encoder(tokens), atol=1e-6, rtol=0)


def test_export_on_the_command_line_and_its_mistakes(run, tmp_path, capsys, monkeypatch):
    out = tmp_path / "g.pt2"
    assert main(["export", str(run), "--format", "pt2", "--out", str(out)]) == 0
    assert out.is_file() and (tmp_path / "g.pt2.json").is_file()
    capsys.readouterr()
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "g.pt2")]) == 2
    assert "must end in .onnx" in capsys.readouterr().err
    assert main(["export", str(run), "--format", "tflite", "--out", str(tmp_path / "g.tflite")]) == 2
    assert main(["export", str(run), "--format", "pt2", "--out", str(tmp_path / "no" / "g.pt2")]) == 2
    assert "does not exist" in capsys.readouterr().err
    import gankit.export as ex

    real_find = ex.importlib.util.find_spec
    monkeypatch.setattr(ex.importlib.util, "find_spec", lambda name: None if name == "onnxscript" else real_find(name))
    assert main(["export", str(run), "--format", "onnx", "--out", str(tmp_path / "h.onnx")]) == 2
    err = capsys.readouterr().err
    assert "needs the onnxscript package: pip install -e '.[export]'" in err and "Traceback" not in err
    assert not (tmp_path / "h.onnx").exists()


def test_a_run_whose_generator_takes_no_latents_is_refused(tmp_path, capsys):
    sr = ["train.device=cpu", "train.steps=1", "srgan.blocks=1", "model.g_width=8", "model.d_width=8",
          "optim.batch_size=4", "data.limit=16", "train.sample_every=100", "train.checkpoint_every=100"]
    run = gankit.train(load_config("srgan", sr), tmp_path / "sr", progress=False).dir
    assert main(["export", str(run), "--format", "pt2", "--out", str(tmp_path / "g.pt2")]) == 2
    assert "draws nothing from noise" in capsys.readouterr().err and not (tmp_path / "g.pt2").exists()
