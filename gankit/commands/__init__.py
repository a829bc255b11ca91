"""CLI sub-commands, one small module each: `register(subparsers)` adds it, `run(args)` executes it."""

from . import (bench, classify, data, doctor, eval, export, interpolate, mix, prepare, presets, project, reconstruct,
               report, sample, score, serve, train, translate, upscale)

COMMANDS = [presets, train, sample, eval, bench, report, interpolate, upscale, reconstruct, score, translate, export,
            mix, project, classify, serve, doctor, prepare, data]
