"""Prepared datasets (decode once, memory-map), batches from uint8, and the dataset options users
ask for: x-flip, crop, skip_bad, channels from the data."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main as cli
from gankit.config import DataConfig
from gankit.data import Dataset, load_dataset, prepare_folder
from gankit.data.load import BUNDLED
from gankit.data.transform import array_to_pixels, array_to_tensor
from gankit.errors import UserError
from gankit.train.batches import Batches
from gankit.train.feed import Feeder

ROOT = Path(__file__).resolve().parents[1]
cuda = pytest.mark.cuda
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    place = tmp_path / "cache"
    monkeypatch.setenv("GANKIT_DATA_CACHE", str(place))
    return place


def write_folder(root: Path, n_per_class: int = 3, size=(8, 8), classes=("cats", "dogs"), seed=0) -> list[np.ndarray]:
    """Random RGB PNGs in one sub-folder per class; returns the pixel arrays in sorted-path order."""
    rng = np.random.default_rng(seed)
    arrays = []
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            a = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(a).save(root / c / f"{i:03d}.png")
            arrays.append(a)
    return arrays


def prep(root, resolution=8, channels=3, **kw):
    return prepare_folder(root, resolution, channels, **kw)


def test_prepared_set_holds_the_pixels_and_the_subfolder_labels(tmp_path, cache):
    arrays = write_folder(tmp_path / "imgs")
    p = prep(tmp_path / "imgs")
    assert not p.reused and p.place.parent == cache
    assert isinstance(p.images, np.memmap) and p.images.dtype == np.uint8 and p.images.shape == (6, 8, 8, 3)
    assert np.array_equal(p.images, np.stack(arrays))  # no resize at the native size: exact
    assert p.labels.tolist() == [0, 0, 0, 1, 1, 1] and p.manifest["classes"] == ["cats", "dogs"]
    m = json.loads((p.place / "manifest.json").read_text())
    assert m["count"] == 6 and m["resolution"] == 8 and m["channels"] == 3 and m["resize_filter"].startswith("PIL bicubic")
    assert [s[0] for s in m["sources"]] == [f"{c}/{i:03d}.png" for c in ("cats", "dogs") for i in range(3)]
    assert m["checksum"].startswith("sha256:") and m["image_sizes"] == {"8x8": 6}
    d = load_dataset(DataConfig(source=str(tmp_path / "imgs"), resolution=8, channels=3))
    assert d.num_classes == 2 and d.labels.tolist() == [0, 0, 0, 1, 1, 1]
    expected = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255 * 2 - 1
    assert torch.allclose(d.floats(), expected, atol=1e-6)


def test_cache_is_reused_and_invalidated_by_touch_add_remove(tmp_path):
    root = tmp_path / "imgs"
    write_folder(root)
    first = prep(root)
    again = prep(root)
    assert again.reused and again.place == first.place
    victim = root / "cats" / "001.png"
    os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 1_000_000_000))  # touch
    touched = prep(root)
    assert not touched.reused and touched.manifest["count"] == 6
    assert prep(root).reused
    Image.new("RGB", (8, 8), (255, 0, 0)).save(root / "dogs" / "new.png")  # add
    added = prep(root)
    assert not added.reused and added.manifest["count"] == 7 and added.labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert added.images[-1, ..., 0].min() == 255 and added.images[-1, ..., 1].max() == 0  # sorted order: dogs/new.png is last
    victim.unlink()  # remove
    removed = prep(root)
    assert not removed.reused and removed.manifest["count"] == 6
    assert not any(p.name.startswith(".") for p in removed.place.parent.iterdir())  # no temporary folders left


def test_a_prepare_killed_midway_leaves_nothing_trusted_and_the_next_run_rebuilds(tmp_path, cache):
    root = tmp_path / "many"
    rng = np.random.default_rng(1)
    root.mkdir()
    for i in range(1500):  # enough that one decoding process is still at it when killed
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / f"{i:04d}.png", compress_level=0)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "prepare", str(root), "--resolution", "16",
                             "--channels", "3", "--workers", "1", "--quiet"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(cache.glob(".*tmp*/images.npy")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)  # into the decoding
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # killed, not finished
    leftovers = [p for p in cache.iterdir() if p.name.startswith(".")]
    assert leftovers and not any((p / "manifest.json").exists() for p in leftovers)
    assert not [p for p in cache.iterdir() if not p.name.startswith(".")]  # nothing in a trusted place
    rebuilt = prep(root, resolution=16)
    assert not rebuilt.reused and rebuilt.manifest["count"] == 1500
    assert [p.name for p in cache.iterdir()] == [rebuilt.place.name]  # the killed prepare's folder is gone
    one = np.asarray(Image.open(root / "0700.png").resize((16, 16), Image.Resampling.BICUBIC, reducing_gap=None))
    assert np.array_equal(rebuilt.images[700], one)


def test_parallel_workers_decode_the_same_bytes_as_one(tmp_path, cache):
    root = tmp_path / "imgs"
    write_folder(root, n_per_class=300, size=(12, 12))  # 600 files: three tasks of 256
    serial = np.array(prep(root, workers=1).images)
    for p in cache.iterdir():
        shutil.rmtree(p)
    parallel = prep(root, workers=2)
    assert not parallel.reused and np.array_equal(parallel.images, serial)


def test_skip_bad_counts_and_names_the_bad_files(tmp_path):
    root = tmp_path / "imgs"
    write_folder(root)
    (root / "cats" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "dogs" / "empty.jpg").write_bytes(b"")
    with pytest.raises(UserError, match=r"broken\.png: cannot read image.*data\.skip_bad=true"):
        prep(root)
    p = prep(root, skip_bad=True)
    assert p.manifest["count"] == 6 and p.manifest["files"] == 8
    assert [s["file"] for s in p.manifest["skipped"]] == ["cats/broken.png", "dogs/empty.jpg"]
    assert p.labels.tolist() == [0, 0, 0, 1, 1, 1]  # labels stay with their images


def test_crop_center_and_pad_on_a_hand_made_image(tmp_path):
    # 4 wide, 2 high, one grey level per column: 10, 20, 30, 40
    wide = np.repeat(np.array([[10, 20, 30, 40]], np.uint8), 2, axis=0)
    (tmp_path / "f").mkdir()
    Image.fromarray(wide, mode="L").save(tmp_path / "f" / "wide.png")
    center = prep(tmp_path / "f", resolution=2, channels=1, crop="center").images[0, :, :, 0]
    assert center.tolist() == [[20, 30], [20, 30]]  # the middle square
    pad = prep(tmp_path / "f", resolution=4, channels=1, crop="pad").images[0, :, :, 0]
    assert pad.tolist() == [[0, 0, 0, 0], [10, 20, 30, 40], [10, 20, 30, 40], [0, 0, 0, 0]]  # black above and below
    # arrays (npz) take the same option
    np.savez(tmp_path / "w.npz", images=wide[None])
    d = load_dataset(DataConfig(source=str(tmp_path / "w.npz"), resolution=2, channels=1, crop="center"))
    assert ((d.floats()[0, 0] + 1) * 127.5).round().tolist() == [[20, 30], [20, 30]]
    d = load_dataset(DataConfig(source=str(tmp_path / "w.npz"), resolution=4, channels=1, crop="pad"))
    assert ((d.floats()[0, 0] + 1) * 127.5).round().tolist() == pad.tolist()


def test_xflip_doubles_the_set_with_mirrored_images(tmp_path):
    ramp = np.array([[[0, 85, 170, 255]] * 4], np.uint8)  # (1, 4, 4): left dark, right bright
    np.savez(tmp_path / "r.npz", images=ramp, labels=np.array([7]))
    d = load_dataset(DataConfig(source=str(tmp_path / "r.npz"), resolution=4, channels=1, xflip=True))
    assert len(d) == 2 and len(d.pixels) == 1
    x = d.floats()
    assert torch.equal(x[1], x[0].flip(-1)) and x[0, 0, 0, 0] == -1 and x[1, 0, 0, 0] == 1
    assert d.label(torch.tensor([0, 1])).tolist() == [7, 7]
    with pytest.raises(UserError, match="data.xflip.*points"):
        load_dataset(DataConfig(source="ring", xflip=True))


def test_bundled_sets_give_the_floats_of_the_old_whole_set_conversion_bit_for_bit():
    """The old path converted the whole set to float32 once (array_to_tensor); batches from uint8
    must give the same bits, so fixed-seed runs train the same weights (benchmarks/checkpoint_hashes.py)."""
    raw, _ = BUNDLED["mnist"][0]()
    d = load_dataset(DataConfig(source="mnist", resolution=28, channels=1))
    assert d.pixels.dtype == torch.uint8 and d.pixels.shape == (5000, 1, 28, 28)  # a quarter of the float copy
    old = array_to_tensor(raw, "mnist", 28, 1)
    idx = torch.randperm(5000, generator=torch.Generator().manual_seed(3))[:256]
    assert torch.equal(d.take(idx).view(torch.int32), old[idx].view(torch.int32))
    # a uint8 set at another size and channel count: fitted per batch as the whole set was
    rgb = np.random.default_rng(0).integers(0, 256, (40, 20, 20, 3), dtype=np.uint8)
    pixels = array_to_pixels(rgb, "rgb", 12, 1)
    assert pixels.dtype == torch.uint8 and pixels.shape == (40, 3, 20, 20)
    d = Dataset(pixels=pixels, labels=None, num_classes=0, name="rgb", resolution=12, channels=1)
    assert torch.equal(d.take(torch.arange(7, 30)), array_to_tensor(rgb, "rgb", 12, 1)[7:30])


def test_batches_peek_is_the_next_batch_and_draws_nothing():
    gen = torch.Generator().manual_seed(0)
    b = Batches(10, 4, gen)
    for _ in range(7):  # across epoch ends (10 // 4 = 2 batches an epoch)
        state = gen.get_state()
        ahead = b.peek()
        assert torch.equal(gen.get_state(), state)
        assert torch.equal(b.next(), ahead)


def test_feeder_on_cpu_gives_the_dataset_batches_in_the_training_layout():
    d = load_dataset(DataConfig(source="mnist", limit=100, xflip=True))
    feed = Feeder(d, torch.device("cpu"), torch.channels_last)
    idx = torch.tensor([0, 150, 3])
    x, y = feed.real(idx)
    assert x.is_contiguous(memory_format=torch.channels_last) and torch.equal(x, d.take(idx))
    assert torch.equal(x[1], d.take(torch.tensor([50]))[0].flip(-1)) and y.tolist() == d.label(idx).tolist()


def _tiny_train(tmp_path, *args):
    return cli(["train", "dcgan-mnist", "model.g_width=8", "model.d_width=8", "model.z_dim=8", "optim.batch_size=4",
                "train.sample_every=1000", "train.checkpoint_every=1000", "train.grid_size=4", "--steps", "1",
                "--device", "cpu", "--quiet", "--out", str(tmp_path / "run"), *args])


def test_data_channels_follow_the_data_and_one_line_says_what_is_trained(tmp_path, capsys):
    write_folder(tmp_path / "imgs", n_per_class=4, size=(16, 16))
    assert _tiny_train(tmp_path, "--data", str(tmp_path / "imgs")) == 0
    err = capsys.readouterr().err
    assert (f"data '{tmp_path / 'imgs'}': 8 images, 16x16 RGB -> trained as 28x28 RGB (data.resolution=28; "
            "set data.resolution=16 to keep their size)") in err
    assert "channels: 3" in (tmp_path / "run" / "config.yaml").read_text()
    assert _tiny_train(tmp_path / "grey", "--data", str(tmp_path / "imgs"), "data.channels=1") == 0  # the user's choice wins
    assert "-> trained as 28x28 grey" in capsys.readouterr().err
    assert "channels: 1" in (tmp_path / "grey" / "run" / "config.yaml").read_text()
    assert _tiny_train(tmp_path / "few", "--data", str(tmp_path / "imgs"), "data.limit=6", "data.held_out=1") == 0
    assert "8 images, 16x16 RGB -> trained as 28x28 RGB (data.resolution=28; set data.resolution=16 to keep their size); " \
           "6 of them train (data.limit=6, data.held_out=1)" in capsys.readouterr().err


def test_a_set_smaller_than_the_batch_and_a_single_image_say_so(tmp_path, capsys):
    Image.new("RGB", (16, 16), (9, 9, 9)).save(tmp_path / "one.png")
    assert _tiny_train(tmp_path, "--data", str(tmp_path / "one.png")) == 2
    err = capsys.readouterr().err.strip()
    assert "optim.batch_size': 4 exceeds the 1 examples" in err and "optim.batch_size=1 or lower" in err and "\n" not in err
    assert _tiny_train(tmp_path, "--data", str(tmp_path / "one.png"), "optim.batch_size=1") == 0
    assert "1 image, 16x16 RGB -> trained as 28x28 RGB" in capsys.readouterr().err


def test_data_info_and_prepare_commands(tmp_path, capsys):
    write_folder(tmp_path / "imgs")
    assert cli(["data", "info", str(tmp_path / "imgs")]) == 0
    out = capsys.readouterr().out
    assert "images:     6 files" in out and "classes:    2 (cats, dogs)" in out and "channels:   3 (RGB)" in out
    assert "not prepared yet" in out
    assert cli(["prepare", str(tmp_path / "imgs")]) == 0
    assert "prepared 6 images at 8x8 RGB" in capsys.readouterr().out
    assert cli(["data", "info", str(tmp_path / "imgs")]) == 0
    out = capsys.readouterr().out
    assert "6 images at 8x8 RGB" in out and "up to date" in out and str(tmp_path / "cache") in out
    assert cli(["prepare", str(tmp_path / "imgs" / "cats" / "000.png")]) == 2


@cuda
@needs_cuda
def test_uint8_set_on_the_gpu_and_streamed_batches_equal_the_cpu_batches():
    d = load_dataset(DataConfig(source="mnist", limit=500, xflip=True))
    idx = torch.randperm(len(d), generator=torch.Generator().manual_seed(0))[:64]
    cpu_x, cpu_y = Feeder(d, torch.device("cpu"), torch.channels_last).real(idx)
    dev = torch.device("cuda")
    resident = Feeder(d, dev, torch.channels_last, "always")
    assert not resident.streaming and resident.data.pixels.device.type == "cuda"
    x, y = resident.real(idx)
    assert torch.equal(x.cpu(), cpu_x) and torch.equal(y.cpu(), cpu_y)
    streamed = Feeder(d, dev, torch.channels_last, "never")
    upcoming = idx.flip(0)
    x, y = streamed.real(idx, upcoming)
    assert torch.equal(x.cpu(), cpu_x) and torch.equal(y.cpu(), cpu_y)
    x2, _ = streamed.real(upcoming)  # the prefetched copy
    assert torch.equal(x2.cpu(), Feeder(d, torch.device("cpu"), torch.channels_last).real(upcoming)[0])


@cuda
@needs_cuda
def test_bf16_autocast_training_step_on_cuda_is_finite(tmp_path):
    from gankit.configure import load_config
    from gankit.train.loop import Trainer

    cfg = load_config("dcgan-mnist", ["train.device=cuda", "train.precision=bf16", "optim.batch_size=32", "data.limit=256"])
    trainer = Trainer(cfg, tmp_path, progress=False)
    assert trainer.amp_dtype == torch.bfloat16
    for _ in range(3):
        stats = trainer.train_step()
    assert all(torch.isfinite(v).all() for v in stats.values())
