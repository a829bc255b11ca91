"""`gankit doctor` end to end on a tiny real run, the held-out split it measures D's gap on, and
the probe that measures it leaving training as it was."""

from __future__ import annotations

import json

import torch

import gankit
from gankit.cli import main
from gankit.config import DataConfig
from gankit.configure import load_config
from gankit.data import load_dataset
from gankit.doctor import mean_distance
from gankit.report.html import build_report

TINY = ["model.g_width=8", "model.d_width=8", "model.z_dim=16", "optim.batch_size=16", "data.limit=128",
        "train.steps=8", "train.log_every=2", "train.sample_every=8", "train.checkpoint_every=4", "train.grid_size=4",
        "train.device=cpu"]


def test_held_out_examples_are_never_trained_on():
    limited = load_dataset(DataConfig(limit=100, held_out=50))
    assert limited.floats().equal(load_dataset(DataConfig(limit=100)).floats())  # the same training set with or without them
    whole = load_dataset(DataConfig(held_out=50))
    assert len(whole) == 5000 - 50 and len(whole.held_out) == 50 and len(whole.held_out_labels) == 50
    for data in (limited, whole):  # no held-out image is among the training images
        distance = torch.cdist(data.held_out.flatten(1), data.floats().flatten(1)).min()
        assert distance > 0


def test_too_many_held_out_examples_are_refused_by_name():
    import pytest

    from gankit.errors import UserError

    with pytest.raises(UserError, match=r"config key 'data.held_out': 4,901 examples cannot be held out of data 'mnist' \(data.limit=100 leaves 4,900 out\)"):
        load_dataset(DataConfig(limit=100, held_out=4901))


def test_the_probe_leaves_training_unchanged(tmp_path):
    """Same seed with and without data.held_out (and a limit, so the training set is the same): the
    same weights, batch-norm statistics and random streams, and the same logged losses."""
    runs = {}
    for name, extra in (("plain", []), ("probed", ["data.held_out=64"])):
        run = gankit.train(load_config("dcgan-mnist", TINY + ["train.steps=4", "train.sample_every=4"] + extra),
                           tmp_path / name, progress=False)
        runs[name] = run
    a, b = (runs[n].recipe for n in ("plain", "probed"))
    for module in ("G", "D", "G_ema"):
        sa, sb = a.modules()[module].state_dict(), b.modules()[module].state_dict()
        assert all(sa[k].equal(sb[k]) for k in sa), module
    records = {n: [json.loads(x) for x in (tmp_path / n / "metrics.jsonl").read_text().splitlines()] for n in runs}
    assert [r["loss_g"] for r in records["plain"]] == [r["loss_g"] for r in records["probed"]]
    assert all("rt" in r for r in records["plain"]) and all(-1 <= r["rt"] <= 1 for r in records["plain"])
    assert all("rt_heldout" in r and "rv" in r for r in records["probed"])
    assert not any("rv" in r for r in records["plain"])


def test_mean_distance_is_the_mean_over_pairs():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])
    assert abs(mean_distance(x) - (5 + 4 + 3) / 3) < 1e-9


def test_doctor_cli_on_a_tiny_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "dcgan-mnist", *TINY, "data.held_out=64", "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    out_json = tmp_path / "doctor.json"
    assert main(["doctor", str(run), "--json", str(out_json), "--samples", "32"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"gankit doctor {run}: ") and "checked:" in text
    result = json.loads(out_json.read_text())
    assert [c["name"] for c in result["checks"]] == ["divergence", "saturated D", "vanishing G gradient", "D overfitting",
                                                    "mode collapse", "oscillation"]
    assert result["diversity"]["steps"] == [4, 8] and all(0 < v < 2 for v in result["diversity"]["ratios"])
    # An 8-step G draws near-copies of one blob: its diversity is far under the data's, and the doctor says so
    assert any(f["name"] == "mode collapse" and f["step"] in (4, 8) for f in result["findings"])
    assert "D overfitting" in text  # checked with the held-out gap: r_v is in the records
    assert "r_v" in next(c["checked"] for c in result["checks"] if c["name"] == "D overfitting")
    html = build_report(run)  # the report's health panel shows the same checks from the records
    assert "<h2>Health</h2>" in html and "gankit doctor RUN" in html


def test_doctor_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["doctor", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"gankit: error: '{tmp_path}' is not a run directory (no config.yaml)"
    assert main(["doctor", str(tmp_path / "missing")]) == 2
    assert "not a run directory (not a folder)" in capsys.readouterr().err
