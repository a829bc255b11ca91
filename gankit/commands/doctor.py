"""`gankit doctor RUN [--json FILE]`: names what goes wrong in a run and what to change."""

from __future__ import annotations

import json
from pathlib import Path

from ..doctor import DIVERSITY_SAMPLES, diagnose_run, format_diagnosis, require_run
from ..errors import UserError
from ..io import atomic_write_bytes
from .common import require_out_folder


def register(sub):
    p = sub.add_parser("doctor", help="name what goes wrong in a run (overfitting D, collapse, divergence, ...) and what to change",
                       description="Reads RUN/metrics.jsonl and samples a fixed latent batch at every checkpoint, then prints "
                                   "each problem found (from which step, the numbers, the config overrides to try), or "
                                   "what was checked. How each condition is judged: docs/doctor.md.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--json", metavar="FILE", help="also write the diagnosis to this JSON file")
    p.add_argument("--samples", type=int, default=DIVERSITY_SAMPLES,
                   help=f"latents in the fixed batch whose diversity is measured at each checkpoint (default {DIVERSITY_SAMPLES})")
    p.set_defaults(run=run)


def run(args) -> int:
    if args.samples < 2:
        raise UserError(f"--samples must be at least 2, got {args.samples}")
    run_dir = Path(args.run_dir)
    require_run(run_dir)
    if args.json:
        require_out_folder(Path(args.json), "--json")
    diagnosis = diagnose_run(run_dir, args.samples)
    print(format_diagnosis(diagnosis))
    if args.json:
        atomic_write_bytes(Path(args.json), (json.dumps(diagnosis.to_dict(), indent=2) + "\n").encode())
        print(f"wrote {args.json}")
    return 0
