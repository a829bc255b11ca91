"""Real batches on the training device, from a Dataset kept as uint8.

- CPU: the rows are gathered from the set (in memory or memory-mapped) and converted to floats.
- CUDA, the set on the GPU (`data.on_gpu`: always, or auto when it takes under half the free memory):
  it is copied there once as uint8; gathering and conversion run on the GPU.
- CUDA, the set in host memory: the next batch's rows are gathered into pinned memory and copied on
  a side stream while the current step runs; the step waits only on that copy.

Every path gathers whole index tensors (no per-sample Python) and converts with the same
arithmetic, so a batch is the same bits on every path.
"""

from __future__ import annotations

import torch

from ..data import Dataset
from ..errors import UserError
from ..memory import gib

GPU_SHARE = 0.5  # data.on_gpu=auto: the set may take at most this share of the GPU's free memory


def set_bytes(data: Dataset) -> int:
    return data.pixels.numel() * data.pixels.element_size()


class Feeder:
    def __init__(self, data: Dataset, device: torch.device, layout: torch.memory_format, on_gpu: str = "auto",
                 labels: torch.Tensor | None = None):
        """`labels`: what a real batch carries beside its images, one row per row of `data.pixels`
        (a recipe's own, such as caption words); default `data.labels`."""
        self.device, self.layout = device, layout
        labels = data.labels if labels is None else labels
        self.labels = None if labels is None else labels.to(device)
        self.streaming = False
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            fits = set_bytes(data) <= GPU_SHARE * free
            if on_gpu == "always" and set_bytes(data) > free:
                raise UserError(f"config key 'data.on_gpu': always, but data '{data.name}' takes {gib(set_bytes(data))}, "
                                f"more than the GPU's {gib(free)} free (use auto or never)")
            self.streaming = on_gpu == "never" or (on_gpu == "auto" and not fits)
        if self.streaming:
            self.data = data
            self.stream = torch.cuda.Stream(device)
            self.pending: tuple[torch.Tensor, torch.Tensor, torch.cuda.Event] | None = None
        else:
            self.data = data.to(device) if device.type == "cuda" else data

    def real(self, idx: torch.Tensor, upcoming: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(images or points as floats, labels) of the examples `idx` (CPU indices); with streaming,
        `upcoming` (the next batch's indices) starts its copy before this batch is returned."""
        labels = None if self.labels is None else self.labels[self.data.rows(idx).to(self.device)]
        if not self.streaming:
            x = self.data.take(idx.to(self.data.pixels.device))
        else:
            raw = self._raw(idx)
            if upcoming is not None:
                self.pending = (upcoming, *self._start_copy(upcoming))
            x = self.data.convert(raw, idx)
        return (x.contiguous(memory_format=self.layout) if x.dim() == 4 else x), labels

    def _start_copy(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.cuda.Event]:
        host = self.data.pixels[self.data.rows(idx)].pin_memory()  # the rows keep the set's channels-last layout
        with torch.cuda.stream(self.stream):
            on_device = host.to(self.device, non_blocking=True)
            done = torch.cuda.Event()
            done.record(self.stream)
        return on_device, done

    def _raw(self, idx: torch.Tensor) -> torch.Tensor:
        """This batch's uint8 rows on the device: the prefetched copy when it is the one asked for."""
        if self.pending is not None and torch.equal(self.pending[0], idx):
            _, raw, done = self.pending
            self.pending = None
        else:
            raw, done = self._start_copy(idx)
        torch.cuda.current_stream(self.device).wait_event(done)
        raw.record_stream(torch.cuda.current_stream(self.device))  # allocated on the side stream, used on this one
        return raw
