"""What the machine's memory can hold: allocations that cannot fit are refused by name before they
start, instead of ending in an allocator traceback (or minutes of swapping) later."""

from __future__ import annotations

import os

from .errors import UserError


def available_bytes() -> int:
    """Memory a new allocation can take now: MemAvailable where Linux reports it, else physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


def require_memory(need: int, what: str) -> None:
    """A UserError naming `what` ('config key ...: 5,000 images at ...') when `need` bytes exceed
    the memory available now."""
    have = available_bytes()
    if need > have:
        raise UserError(f"{what} need at least {gib(need)} of memory, more than the {gib(have)} available")


# glibc's malloc serves blocks above a (dynamic) threshold with their own mmap and returns them to the
# system when freed, and trims freed memory off the heap's top: on the CPU every training step then
# faults in its activations' and gradients' pages afresh. Measured on dcgan-mnist (28x28 RGB, batch
# 128, 2 threads): 16,800 minor page faults per step and 152 ms, against 200 and 121 ms with freed
# memory kept (docs/performance.md). The step's working set is the same every step, so keeping it
# costs no more memory than the step's peak.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
KEEP_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory in the process (blocks under 1 GiB from the heap, the heap
    not trimmed below 1 GiB of free top). Process-wide and for the rest of its life. False where
    the C library has no mallopt (not glibc): nothing changes there."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, KEEP_BYTES))
