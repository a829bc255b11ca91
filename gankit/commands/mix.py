from __future__ import annotations

import io
from pathlib import Path

from ..errors import UserError
from ..io import atomic_write_bytes
from ..model import load
from ..report.grid import image_grid, to_uint8
from ..styles import STYLE_GROUPS, mixing_grid
from .common import require_out_folder


def seed_list(text: str, flag: str) -> list[int]:
    """'1,2,3' or '1-4' -> seeds."""
    seeds = []
    try:
        for part in text.split(","):
            if "-" in part.strip()[1:]:
                lo, hi = part.rsplit("-", 1)
                seeds += list(range(int(lo), int(hi) + 1))
            elif part.strip():
                seeds.append(int(part))
    except ValueError:
        raise UserError(f"{flag} '{text}': give seeds as 1,2,3 or 1-4") from None
    if not seeds:
        raise UserError(f"{flag} '{text}': no seeds")
    return seeds


def register(sub):
    p = sub.add_parser("mix", help="StyleGAN2 style-mixing grid: rows of seeds take coarse/middle/fine styles from columns",
                       description="The first row shows the column seeds' images; below it, for each style group, "
                                   "each row seed's image and then that image with the group's layers of w taken "
                                   "from each column seed (coarse: the first third of the layers, middle, fine).")
    p.add_argument("path", metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("--out", required=True, help="FILE.png")
    p.add_argument("--rows", default="0-2", help="row seeds, e.g. 0,1,2 or 0-2 (default 0-2)")
    p.add_argument("--cols", default="10-14", help="column seeds (default 10-14)")
    p.add_argument("--styles", default=",".join(STYLE_GROUPS), help="groups taken from the columns (default coarse,middle,fine)")
    p.add_argument("--truncation", type=float, default=1.0, help="psi in (0, 2]: w pulled towards w_avg (default 1: none)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    p.set_defaults(run=run)


def run(args) -> int:
    out = Path(args.out)
    if out.suffix != ".png":
        raise UserError(f"--out '{out}': must end in .png")
    require_out_folder(out)
    rows, cols = seed_list(args.rows, "--rows"), seed_list(args.cols, "--cols")
    groups = tuple(g.strip() for g in args.styles.split(",") if g.strip())
    bad = [g for g in groups if g not in STYLE_GROUPS]
    if bad or not groups:
        raise UserError(f"--styles '{args.styles}': choose from {', '.join(STYLE_GROUPS)}")
    model = load(args.path, device=args.device)
    model.require_styles("gankit mix")
    model.check_truncation(args.truncation)
    images = mixing_grid(model, rows, cols, groups, args.truncation)
    buf = io.BytesIO()
    image_grid(to_uint8(images), columns=len(cols) + 1).save(buf, format="PNG")
    try:
        atomic_write_bytes(out, buf.getvalue())
    except OSError as exc:
        raise UserError(f"--out '{out}': cannot write ({exc.strerror})") from None
    print(f"wrote {out} ({len(groups) * len(rows) + 1} x {len(cols) + 1}: {', '.join(groups)} styles from the columns)")
    return 0
