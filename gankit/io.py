"""Atomic file writes (every file gankit writes appears whole or not at all) and gankit's cache folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read the process umask once (os.umask can only read it by setting it)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """A temporary file in the same folder, fsync, rename, fsync of the folder: a reader sees the
    old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the file a normal mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def cache_dir() -> Path:
    """Where gankit keeps what it can rebuild (prepared datasets, the MNIST classifier's weights):
    $GANKIT_CACHE when set, else ~/.cache/gankit."""
    return Path(os.environ.get("GANKIT_CACHE") or Path.home() / ".cache" / "gankit")
