from __future__ import annotations

import torch


class Batches:
    """Endless shuffled epochs of indices into N examples, dropping each epoch's last partial batch.

    The permutation and position are part of a checkpoint, so a resumed run sees the same order.
    """

    def __init__(self, n: int, batch_size: int, generator: torch.Generator):
        self.n, self.batch_size, self.generator = n, batch_size, generator
        self.perm = torch.randperm(n, generator=generator)
        self.pos = 0

    def next(self) -> torch.Tensor:
        if self.pos + self.batch_size > self.n:
            self.perm = torch.randperm(self.n, generator=self.generator)
            self.pos = 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx
