from __future__ import annotations

from pathlib import Path

from ..configure import load_config, unread_keys
from ..errors import UserError
from ..report.html import write_report
from ..report.toyfig import save_toy_figures


def register(sub):
    p = sub.add_parser("report", help="rebuild RUN_DIR/report.html (and the toy figures of gauss1d/ring/grid runs)",
                       description="Rebuild the self-contained report.html of a run from its files. "
                                   "TensorBoard logs are written during training only when the optional "
                                   "'tensorboard' package is installed (pip install 'gankit[tb]').")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(run=run)


def run(args) -> int:
    run_dir = Path(args.run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise UserError(f"'{run_dir}' is not a run directory (no config.yaml)")
    cfg = load_config(str(run_dir / "config.yaml"))
    for path in save_toy_figures(run_dir, cfg.data.source):
        print(f"wrote {path}")
    print(f"wrote {write_report(run_dir, unread_keys(cfg))}")
    return 0
