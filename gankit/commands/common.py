"""Checks every command that writes a file makes before doing any work."""

from pathlib import Path

from ..errors import UserError


def require_out_folder(out: Path, flag: str = "--out") -> None:
    if not out.parent.exists():
        raise UserError(f"{flag} '{out}': folder '{out.parent}' does not exist")
