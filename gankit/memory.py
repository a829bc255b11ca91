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
