"""`gankit export RUN --format onnx|pt2 --out FILE`: the generator for use outside gankit."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..export import FORMATS, check_format, description_path, export
from ..model import load
from .common import require_out_folder


def register(sub):
    p = sub.add_parser("export", help="the generator as ONNX or a torch.export program, with a JSON of its inputs and outputs")
    p.add_argument("path", metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--out", required=True, help="FILE.onnx or FILE.pt2; FILE.onnx.json (FILE.pt2.json) is written beside it")
    p.set_defaults(run=run)


def run(args) -> int:
    out = Path(args.out)
    suffix = "." + args.format
    if out.suffix != suffix:
        raise UserError(f"--out '{out}': a {args.format} file must end in {suffix}")
    require_out_folder(out)
    check_format(args.format)
    model = load(args.path)
    info = export(model, args.format, out, run=str(args.path))
    shapes = ", ".join(f"{i['name']} {i['shape']}" for i in info["inputs"])
    print(f"wrote {out} ({shapes} -> {info['outputs'][0]['name']} {info['outputs'][0]['shape']}) and {description_path(out)}")
    return 0
