"""CLI sub-commands, one small module each: `register(subparsers)` adds it, `run(args)` executes it."""

from . import bench, eval, presets, sample, train

COMMANDS = [presets, train, sample, eval, bench]
