"""CLI sub-commands, one small module each: `register(subparsers)` adds it, `run(args)` executes it."""

from . import interpolate, presets, report, sample, train

COMMANDS = [presets, train, sample, report, interpolate]
