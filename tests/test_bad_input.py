"""Bad input, catalogued: each case exits 2 with one line naming the problem and writes nothing.
And what is not a mistake (mixed image modes and sizes, odd path names) just works."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gankit
from faultkit import TINY, tiny_cfg
from gankit.cli import main as cli


def _fails(capsys, *argv: str) -> str:
    code = cli(list(argv))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("gankit: error: ") and "\n" not in err and "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def model_run(tmp_path_factory):
    return gankit.train(tiny_cfg("train.steps=3"), tmp_path_factory.mktemp("bad") / "run", progress=False).dir


def _train(tmp_path, *args: str) -> list[str]:
    return ["train", *args, "--out", str(tmp_path / "out"), "--quiet"]


def test_malformed_yaml(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("optim: {lr_d: 1e-4\nloss: [hinge\n")
    err = _fails(capsys, *_train(tmp_path, str(cfg)))
    assert err.count("c.yaml") == 1 and "malformed YAML at line 2" in err
    assert not (tmp_path / "out").exists()


def test_unknown_key_suggests_the_closest(tmp_path, capsys):
    err = _fails(capsys, *_train(tmp_path, "vanilla-mnist", "optim.lr_dd=1e-4"))
    assert "unknown config key 'optim.lr_dd'" in err and "did you mean 'optim.lr_d'" in err
    assert not (tmp_path / "out").exists()


def test_value_of_the_wrong_type(tmp_path, capsys):
    err = _fails(capsys, *_train(tmp_path, "vanilla-mnist", "optim.batch_size=big"))
    assert "'optim.batch_size': expected int, got 'big'" in err


def test_negative_learning_rate(tmp_path, capsys):
    err = _fails(capsys, *_train(tmp_path, "vanilla-mnist", "optim.lr_g=-1e-4"))
    assert "'optim.lr_g': must be positive, got -0.0001" in err


def test_batch_size_zero(tmp_path, capsys):
    err = _fails(capsys, *_train(tmp_path, "vanilla-mnist", "optim.batch_size=0"))
    assert "'optim.batch_size': must be positive, got 0" in err
    assert not (tmp_path / "out").exists()


def test_sample_n_zero(tmp_path, model_run, capsys):
    err = _fails(capsys, "sample", str(model_run), "-n", "0", "--out", str(tmp_path / "s.npz"))
    assert "-n must be at least 1, got 0" in err and not (tmp_path / "s.npz").exists()


def _folder(tmp_path, name="imgs"):
    folder = tmp_path / name
    folder.mkdir()
    Image.new("L", (12, 10), 200).save(folder / "a.png")
    return folder


def test_image_folder_with_a_corrupt_file(tmp_path, capsys):
    folder = _folder(tmp_path)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    err = _fails(capsys, *_train(tmp_path, "dcgan-mnist", "--data", str(folder)))
    assert "broken.png: cannot read image" in err and not (tmp_path / "out").exists()


def test_image_folder_with_no_images(tmp_path, capsys):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("no pictures here")
    err = _fails(capsys, *_train(tmp_path, "dcgan-mnist", "--data", str(folder)))
    assert "empty: no images found" in err and not (tmp_path / "out").exists()


def test_npz_without_images(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", pictures=np.zeros((4, 8, 8), np.uint8))
    err = _fails(capsys, *_train(tmp_path, "dcgan-mnist", "--data", str(tmp_path / "d.npz")))
    assert "d.npz: no 'images' array in the npz (keys: pictures)" in err and not (tmp_path / "out").exists()


def test_label_outside_the_trained_classes(tmp_path, model_run, capsys):
    err = _fails(capsys, "sample", str(model_run), "--label", "3", "--out", str(tmp_path / "s.png"))
    assert "--label 3: this model is not conditional" in err
    model = gankit.load(model_run)
    model.recipe.conditional, model.num_classes = True, 10  # as a class-conditional recipe sets them
    for label in (10, -1):
        with pytest.raises(gankit.UserError, match=rf"--label {label}: this model was trained on classes 0..9"):
            model.sample(4, label=label)
    assert not (tmp_path / "s.png").exists()


def test_output_directory_that_cannot_be_written(tmp_path, model_run, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    err = _fails(capsys, "train", "vanilla-mnist", *TINY, "--out", str(blocker / "run"), "--quiet")
    assert "run directory" in err and "cannot be written" in err and "a-file" in err
    err = _fails(capsys, "sample", str(model_run), "--out", str(tmp_path / "missing" / "s.png"))
    assert "folder" in err and "does not exist" in err


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_output_directory_on_a_file_system_that_refuses_folders(capsys):
    """As root every permission check passes, yet /proc takes no new folder: the folder is tried
    before any data is read, and nothing is left behind."""
    err = _fails(capsys, "train", "vanilla-mnist", *TINY, "--out", "/proc/gankit-forbidden/run", "--quiet")
    assert "run directory '/proc/gankit-forbidden/run' cannot be created: making '/proc/gankit-forbidden' failed" in err
    assert not Path("/proc/gankit-forbidden").exists()


def test_ranks_checking_the_same_new_run_directory_at_once_do_not_collide(tmp_path):
    """Under torchrun every rank checks --out at the same moment. The check used to create and remove
    the real folders, so one rank's probe made the other's mkdir fail with "File exists" (a CI run
    failed so). Many checks at once must all pass and leave the parent as it was."""
    from concurrent.futures import ThreadPoolExecutor

    from gankit.train.loop import _check_run_dir

    out = tmp_path / "runs" / "ddp run" / "inner"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: _check_run_dir(out), range(400)))
    assert list(tmp_path.iterdir()) == []


def test_a_resolution_too_large_for_memory_is_refused_before_allocating(tmp_path, capsys):
    err = _fails(capsys, *_train(tmp_path, "dcgan-mnist", "data.resolution=100000", "--steps", "1"))
    # the set stays uint8 at 28x28; one float batch of 64 at the asked size is what cannot fit
    assert ("config key 'data.resolution': a batch of 128 images of data 'mnist' at 100000x100000 with 1 channel need at "
            "least 4,768.4 GiB of memory, more than the") in err
    assert not (tmp_path / "out").exists()


def test_sample_n_too_large_for_memory(tmp_path, model_run, capsys):
    err = _fails(capsys, "sample", str(model_run), "-n", "1000000000000", "--out", str(tmp_path / "s.npz"))
    assert "-n 1,000,000,000,000: 1,000,000,000,000 samples of shape (2,) need at least 7,450.6 GiB of memory" in err
    assert not (tmp_path / "s.npz").exists()


def test_resume_of_a_folder_without_a_run(tmp_path, capsys):
    err = _fails(capsys, "train", "--resume", str(tmp_path))
    assert "cannot resume" in err and "no checkpoint at" in err


def test_mixed_modes_and_sizes_with_spaces_and_non_ascii_names_just_work(tmp_path):
    folder = tmp_path / "my pictures ünï 写真"
    folder.mkdir()
    Image.new("L", (12, 10), 255).save(folder / "grey one.png")  # white, grayscale
    Image.new("RGBA", (20, 20), (255, 0, 0, 0)).save(folder / "transparent é.png")  # alpha 0 -> black
    palette = Image.new("P", (7, 9), 0)
    palette.putpalette([0, 0, 255] + [0] * 765)  # index 0 = pure blue
    palette.save(folder / "palette 調色.gif")
    Image.new("RGB", (30, 16), (0, 255, 0)).save(folder / "green.jpg", quality=100)
    cfg = tiny_cfg(f"data.source={folder}", "data.resolution=8", "data.channels=3", "optim.batch_size=4",
                   "train.steps=2", "train.checkpoint_every=2")
    from gankit.data import load_dataset

    data = load_dataset(cfg.data)
    assert tuple(data.floats().shape) == (4, 3, 8, 8) and data.labels is None
    means = data.floats().mean(dim=(2, 3))  # files are read in sorted order: green, grey, palette, transparent
    expected = np.array([[-1, 1, -1], [1, 1, 1], [-1, -1, 1], [-1, -1, -1]], np.float32)
    assert np.allclose(means.numpy(), expected, atol=0.02)
    run = gankit.train(cfg, tmp_path / "run ü", progress=False)
    assert run.step == 2 and (tmp_path / "run ü" / "checkpoints" / "last.safetensors").exists()
    assert gankit.load(tmp_path / "run ü").sample(3)["images"].shape == (3, 8, 8, 3)
