"""`gankit bench MODE`: benchmarks that print tables. Each mode lives in gankit/bench/<mode>.py with
`register(parser)` and `run(args)`; add a mode by adding it to MODES."""

from __future__ import annotations

from ..bench import modes, speed

MODES = {
    "modes": (modes, "mode collapse on ring, grid and stacked MNIST (PacGAN protocol)"),
    "speed": (speed, "gankit's loop against a plain PyTorch loop on the same nets: images/s, GFLOP, %% of peak"),
}


def register(sub):
    p = sub.add_parser("bench", help="benchmarks that print tables of figures")
    which = p.add_subparsers(dest="bench_mode", required=True, metavar="MODE")
    for name, (module, help_text) in MODES.items():
        mp = which.add_parser(name, help=help_text)
        module.register(mp)
        mp.set_defaults(run=module.run)
