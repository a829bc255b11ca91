"""Faults: corrupt or truncated checkpoints, divergence, and checkpoints that try to run code."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

import gankit
from faultkit import tiny_cfg
from gankit.cli import main as cli
from gankit.errors import Diverged, UserError
from gankit.recipes.gan import GANRecipe
from gankit.train.checkpoint import load_checkpoint, load_latest, save_checkpoint


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return gankit.train(tiny_cfg("train.steps=35"), tmp_path_factory.mktemp("faults") / "run", progress=False).dir


def _copy_run(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_checkpoint_round_trip_and_rotation(tmp_path, run_dir):
    folder = run_dir / "checkpoints"
    assert load_checkpoint(folder / "last.safetensors")[1]["step"] == 35
    assert load_checkpoint(folder / "prev.safetensors")[1]["step"] == 30  # the previous good one, kept
    t = {"a": torch.arange(6.0).view(2, 3), "b": torch.tensor(3)}
    save_checkpoint(tmp_path / "c.safetensors", t, {"step": 1})
    back, meta = load_checkpoint(tmp_path / "c.safetensors")
    assert meta == {"step": 1} and torch.equal(back["a"], t["a"]) and torch.equal(back["b"], t["b"])


def test_a_checkpoint_of_an_older_format_is_refused_by_name(tmp_path, run_dir, capsys):
    """A format-1 file (before the format key: D's weights laid out differently) loads into today's nets
    without a shape error, so only the format key can stop it computing the wrong function."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from gankit.train.checkpoint import CHECKSUM_KEY, FORMAT_KEY, META_KEY

    with safe_open(run_dir / "checkpoints" / "last.safetensors", "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        header = {k: v for k, v in f.metadata().items() if k != FORMAT_KEY}
    assert set(header) == {META_KEY, CHECKSUM_KEY}
    old = tmp_path / "old.safetensors"
    save_file(tensors, old, metadata=header)
    with pytest.raises(UserError, match="old.safetensors.*format 1, this gankit reads format 2"):
        gankit.load(old)
    assert cli(["sample", str(old), "-n", "2", "--out", str(tmp_path / "s.png")]) == 2
    assert "format 1" in capsys.readouterr().err and not (tmp_path / "s.png").exists()
    newer = tmp_path / "newer.safetensors"
    save_file(tensors, newer, metadata={**header, FORMAT_KEY: "3"})
    with pytest.raises(UserError, match="newer.safetensors.*format 3 by a newer gankit"):
        gankit.load(newer)


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty"])
def test_corrupt_last_checkpoint_falls_back_to_prev_with_a_warning(tmp_path, run_dir, damage, capsys):
    run = _copy_run(run_dir, tmp_path / "run")
    last = run / "checkpoints" / "last.safetensors"
    data = bytearray(last.read_bytes())
    if damage == "truncate":
        data = data[: len(data) - 100]
    elif damage == "flip":
        data[-5] ^= 0x01  # one bit of one weight: only the checksum can tell
    else:
        data = b""
    last.write_bytes(bytes(data))
    with pytest.raises(UserError, match="last.safetensors"):
        load_checkpoint(last)
    path, _, meta = load_latest(run / "checkpoints")
    warning = capsys.readouterr().err
    assert path.name == "prev.safetensors" and meta["step"] == 30
    assert "last.safetensors" in warning and "prev.safetensors" in warning
    model = gankit.load(run)  # the run directory still loads, from prev
    assert model.meta["step"] == 30
    assert "prev.safetensors" in capsys.readouterr().err


def test_resume_after_a_corrupt_last_continues_from_prev_and_trims_metrics(tmp_path, run_dir):
    from gankit.train.loop import resume

    run = _copy_run(run_dir, tmp_path / "run")
    last = run / "checkpoints" / "last.safetensors"
    last.write_bytes(last.read_bytes()[:1000])
    before = (run / "metrics.jsonl").read_text()
    result = resume(run, progress=False)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert result.step == 35 and steps == [7, 14, 21, 28, 35]
    drop = lambda text: [{k: v for k, v in json.loads(x).items() if k not in ("time", "images_per_s")} for x in text.splitlines()]
    assert drop((run / "metrics.jsonl").read_text()) == drop(before)  # steps 31..35 replayed exactly


def _nan_d_loss(when, monkeypatch):
    """Make D's loss NaN at the generator steps (1-based, as the loop counts) where `when(step)` holds."""
    original = GANRecipe._fake_loss
    calls = {"n": 0}

    def fake_loss(self, logits, stats):  # D's pass over the fakes: once per D step
        calls["n"] += 1
        loss = original(self, logits, stats)
        if not when(calls["n"]):
            return loss
        stats["loss_d"] = stats["loss_d"] * float("nan")
        return loss * float("nan")

    monkeypatch.setattr(GANRecipe, "_fake_loss", fake_loss)


def _nan_at(step: int, monkeypatch):
    """Make D's loss NaN from generator step `step` on."""
    _nan_d_loss(lambda n: n >= step, monkeypatch)


def test_divergence_stops_at_the_step_it_appears_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    _nan_at(25, monkeypatch)
    out = tmp_path / "run"
    with pytest.raises(Diverged, match=r"non-finite loss at step 25 \(loss_d=nan, loss_g=") as err:
        gankit.train(tiny_cfg(), out, progress=False)
    assert "last.safetensors' is intact" in str(err.value)
    _, meta = load_checkpoint(out / "checkpoints" / "last.safetensors")  # checksum verified
    assert meta["step"] == 20
    assert not (out / "checkpoints" / "step_000030.safetensors").exists()
    *logged, last = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(r["step"] < 25 for r in logged)  # and the doctor reads where it stopped:
    assert last["step"] == 25 and last["diverged"].startswith("non-finite loss at step 25 (loss_d=nan")


def test_divergence_exit_code_and_message_from_the_cli(tmp_path, monkeypatch, capsys):
    _nan_at(3, monkeypatch)
    from faultkit import TINY

    code = cli(["train", "vanilla-mnist", *TINY, "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "non-finite loss at step 3" in err and "no checkpoint was written" in err
    assert "Traceback" not in err and not (tmp_path / "run" / "checkpoints").exists()


def test_rollback_to_the_last_good_checkpoint_with_a_lower_learning_rate(tmp_path, monkeypatch, capsys):
    _nan_d_loss(lambda n: n == 25, monkeypatch)  # one transient NaN, at generator step 25
    run = gankit.train(tiny_cfg("guard.rollbacks=1", "guard.lr_factor=0.25"), tmp_path / "run", progress=False)
    err = capsys.readouterr().err
    assert run.step == 40 and "non-finite loss at step 25" in err and "rolled back to" in err and "(step 20)" in err
    _, meta = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.safetensors")
    assert meta["opt_g_groups"][0]["lr"] == pytest.approx(2e-4 * 0.25) and meta["config"]["optim"]["lr_d"] == pytest.approx(5e-5)
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [7, 14, 20, 21, 28, 35, 40]  # 20: the record of the rollback, for the doctor
    assert "non-finite loss at step 25" in json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[2])["rolled_back"]


def test_non_finite_weights_are_never_checkpointed(tmp_path):
    from gankit.train.loop import Trainer

    trainer = Trainer(tiny_cfg(), tmp_path / "run", progress=False)
    with torch.no_grad():
        next(trainer.recipe.G.parameters())[0, 0] = float("inf")
    with pytest.raises(Diverged, match="non-finite weights in G"):
        trainer.save(periodic=False)
    assert not (tmp_path / "run" / "checkpoints").exists()


class _Evil:
    """Unpickling this creates a file: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("kind", ["raw-pickle", "torch-save"])
def test_loading_a_malicious_pickle_refuses_and_runs_nothing(tmp_path, kind, capsys):
    marker = tmp_path / "pwned"
    for name in ("evil.safetensors", "evil.pt"):
        path = tmp_path / name
        if kind == "raw-pickle":
            path.write_bytes(pickle.dumps({"G.weight": _Evil(marker)}))
        else:
            torch.save({"G.weight": _Evil(marker)}, path)
        with pytest.raises(UserError, match="not a gankit checkpoint or corrupt"):
            gankit.load(path)
        assert cli(["sample", str(path), "-n", "2", "--out", str(tmp_path / "s.png")]) == 2
        assert "not a gankit checkpoint" in capsys.readouterr().err
    run = tmp_path / "run" / "checkpoints"  # as a run directory's only checkpoint
    run.mkdir(parents=True)
    (run / "last.safetensors").write_bytes((tmp_path / "evil.pt").read_bytes())
    with pytest.raises(UserError, match="every checkpoint .* is unreadable"):
        gankit.load(tmp_path / "run")
    assert not marker.exists() and not (tmp_path / "s.png").exists()


def test_trim_metrics_drops_later_records_and_a_line_cut_by_the_kill(tmp_path):
    from gankit.train.loop import trim_metrics

    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 7, "loss_d": 1.0}\n{"step": 14, "loss_d": 0.9}\n{"step": 21, "loss_d": 0.8}\n{"step": 2')
    trim_metrics(path, 14)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [7, 14]
