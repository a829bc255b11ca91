"""CLI sub-commands, one small module each: `register(subparsers)` adds it, `run(args)` executes it."""

from . import bench, data, eval, export, interpolate, prepare, presets, reconstruct, report, sample, score, train, upscale

COMMANDS = [presets, train, sample, eval, bench, report, interpolate, upscale, reconstruct, score, export, prepare, data]
