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

    def peek(self) -> torch.Tensor:
        """The indices the next `next()` returns, drawing nothing: a new epoch's permutation comes
        from a copy of the generator, so the order (and a checkpoint of it) stays as it was."""
        if self.pos + self.batch_size > self.n:
            ahead = torch.Generator(self.generator.device)
            ahead.set_state(self.generator.get_state())
            return torch.randperm(self.n, generator=ahead)[: self.batch_size]
        return self.perm[self.pos : self.pos + self.batch_size]
