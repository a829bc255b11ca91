"""Exact resume: a run SIGKILLed mid-way and resumed ends with the very weights (bit for bit on the
CPU) and the very metrics records of an uninterrupted run."""

from __future__ import annotations

import signal

import pytest
import torch

import gankit
from faultkit import TINY, g_weights, metrics, run_python, tiny_cfg

# A child process trains the tiny config and SIGKILLs itself part-way: at the start of generator step
# KILL_AT (a mid-window, mid-checkpoint-interval step), or while writing the checkpoint of step 20.
KILLER = """
import json, os, signal, sys
import gankit
from gankit.configure import load_config
from gankit.train import checkpoint, loop
out, where = sys.argv[1], sys.argv[2]
cfg = load_config("vanilla-mnist", {tiny!r})
if where == "step":
    original = loop.Trainer.train_step
    def train_step(self):
        if self.step == 33:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self)
    loop.Trainer.train_step = train_step
else:  # die half-way through writing last.safetensors at step 20
    original = checkpoint.atomic_write_bytes
    def atomic_write_bytes(path, data):
        n = int.from_bytes(data[:8], "little")
        step = json.loads(json.loads(data[8 : 8 + n])["__metadata__"]["gankit"])["step"]
        if path.name == "last.safetensors" and step == 20:
            tmp = path.with_name("." + path.name + ".half.tmp")
            tmp.write_bytes(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return original(path, data)
    checkpoint.atomic_write_bytes = atomic_write_bytes
gankit.train(cfg, out, progress=False)
""".format(tiny=TINY)


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """The uninterrupted run both kill tests compare against."""
    return gankit.train(tiny_cfg(), tmp_path_factory.mktemp("whole") / "run", progress=False).dir


def test_sigkill_mid_run_then_resume_is_bit_exact(tmp_path, whole):
    killed = tmp_path / "killed run"
    proc = run_python(KILLER, str(killed), "step")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert metrics(killed)[-1]["step"] == 28  # logged, but not checkpointed (30 is)
    from gankit.train.checkpoint import load_checkpoint
    assert load_checkpoint(killed / "checkpoints" / "last.safetensors")[1]["step"] == 30

    from gankit.train.loop import resume
    run = resume(killed, progress=False)
    assert run.step == 40
    a, b = g_weights(whole), g_weights(killed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # Same records, none duplicated or missing; only wall-clock fields differ.
    assert metrics(killed) == metrics(whole)
    steps = [r["step"] for r in metrics(killed)]
    assert steps == sorted(set(steps)) == [7, 14, 21, 28, 35, 40]


def test_sigkill_while_writing_a_checkpoint_resumes_from_the_newest_good_one(tmp_path, whole, capsys):
    killed = tmp_path / "killed-ckpt"
    proc = run_python(KILLER, str(killed), "write")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    folder = killed / "checkpoints"
    assert not (folder / "last.safetensors").exists()  # killed between rotating it and writing it
    from gankit.train.loop import resume
    resume(killed, progress=False)  # falls back to step_000020 (newer than prev, step 10)
    warning = capsys.readouterr().err
    assert "last.safetensors' is missing" in warning and "step_000020.safetensors" in warning
    a, b = g_weights(whole), g_weights(killed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert metrics(killed) == metrics(whole)


def test_resume_restores_python_and_numpy_random_state(tmp_path):
    import random

    import numpy as np

    from gankit.train.checkpoint import load_checkpoint
    from gankit.train.loop import Trainer

    random.seed(5)
    np.random.seed(6)
    trainer = Trainer(tiny_cfg(), tmp_path / "r", progress=False)
    tensors, meta = trainer.state()
    expected = (random.random(), float(np.random.rand()))
    random.seed(99)
    np.random.seed(99)
    trainer.load_state(tensors, meta)
    assert (random.random(), float(np.random.rand())) == expected
