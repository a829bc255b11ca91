"""CLI sub-commands, one small module each: `register(subparsers)` adds it, `run(args)` executes it."""

from . import presets, sample, train

COMMANDS = [presets, train, sample]
