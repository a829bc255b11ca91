"""torch.distributed set-up for `torchrun --nproc_per_node N -m gankit train ...`.

Every rank holds the same weights, optimiser states and random streams; the global batch
(optim.batch_size examples and latents, drawn identically on every rank) is cut into one distinct
shard per rank, and DistributedDataParallel averages the gradients. So a run on N ranks follows the
same trajectory as one process with the same global batch, and its checkpoint (written by rank 0
only) resumes on any number of ranks.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ..errors import UserError


@dataclass
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    def shard(self, t: torch.Tensor | None) -> torch.Tensor | None:
        """This rank's contiguous slice of a global batch (the batch size divides by the world size)."""
        if t is None or not self.enabled:
            return t
        n = t.shape[0] // self.world
        return t[self.rank * n : (self.rank + 1) * n]

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            t = t.clone()
            dist.all_reduce(t)
            t /= self.world
        return t

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when it is true on one: ranks must agree on when to stop."""
        if not self.enabled:
            return flag
        t = torch.tensor([float(flag)], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())


def setup(device: torch.device, batch_size: int) -> tuple[Dist, torch.device]:
    """Join the process group torchrun describes in the environment (WORLD_SIZE, RANK, LOCAL_RANK,
    MASTER_ADDR/PORT); a plain process gets a world of one. Returns the context and this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(), device
    if batch_size % world:
        raise UserError(f"config key 'optim.batch_size': {batch_size} does not split over {world} processes")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size()), device


def wrap(module: torch.nn.Module, ctx: Dist, device: torch.device, sync_bn: bool) -> torch.nn.Module:
    """DDP around a module with trainable weights (optionally with batch norm synchronised across ranks)."""
    if not ctx.enabled or not any(p.requires_grad for p in module.parameters()):
        return module
    if sync_bn:
        if device.type != "cuda":  # PyTorch's SyncBatchNorm has CUDA kernels only
            raise UserError("config key 'dist.sync_bn': SyncBatchNorm needs CUDA devices (NCCL); "
                            "on the CPU use a critic without batch norm or dist.sync_bn=false")
        module = torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    # No buffer sync in forward: a forward on rank 0 alone (sample grids, evaluation) must not wait
    # for the other ranks. Buffers (batch-norm running statistics) are rank 0's in checkpoints.
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None,
                                   forward_sync_buffers=False)


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    return module.module if isinstance(module, DistributedDataParallel) else module


def cleanup() -> None:
    """Leave the process group while the interpreter is fully alive. Otherwise gloo's worker threads
    and the DDP wrappers (often in reference cycles) that hold the group are torn down during
    interpreter finalisation, and a rank can abort ("terminate called without an active exception")."""
    if dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()
