"""`gankit upscale RUN IN.png OUT.png`: super-resolve an image of any size with a trained SRGAN."""

from __future__ import annotations

import io
from pathlib import Path

from ..errors import UserError
from ..io import atomic_write_bytes
from ..model import load
from ..sr import read_rgb_or_gray, upscale_image
from .common import require_out_folder


def register(sub):
    p = sub.add_parser("upscale", help="upscale an image with a trained SRGAN run (any size; tiled when large)")
    p.add_argument("path", metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("input", metavar="IN", help="image file (PNG, JPEG, ...)")
    p.add_argument("output", metavar="OUT", help="output image file (.png recommended)")
    p.add_argument("--tile", type=int, default=128, help="tile size in input pixels (default 128)")
    p.add_argument("--overlap", type=int, help="context kept around each tile, input pixels (default: the network's receptive radius, so tiles are seamless)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    p.set_defaults(run=run)


def run(args) -> int:
    from PIL import Image

    src, out = Path(args.input), Path(args.output)
    if not src.is_file():
        raise UserError(f"input image '{src}' does not exist")
    if args.tile < 8 or (args.overlap is not None and args.overlap < 0):
        raise UserError(f"--tile must be at least 8 and --overlap not negative (got {args.tile}, {args.overlap})")
    fmt = Image.registered_extensions().get(out.suffix.lower())
    if fmt is None:
        raise UserError(f"output '{out}': unknown image type '{out.suffix}' (use .png)")
    require_out_folder(out, "output")
    model = load(args.path, device=args.device)
    if not hasattr(model.recipe, "upscale"):
        raise UserError(f"'{args.path}' is a '{model.config.recipe}' run, not an SRGAN: it cannot upscale")
    image = read_rgb_or_gray(src)
    sr = upscale_image(model, image, args.tile, args.overlap)
    buf = io.BytesIO()
    Image.fromarray(sr[:, :, 0] if sr.shape[2] == 1 else sr).save(buf, format=fmt)
    atomic_write_bytes(out, buf.getvalue())
    print(f"upscaled {image.shape[1]}x{image.shape[0]} -> {sr.shape[1]}x{sr.shape[0]} (x{model.recipe.scale}): {out}")
    return 0
