"""CLI sub-commands, one small module each: `register(subparsers)` adds it, `run(args)` executes it."""

from . import bench, eval, export, interpolate, presets, reconstruct, report, sample, score, train, translate, upscale

COMMANDS = [presets, train, sample, eval, bench, report, interpolate, upscale, reconstruct, score, export, translate]
