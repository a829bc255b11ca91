from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ..io import atomic_write_bytes
from ..model import load
from ..report.grid import image_grid, to_uint8
from ..styles import project
from .interpolate import encode_input


def register(sub):
    p = sub.add_parser("project", help="StyleGAN2: find the w whose image reproduces a target image",
                       description="Optimises w (and with --noise the noise maps) so that the run's generator "
                                   "reproduces IMAGE, converted to the run's size and channels as training data are. "
                                   "Writes DIR/projected_w.npz (w, and with --noise the noise maps), DIR/proj.png "
                                   "(target | result) and DIR/proj.gif (the optimisation). 'gankit sample RUN --w "
                                   "DIR/projected_w.npz' draws the result again, with the stored noise maps if any.")
    p.add_argument("path", metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--steps", type=int, default=300, help="optimisation steps (default 300)")
    p.add_argument("--features", default="d", help="feature loss: d (the run's D, default), none, or a torch.export FILE.pt2")
    p.add_argument("--noise", action="store_true", help="optimise the noise maps too")
    p.add_argument("--w-plus", action="store_true", help="one w per synthesis layer (W+, Image2StyleGAN): closer "
                                                          "to the target, but a w the mapping network may never draw")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    p.set_defaults(run=run)


def run(args) -> int:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out '{out}': exists and is not a folder")
    if not out.parent.exists():
        raise UserError(f"--out '{out}': folder '{out.parent}' does not exist")
    if args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}")
    model = load(args.path, device=args.device)
    model.require_styles("gankit project")
    target = encode_input(args.image, model)
    result = project(model, target, steps=args.steps, features=args.features, noise=args.noise, seed=args.seed,
                     w_plus=args.w_plus)
    out.mkdir(exist_ok=True)
    buf = io.BytesIO()
    arrays = {"w": result.w.numpy().astype(np.float32)}
    if args.noise:
        arrays.update({f"noise.{k}": v.numpy() for k, v in result.noise.items()})
    np.savez(buf, **arrays)
    atomic_write_bytes(out / "projected_w.npz", buf.getvalue())
    buf = io.BytesIO()
    image_grid(to_uint8(torch.cat([target.cpu(), result.result])), columns=2).save(buf, format="PNG")
    atomic_write_bytes(out / "proj.png", buf.getvalue())
    frames = [image_grid(to_uint8(torch.stack([target[0].cpu(), f])), columns=2) for f in result.frames]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    atomic_write_bytes(out / "proj.gif", buf.getvalue())
    print(f"projected {args.image} in {args.steps} steps: PSNR {result.psnr:.2f} dB; wrote {out}/projected_w.npz, proj.png, proj.gif")
    return 0
