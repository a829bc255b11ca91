from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ..io import atomic_write_bytes
from ..model import check_truncation_range, load
from ..report.grid import image_grid, save_points_plot, to_uint8
from .common import require_out_folder


def register(sub):
    p = sub.add_parser("sample", help="draw samples from a trained run: a .png grid or a .npz of arrays")
    p.add_argument("path", metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", type=int, help="class to draw (conditional models)")
    p.add_argument("--text", help='caption to draw images for (text-to-image models), e.g. "a thick seven leaning right"')
    p.add_argument("--truncation", type=float, default=1.0, help="StyleGAN2: psi in (0, 2], w pulled towards w_avg (default 1: none)")
    p.add_argument("--w", metavar="W.npz", help="StyleGAN2: draw the latents w stored in this .npz (its 'w' array, as "
                                                 "'gankit project' writes, with its noise maps when it stored them) instead of random ones")
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


def read_w(path: Path) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The 'w' array of an .npz (N, num_ws, w_dim) or (N, w_dim), and its 'noise.LAYER' maps (what
    `gankit project --noise` optimised; none otherwise); checked before the model loads."""
    if not path.is_file():
        raise UserError(f"--w '{path}' does not exist")
    try:
        with np.load(path, allow_pickle=False) as f:
            if "w" not in f:
                raise UserError(f"--w '{path}': no 'w' array in the npz (keys: {', '.join(f.files) or 'none'})")
            w = f["w"]
            noise = {key.removeprefix("noise."): f[key] for key in f.files if key.startswith("noise.")}
    except (OSError, ValueError) as exc:
        raise UserError(f"--w '{path}': not a readable .npz file ({exc})") from None
    if w.ndim not in (2, 3) or not np.issubdtype(w.dtype, np.floating) or not np.isfinite(w).all():
        raise UserError(f"--w '{path}': 'w' must be finite floats of shape (N, num_ws, w_dim) or (N, w_dim), "
                        f"got {w.dtype} {w.shape}")
    for name, value in noise.items():
        if not np.issubdtype(value.dtype, np.floating) or not np.isfinite(value).all():
            raise UserError(f"--w '{path}': noise map 'noise.{name}' must be finite floats, got {value.dtype}")
    return torch.from_numpy(w.astype(np.float32)), {k: torch.from_numpy(v.astype(np.float32)) for k, v in noise.items()}


def run(args) -> int:
    out = Path(args.out)
    if out.suffix not in (".png", ".npz"):
        raise UserError(f"--out '{out}': must end in .png (a grid) or .npz (arrays)")
    if args.n < 1:
        raise UserError(f"-n must be at least 1, got {args.n}")
    require_out_folder(out)
    check_truncation_range(args.truncation)
    ws, noise = read_w(Path(args.w)) if args.w else (None, {})
    model = load(args.path, device=args.device)
    if ws is not None:
        arrays = {"images": to_uint8(model.synthesize(ws, noise=noise))}
        args.n = len(ws)
    else:
        arrays = model.sample(args.n, seed=args.seed, label=args.label, text=args.text, truncation=args.truncation)
    try:
        write_samples(arrays, out)
    except OSError as exc:
        raise UserError(f"--out '{out}': cannot write ({exc.strerror})") from None
    print(f"wrote {args.n} samples to {out}")
    return 0
