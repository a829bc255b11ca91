"""`gankit classify RUN IMAGES... [--out labels.csv]`: a semi-supervised run's D as a classifier."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..classify import classify, read_inputs, require_classifier
from ..errors import UserError
from ..io import atomic_write_bytes
from ..model import load
from .common import require_out_folder


def register(sub):
    p = sub.add_parser("classify", help="the class (and its probability) a semi-supervised run's D gives each image")
    p.add_argument("path", metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("images", nargs="+", metavar="IMAGES", help="image files, folders of images, or .npz files holding 'images'")
    p.add_argument("--out", help="write name,class,probability rows to this .csv instead of printing them")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    p.set_defaults(run=run)


def run(args) -> int:
    out = Path(args.out) if args.out else None
    if out is not None:
        if out.suffix != ".csv":
            raise UserError(f"--out '{out}': must end in .csv")
        require_out_folder(out)
    model = load(args.path, device=args.device)
    require_classifier(model, args.path)
    channels, resolution = model.sample_shape[0], model.sample_shape[1]
    inputs = read_inputs(args.images, resolution, channels)
    classes, probs = classify(model, inputs.x)
    rows = [(name, int(k), f"{p:.4f}") for name, k, p in zip(inputs.names, classes, probs)]
    if out is not None:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(("input", "class", "probability"))
        writer.writerows(rows)
        try:
            atomic_write_bytes(out, text.getvalue().encode())
        except OSError as exc:
            raise UserError(f"--out '{out}': cannot write ({exc.strerror})") from None
        print(f"wrote {len(rows)} classes to {out}")
    else:
        print("class  probability  input")
        for name, k, p in rows:
            print(f"{k:5d}  {p:>11}  {name}")
    if inputs.labels is not None:  # every input came with its label: say how many D got wrong
        wrong = int((classes != inputs.labels).sum())
        print(f"error: {wrong} of {len(classes)} ({100 * wrong / len(classes):.2f}%) against the labels in the inputs")
    return 0
