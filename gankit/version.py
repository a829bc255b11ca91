"""gankit's version, shown by `gankit --version` (pyproject.toml's `version` must match)."""

__version__ = "0.1.0"
