import json

import numpy as np
import torch
from PIL import Image

import gankit
from gankit.cli import main
from gankit.configure import load_config
from gankit.train.checkpoint import load_checkpoint, unpack_state
from gankit.train.loop import resume


def g_weights(run_dir):
    tensors, _ = load_checkpoint(run_dir / "checkpoints" / "last.safetensors")
    return unpack_state("G", tensors)


def test_a_short_run_writes_the_whole_run_directory(tmp_path, tiny_cfg):
    run = gankit.train(tiny_cfg, tmp_path / "run", progress=False)
    d = run.dir
    assert run.step == 6
    assert load_config(str(d / "config.yaml")) == tiny_cfg  # the resolved config reproduces the run
    records = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6]
    for key in ("time", "loss_d", "loss_g", "d_real", "d_fake", "images_per_s"):
        assert all(np.isfinite(r[key]) for r in records), key
    assert all(0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1 for r in records)
    assert sorted(p.name for p in (d / "samples").iterdir()) == ["step_000003.png", "step_000006.png"]
    assert Image.open(d / "samples" / "step_000003.png").size == (4 * 30 + 2,) * 2  # 16 samples, 4x4, padded
    assert sorted(p.name for p in (d / "checkpoints").iterdir()) == [
        "last.safetensors", "prev.safetensors", "step_000003.safetensors", "step_000006.safetensors"]
    assert (d / "losses.png").stat().st_size > 1000


def test_same_seed_same_weights_and_resume_matches(tmp_path, tiny_cfg):
    a = gankit.train(tiny_cfg, tmp_path / "a", progress=False)
    b = gankit.train(tiny_cfg, tmp_path / "b", progress=False)
    wa, wb = g_weights(a.dir), g_weights(b.dir)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    half = load_config(str(tmp_path / "a" / "config.yaml"), ["train.steps=3"])
    gankit.train(half, tmp_path / "c", progress=False)
    resume(tmp_path / "c", progress=False, steps=6)
    wc = g_weights(tmp_path / "c")
    assert all(torch.equal(wa[k], wc[k]) for k in wa)
    other = load_config(str(tmp_path / "a" / "config.yaml"), ["train.seed=1"])
    wd = g_weights(gankit.train(other, tmp_path / "d", progress=False).dir)
    assert not all(torch.equal(wa[k], wd[k]) for k in wa)


def test_sample_writes_the_contract_npz_and_png(tmp_path, tiny_cfg):
    run = gankit.train(tiny_cfg, tmp_path / "run", progress=False)
    assert main(["sample", str(run.dir), "-n", "7", "--seed", "3", "--out", str(tmp_path / "s.npz")]) == 0
    with np.load(tmp_path / "s.npz") as f:
        assert f.files == ["images"]
        assert f["images"].shape == (7, 28, 28, 1) and f["images"].dtype == np.uint8
        first = f["images"].copy()
    model = gankit.load(run.dir)
    again = model.sample(7, seed=3)["images"]
    assert np.array_equal(first, again)  # a seed fixes the samples
    assert not np.array_equal(first, model.sample(7, seed=4)["images"])
    assert main(["sample", str(run.last_checkpoint), "-n", "5", "--out", str(tmp_path / "g.png")]) == 0
    assert Image.open(tmp_path / "g.png").size == (3 * 30 + 2, 2 * 30 + 2)


def test_points_sample_format_and_a_generator_that_learns(tmp_path):
    cfg = load_config(str(_write(tmp_path / "g.yaml", """
name: g1
data: {source: gauss1d, limit: 4096}
model: {arch: mlp, z_dim: 1, g_width: 32, d_width: 32, maxout_pieces: 2}
optim: {batch_size: 128, lr_g: 1.0e-3, lr_d: 1.0e-3}
train: {steps: 300, log_every: 100, sample_every: 300, checkpoint_every: 300}
""")))
    run = gankit.train(cfg, tmp_path / "run", progress=False)  # an untrained G's mean is near 0; the data's is 4
    points = gankit.load(run.dir).sample(2000, seed=0)["points"]
    assert points.shape == (2000, 1) and points.dtype == np.float32
    assert abs(points.mean() - 4.0) < 0.5 and 0.1 < points.std() < 1.5


def _write(path, text):
    path.write_text(text)
    return path
