"""CLI sub-commands, one small module each: `register(subparsers)` adds it, `run(args)` executes it."""

from . import bench, eval, export, interpolate, mix, presets, project, reconstruct, report, sample, score, train, upscale

COMMANDS = [presets, train, sample, eval, bench, report, interpolate, upscale, reconstruct, score, export, mix, project]
