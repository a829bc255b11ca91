"""CLI sub-commands, one small module each: `register(subparsers)` adds it, `run(args)` executes it."""

from . import presets, reconstruct, sample, score, train, upscale

COMMANDS = [presets, train, sample, upscale, reconstruct, score]
