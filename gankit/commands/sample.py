from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..io import atomic_write_bytes
from ..model import load
from ..report.grid import image_grid, save_points_plot
from .common import require_out_folder


def register(sub):
    p = sub.add_parser("sample", help="draw samples from a trained run: a .png grid or a .npz of arrays")
    p.add_argument("path", metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", type=int, help="class to draw (conditional models)")
    p.add_argument("--text", help='caption to draw images for (text-to-image models), e.g. "a thick seven leaning right"')
    p.add_argument("--out", default="samples.png", help="FILE.png (grid) or FILE.npz (arrays)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    p.set_defaults(run=run)


def write_samples(arrays: dict[str, np.ndarray], out: Path) -> None:
    """Atomically write arrays as .npz, or images as a .png grid."""

    buf = io.BytesIO()
    if out.suffix == ".npz":
        np.savez(buf, **arrays)
    elif "images" in arrays:
        image_grid(arrays["images"]).save(buf, format="PNG")
    else:
        tmp = out.with_name(f".{out.name}.tmp.png")
        save_points_plot(arrays["points"], tmp)
        tmp.replace(out)
        return
    atomic_write_bytes(out, buf.getvalue())


def run(args) -> int:
    out = Path(args.out)
    if out.suffix not in (".png", ".npz"):
        raise UserError(f"--out '{out}': must end in .png (a grid) or .npz (arrays)")
    if args.n < 1:
        raise UserError(f"-n must be at least 1, got {args.n}")
    require_out_folder(out)
    model = load(args.path, device=args.device)
    arrays = model.sample(args.n, seed=args.seed, label=args.label, text=args.text)
    try:
        write_samples(arrays, out)
    except OSError as exc:
        raise UserError(f"--out '{out}': cannot write ({exc.strerror})") from None
    print(f"wrote {args.n} samples to {out}")
    return 0
