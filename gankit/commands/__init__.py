"""CLI sub-commands, one small module each: `register(subparsers)` adds it, `run(args)` executes it."""

from . import eval, presets, sample, train

COMMANDS = [presets, train, sample, eval]
