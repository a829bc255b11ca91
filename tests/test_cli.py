"""The command line: exit codes and one-line messages for user mistakes, nothing half-written."""

import os
import subprocess
import sys

import pytest

from gankit.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_presets_lists_every_preset(capsys):
    from gankit.config import preset_names

    code, out, _ = run_cli(capsys, "presets")
    assert code == 0
    assert [line.split()[0] for line in out.strip().splitlines()] == preset_names()


def test_help_exits_zero():
    for argv in (["--help"], ["train", "--help"], ["sample", "--help"]):
        r = subprocess.run([sys.executable, "-m", "gankit", *argv], capture_output=True, text=True)
        assert r.returncode == 0 and "usage: gankit" in r.stdout


def test_every_commands_help_exits_zero(capsys):
    """Every sub-command (and bench mode) prints its help: a stray % in a help text raised a TypeError."""
    from gankit.commands import COMMANDS
    from gankit.commands.bench import MODES

    names = [c.__name__.rsplit(".", 1)[1] for c in COMMANDS]
    for argv in [[n, "--help"] for n in names] + [["bench", m, "--help"] for m in MODES]:
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0, argv
        assert "usage: gankit" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["train", "dcgan-mnsit"], "'dcgan-mnsit' is neither a preset nor a YAML file (did you mean 'dcgan-mnist'?)"),
    (["train", "dcgan-mnist", "optim.lr_dd=1"], "unknown config key 'optim.lr_dd' (did you mean 'optim.lr_d'?)"),
    (["train", "dcgan-mnist", "--steps", "ten"], "argument --steps: invalid int value: 'ten'"),
    (["train", "dcgan-mnist", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "dcgan-mnist", "--data", "/no/such/folder"], "data '/no/such/folder' does not exist"),
    (["train"], "train needs a preset name"),
    (["sample", "/no/run"], "no checkpoint at '/no/run"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_user_mistakes_exit_2_with_one_line(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("gankit: error: ") and message in err


def test_train_and_sample_mistakes_leave_nothing_behind(tmp_path, capsys, tiny_cfg):
    import gankit

    run = gankit.train(tiny_cfg, tmp_path / "run", progress=False)
    before = sorted(p.name for p in tmp_path.iterdir())
    cases = [
        (["sample", str(run.dir), "-n", "0", "--out", str(tmp_path / "x.npz")], "-n must be at least 1, got 0"),
        (["sample", str(run.dir), "--out", str(tmp_path / "x.jpg")], "must end in .png"),
        (["sample", str(run.dir), "--out", str(tmp_path / "nowhere" / "x.png")], "does not exist"),
        (["sample", str(run.dir), "--label", "3", "--out", str(tmp_path / "x.png")], "this model is not conditional"),
        (["train", "dcgan-mnist", "--steps", "1", "--out", str(run.dir)], "already holds a run"),
        (["train", "dcgan-mnist", "--device", "cuda", "--steps", "1", "--out", str(tmp_path / "cuda")], "no CUDA device"),
        (["train", "--resume", str(tmp_path / "nothing")], "no checkpoint at"),
    ]
    for argv, message in cases:
        if "cuda" in argv and __import__("torch").cuda.is_available():
            continue
        code, _, err = run_cli(capsys, *argv)
        assert code == 2 and message in err, (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_directory(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    code, _, err = run_cli(capsys, "train", "dcgan-mnist", "--steps", "1", "--out", str(locked / "run"))
    assert code == 2 and "cannot be written" in err


def test_train_command_end_to_end(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "train", "dcgan-mnist", "--steps", "2", "--quiet", "--out", str(tmp_path / "r"),
                           "model.g_width=8", "model.d_width=8", "data.limit=128", "optim.batch_size=16")
    assert code == 0
    assert f"run directory: {tmp_path / 'r'}" in out and "step_000002.png" in out
