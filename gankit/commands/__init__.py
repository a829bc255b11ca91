"""CLI sub-commands, one small module each: `register(subparsers)` adds it, `run(args)` executes it."""

from . import (bench, classify, doctor, eval, export, interpolate, mix, presets, project, reconstruct, report, sample, score,
               serve, train, translate, upscale)

COMMANDS = [presets, train, sample, eval, bench, report, interpolate, upscale, reconstruct, score, translate, export,
            mix, project, classify, serve, doctor]
