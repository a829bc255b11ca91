"""Benchmarks behind `gankit bench MODE`: each mode is a module with `register(parser)` and `run(args)`."""
