"""`gankit upscale RUN IN.png OUT.png`: super-resolve an image of any size with a trained SRGAN."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ..io import atomic_write_bytes
from ..model import load
from ..sr import upscale_tiled
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


def read_rgb_or_gray(path: Path) -> np.ndarray:
    """uint8 (H, W, 3) or (H, W, 1) at the file's own size; transparency composited onto black."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "P"):
                img = Image.alpha_composite(Image.new("RGBA", img.size, (0, 0, 0, 255)), img.convert("RGBA"))
            gray = img.mode in ("L", "I", "I;16", "F", "1", "LA")
            array = np.asarray(img.convert("L" if gray else "RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UserError(f"{path}: cannot read image ({exc})") from None
    return array[:, :, None] if array.ndim == 2 else array


def upscale_array(model, image: np.ndarray, tile: int = 128, overlap: int | None = None) -> np.ndarray:
    """uint8 (H, W, C) -> uint8 (sH, sW, C), C as given: a 3-channel net sees gray as RGB (and its
    output is brought back to gray); a 1-channel net upscales each colour channel on its own."""

    recipe = model.recipe
    overlap = recipe.G.context if overlap is None else overlap
    net_channels = model.sample_shape[0]
    x = torch.tensor(image).permute(2, 0, 1).float().div(127.5).sub(1)[None].to(model.device)
    if net_channels == 3 and x.shape[1] == 1:
        inputs = [x.expand(-1, 3, -1, -1)]
    elif net_channels == 1 and x.shape[1] == 3:
        inputs = [x[:, i : i + 1] for i in range(3)]
    else:
        inputs = [x]
    outs = [upscale_tiled(recipe.upscale, t, recipe.scale, tile, overlap) for t in inputs]
    y = torch.cat(outs, 1)
    if net_channels == 3 and image.shape[2] == 1:
        y = y.mean(1, keepdim=True)
    return ((y[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


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
    sr = upscale_array(model, image, args.tile, args.overlap)
    buf = io.BytesIO()
    Image.fromarray(sr[:, :, 0] if sr.shape[2] == 1 else sr).save(buf, format=fmt)
    atomic_write_bytes(out, buf.getvalue())
    print(f"upscaled {image.shape[1]}x{image.shape[0]} -> {sr.shape[1]}x{sr.shape[0]} (x{model.recipe.scale}): {out}")
    return 0
