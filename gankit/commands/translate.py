"""`gankit translate RUN INPUT... --out OUT [--direction a2b|b2a]`: pix2pix and CycleGAN models on
images, folders of images and .npz files of any size; the outputs keep the inputs' names."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..model import load
from ..translate import check_translator, translate_paths


def register(sub):
    p = sub.add_parser("translate", help="translate images with a pix2pix or CycleGAN run (any size; tiled when large)")
    p.add_argument("path", metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or .npz files ('images' array)")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder: each input's translation under its own name")
    p.add_argument("--direction", choices=["a2b", "b2a"], default="a2b",
                   help="a2b (default) or b2a; pix2pix models translate a2b only")
    p.add_argument("--tile", type=int, default=512, help="tile size in pixels (default 512; CycleGAN's instance norm sees one tile at a time)")
    p.add_argument("--overlap", type=int, default=32, help="context kept around each tile, pixels (default 32)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args) -> int:
    if args.tile < 8 or args.overlap < 0:
        raise UserError(f"--tile must be at least 8 and --overlap not negative (got {args.tile}, {args.overlap})")
    model = load(args.path, device=args.device)
    check_translator(model, args.direction, args.path)
    written = translate_paths(model, [Path(p) for p in args.inputs], Path(args.out), args.direction, args.tile,
                              args.overlap, progress=False if args.quiet else None)
    print(f"translated {len(written)} file{'s' if len(written) != 1 else ''} ({args.direction}) into {args.out}")
    return 0
