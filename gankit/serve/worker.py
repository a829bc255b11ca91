"""One worker thread per served model, fed from a bounded queue.

A model's modules are used by one thread only (no locks around torch state, no interleaved batch
norm or RNG use), and a flood of requests waits in a queue of known length or is turned away at
once (the app answers 503 with Retry-After) instead of piling up threads and memory.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable


class Busy(Exception):
    """The model's queue is full."""


class ModelWorker:
    def __init__(self, name: str, queue_size: int):
        self.name, self.queue_size = name, queue_size
        self._jobs: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread = threading.Thread(target=self._loop, name=f"gankit-serve-{name}", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args) -> Future:
        """Queue fn(*args); its Future holds the result or exception. Raises Busy when the queue is full."""
        future: Future = Future()
        try:
            self._jobs.put_nowait((future, fn, args))
        except queue.Full:
            raise Busy(self.name) from None
        return future

    @property
    def waiting(self) -> int:
        return self._jobs.qsize()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, fn, args = job
            if not future.set_running_or_notify_cancel():  # its request timed out while it waited
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the request, which answers with it
                future.set_exception(exc)

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the jobs already queued."""
        self._jobs.put(None)
        self._thread.join(timeout)
