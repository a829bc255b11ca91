from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..data.files import read_image
from ..data.transform import array_to_tensor
from ..errors import UserError
from ..io import atomic_write_bytes
from ..model import check_truncation_range, load
from ..report.grid import image_grid
from ..report.latent import encoded_interpolation, interpolation_grid
from .common import require_out_folder


def register(sub):
    p = sub.add_parser("interpolate", help="latent-space pictures: spherical interpolation, class grids, image-to-image",
                       description="Without images: rows of spherical interpolations between random latents "
                                   "(conditional models: one row per class, one column per latent). With two "
                                   "images A B: encode both with the model's encoder and interpolate between the codes. "
                                   "With --text A --text B (text-to-image models): rows of images whose caption "
                                   "embedding goes from A's to B's, one latent per row.")
    p.add_argument("path", metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("images", nargs="*", metavar="IMAGE", help="two image files A B (models with an encoder)")
    p.add_argument("--text", action="append", metavar="CAPTION", help="give twice: the two captions to interpolate between")
    p.add_argument("--out", required=True, help="FILE.png (a grid) or FILE.gif (one frame per step)")
    p.add_argument("--steps", type=int, default=8, help="points along each path (default 8)")
    p.add_argument("--rows", type=int, default=6, help="interpolation paths for unconditional models (default 6)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--truncation", type=float, default=1.0, help="StyleGAN2: psi in (0, 2], w pulled towards w_avg (default 1: none)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    p.set_defaults(run=run)


def encode_input(path: str, model):
    """An image file -> (1, C, H, W) in [-1, 1] at the model's resolution and channels."""

    if not Path(path).is_file():
        raise UserError(f"image '{path}' does not exist")
    c, h, w = model.sample_shape
    return array_to_tensor(read_image(Path(path), h, c)[None], path, h, c)


def write_frames(grid: np.ndarray, out: Path) -> None:
    """grid uint8 (R, K, H, W, C): .png tiles R rows of K; .gif shows column k (all rows) in frame k."""

    rows, steps = grid.shape[:2]
    buf = io.BytesIO()
    if out.suffix == ".png":
        image_grid(grid.reshape(rows * steps, *grid.shape[2:]), columns=steps).save(buf, format="PNG")
    else:
        frames = [image_grid(grid[:, k], columns=int(np.ceil(np.sqrt(rows)))).convert("L" if grid.shape[-1] == 1 else "RGB")
                  for k in range(steps)]
        frames = frames + frames[-2:0:-1]  # there and back, so the loop has no jump
        frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=150, loop=0)
    atomic_write_bytes(out, buf.getvalue())


def run(args) -> int:
    out = Path(args.out)
    if out.suffix not in (".png", ".gif"):
        raise UserError(f"--out '{out}': must end in .png or .gif")
    require_out_folder(out)
    if args.steps < 2:
        raise UserError(f"--steps must be at least 2, got {args.steps}")
    if args.rows < 1:
        raise UserError(f"--rows must be at least 1, got {args.rows}")
    if len(args.images) not in (0, 2):
        raise UserError(f"give two images A B to interpolate between, got {len(args.images)}")
    if args.text is not None and (len(args.text) != 2 or args.images):
        raise UserError(f"give --text twice (captions A and B) and no images, got {len(args.text)} --text and {len(args.images)} images")
    check_truncation_range(args.truncation)
    model = load(args.path, device=args.device)
    model.check_truncation(args.truncation)
    if not model.is_images:
        raise UserError(f"'{args.path}' is a model of points, not images: see toy.gif in its run directory instead")
    if args.text is None and model.is_text:
        raise UserError(f"'{args.path}' draws images for captions: give two, --text A --text B")
    if args.text is not None:
        grid = model.text_interpolation(args.text[0], args.text[1], args.steps, args.rows, args.seed)
    elif args.images:
        a, b = (encode_input(p, model) for p in args.images)
        grid = encoded_interpolation(model, a, b, args.steps)
    else:
        grid = interpolation_grid(model, args.rows, args.steps, args.seed, truncation=args.truncation)
    try:
        write_frames(grid, out)
    except OSError as exc:
        raise UserError(f"--out '{out}': cannot write ({exc.strerror})") from None
    print(f"wrote {out} ({grid.shape[0]} x {grid.shape[1]})")
    return 0
