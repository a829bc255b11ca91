"""torch.distributed: 2 CPU processes under torchrun (gloo) follow the same trajectory as one process
with the same global batch, and their checkpoint resumes in a single process."""

from __future__ import annotations

import sys

import pytest
import torch

import gankit
from faultkit import ROOT, TINY, tiny_cfg
from gankit.train.checkpoint import load_checkpoint
from gankit.train.loop import resume

# The MLP critic has no batch norm and dropout is off, so per-shard forward passes are exact.
EXACT = [*TINY, "model.dropout=0", "train.steps=10", "train.checkpoint_every=10", "train.log_every=5"]


def _weights(path):
    tensors, meta = load_checkpoint(path)
    return {k: v for k, v in tensors.items() if k.startswith(("G.", "D."))}, meta


def test_two_gloo_ranks_match_one_process_and_resume_on_one(tmp_path):
    import os
    import subprocess

    out = tmp_path / "ddp run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "gankit", "train", "vanilla-mnist", *EXACT, "--out", str(out), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("trained 10 steps") == 1  # only rank 0 reports (and writes)

    single = gankit.train(tiny_cfg(*EXACT[len(TINY):], "train.steps=16"), tmp_path / "single", progress=False).dir
    ddp, meta = _weights(out / "checkpoints" / "last.safetensors")
    one, _ = _weights(single / "checkpoints" / "step_000010.safetensors")
    assert meta["step"] == 10 and meta["images_seen"] == 320  # global images, not rank 0's shard
    assert ddp.keys() == one.keys()
    for k in ddp:
        assert torch.allclose(ddp[k], one[k], rtol=0, atol=1e-5), k
    assert any(not torch.equal(ddp[k], _weights(single / "checkpoints" / "last.safetensors")[0][k]) for k in ddp)

    # A checkpoint from 2 ranks resumes on 1: six more steps land where the single run did.
    resume(out, progress=False, steps=16)
    ddp, _ = _weights(out / "checkpoints" / "last.safetensors")
    one, _ = _weights(single / "checkpoints" / "last.safetensors")
    for k in ddp:
        assert torch.allclose(ddp[k], one[k], rtol=0, atol=1e-5), k


def test_shards_are_distinct_and_cover_the_global_batch():
    from gankit.train.distributed import Dist

    batch = torch.arange(12)
    shards = [Dist(rank=r, world=3).shard(batch) for r in range(3)]
    assert torch.equal(torch.cat(shards), batch) and all(len(s) == 4 for s in shards)


def test_batch_that_does_not_split_over_the_ranks_is_a_user_error(monkeypatch):
    from gankit.train import distributed

    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(gankit.UserError, match="'optim.batch_size': 32 does not split over 3 processes"):
        distributed.setup(torch.device("cpu"), 32)


RANK_WEIGHTS = """
import sys, torch, torch.distributed as dist, gankit
from gankit.configure import load_config
from gankit.train.distributed import unwrap
cfg = load_config("dcgan-mnist", sys.argv[2:])
D = unwrap(gankit.train(cfg, sys.argv[1], progress=False).recipe.D)
print("rank", dist.get_rank(), "D", repr(torch.cat([p.detach().flatten() for p in D.parameters()]).double().sum().item()))
"""


def test_two_gloo_ranks_reduce_a_batch_norm_critics_pass_by_pass_gradients(tmp_path):
    """A batch-norm D is backpropagated pass by pass (real with R1, then fake); its gradients are
    reduced across the ranks once per step, after the last pass, so both ranks keep the same weights."""
    import os
    import subprocess

    script = tmp_path / "rank_weights.py"
    script.write_text(RANK_WEIGHTS)
    cfg = ["model.g_width=8", "model.d_width=8", "optim.batch_size=16", "train.device=cpu", "data.limit=64",
           "train.steps=6", "train.log_every=3", "train.sample_every=6", "train.checkpoint_every=6",
           "penalty.r1_every=2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(script), str(tmp_path / "run"), *cfg]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sums = dict(line.split()[1::2] for line in proc.stdout.splitlines() if line.startswith("rank "))
    assert sums.keys() == {"0", "1"} and sums["0"] == sums["1"], proc.stdout
