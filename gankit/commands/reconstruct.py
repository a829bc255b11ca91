"""`gankit reconstruct RUN IN --out OUT`: encode and decode real images with a trained VAE-GAN.

IN is an image file (OUT is then an image file) or an .npz with `images` uint8 (N, H, W, C) (OUT is
then an .npz in the same format and order, labels carried over). Images are brought to the run's
resolution and channels first, as training data were.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..data.files import IMAGE_SUFFIXES, read_image, read_npz
from ..data.transform import array_to_tensor
from ..errors import UserError
from ..io import atomic_write_bytes
from ..model import load
from ..report.grid import to_uint8
from .common import require_out_folder


def register(sub):
    p = sub.add_parser("reconstruct", help="encode and decode images with a trained VAE-GAN (image file or .npz)")
    p.add_argument("path", metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("input", metavar="IN", help="an image file or an .npz holding 'images'")
    p.add_argument("--out", required=True, help="the same kind as IN: an image file, or an .npz")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    p.set_defaults(run=run)


def run(args) -> int:
    from PIL import Image

    src, out = Path(args.input), Path(args.out)
    if not src.is_file():
        raise UserError(f"input '{src}' does not exist")
    is_npz = src.suffix == ".npz"
    if not is_npz and src.suffix.lower() not in IMAGE_SUFFIXES:
        raise UserError(f"input '{src}': expected an image file or an .npz")
    if is_npz != (out.suffix == ".npz") or (not is_npz and out.suffix.lower() not in IMAGE_SUFFIXES):
        raise UserError(f"--out '{out}': must be the same kind as the input '{src}' ({'.npz' if is_npz else 'an image file'})")
    require_out_folder(out)
    model = load(args.path, device=args.device)
    channels, resolution = model.sample_shape[0], model.sample_shape[1]
    labels = None
    if is_npz:
        images, labels, _ = read_npz(src)
    else:
        images = read_image(src, resolution, channels)[None]
    x = array_to_tensor(images, str(src), resolution, channels)
    recon = to_uint8(model.reconstruct(x))
    buf = io.BytesIO()
    if is_npz:
        arrays = {"images": recon}
        if labels is not None:
            arrays["labels"] = labels
        np.savez(buf, **arrays)
    else:
        fmt = Image.registered_extensions()[out.suffix.lower()]
        Image.fromarray(recon[0, :, :, 0] if channels == 1 else recon[0]).save(buf, format=fmt)
    atomic_write_bytes(out, buf.getvalue())
    print(f"reconstructed {len(recon)} image(s): {out}")
    return 0
