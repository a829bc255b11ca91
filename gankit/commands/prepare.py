"""`gankit prepare PATH`: decode a folder of images once into gankit's cache (what `--data` does on first use)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..data.files import list_images
from ..data.prepare import folder_bytes, folder_channels, folder_resolution, prepare_folder
from ..errors import UserError


def register(sub):
    p = sub.add_parser("prepare", help="decode a folder of images once into gankit's cache (uint8, memory-mapped)",
                       epilog="The cache is $GANKIT_DATA_CACHE, else $GANKIT_CACHE/datasets, else ~/.cache/gankit/datasets. A run with "
                              "--data FOLDER at the same resolution, channels, crop and skip_bad reuses it while no "
                              "file is changed, added or removed.")
    p.add_argument("path", help="a folder of image files (sub-folders are classes)")
    p.add_argument("--resolution", type=int, help="side of the square images (default: the images' own)")
    p.add_argument("--channels", type=int, choices=[1, 3], help="1 = grey, 3 = RGB (default: RGB when the images are in colour)")
    p.add_argument("--crop", choices=["stretch", "center", "pad"], default="stretch", help="non-square images (as data.crop)")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable files (counted, listed in the manifest) instead of stopping")
    p.add_argument("--workers", type=int, help="decoding processes (default: one per CPU core)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args) -> int:
    root = Path(args.path).expanduser()
    if not root.is_dir():
        raise UserError(f"prepare '{root}': not a folder (npz, IDX and CIFAR files are arrays already: --data reads them directly)")
    if args.resolution is not None and args.resolution < 1:
        raise UserError(f"--resolution {args.resolution}: must be positive")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers {args.workers}: must be positive")
    paths = list_images(root)
    resolution = args.resolution or folder_resolution(paths, args.crop)
    channels = args.channels or folder_channels(paths)
    t0 = time.monotonic()
    prepared = prepare_folder(root, resolution, channels, args.crop, args.skip_bad,
                              progress=not args.quiet and sys.stderr.isatty(), workers=args.workers)
    seconds = time.monotonic() - t0
    m = prepared.manifest
    colour = "RGB" if channels == 3 else "grey"
    what = f"{m['count']:,} images at {resolution}x{resolution} {colour}"
    if prepared.reused:
        print(f"up to date: {what} in {prepared.place} (checked in {seconds:.1f} s)")
    else:
        print(f"prepared {what} in {seconds:.1f} s ({m['files'] / max(seconds, 1e-9):,.0f} files/s) into "
              f"{prepared.place} ({folder_bytes(prepared.place) / 1e6:,.1f} MB)")
    if m["skipped"]:
        print(f"skipped {len(m['skipped'])} unreadable file{'s' if len(m['skipped']) > 1 else ''}: "
              + ", ".join(s["file"] for s in m["skipped"][:5]) + (" ..." if len(m["skipped"]) > 5 else ""))
    print(f"train on it: gankit train PRESET --data {root} data.resolution={resolution} data.channels={channels}"
          + (f" data.crop={args.crop}" if args.crop != "stretch" else "") + (" data.skip_bad=true" if args.skip_bad else ""))
    return 0
