"""CLI sub-commands, one small module each: `register(subparsers)` adds it, `run(args)` executes it."""

from . import (bench, doctor, eval, export, interpolate, presets, reconstruct, report, sample, score, serve, train,
               translate, upscale)

COMMANDS = [presets, train, sample, eval, bench, report, interpolate, upscale, reconstruct, score, translate, export,
            serve, doctor]
