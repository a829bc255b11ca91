from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from ..io import atomic_write_bytes
from ..metrics.evaluate import evaluate_model, evaluate_samples, read_npz
from ..model import load


def register(sub):
    p = sub.add_parser("eval", help="evaluate a run, a checkpoint or an .npz of samples: FD, KID, precision/recall, ...")
    p.add_argument("path", metavar="RUN_DIR_OR_CHECKPOINT_OR_NPZ")
    p.add_argument("--against", help="reference data: a bundled set's name or a path (default: the run's training data)")
    p.add_argument("--metrics", help="comma-separated metric names, e.g. fd,kid (default: every one that applies; all names in docs/evaluation.md)")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("-n", type=int, default=10_000, help="samples drawn from a model (default 10,000)")
    p.add_argument("--repeats", type=int, default=1, help="sample sets drawn from a model; reports mean and std")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--inception-weights", metavar="PATH", help="pt_inception-2015-12-05 weights: pytorch-fid's Inception features")
    p.add_argument("--extractor", metavar="FILE.pt", help="a TorchScript feature extractor of your own")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    p.set_defaults(run=run)


def format_results(res: dict) -> str:
    lines = [f"samples: {res.get('n_fake')}  reference: {res.get('n_real')} ({res.get('against')})  "
             f"features: {res.get('features')}  repeats: {res.get('repeats')}"]
    for key, value in res.items():
        if key in ("n_fake", "n_real", "against", "features", "repeats") or key.endswith("_std_repeats"):
            continue
        if isinstance(value, float):
            std = res.get(key + "_std_repeats")
            lines.append(f"  {key:24s} {value:.6g}" + (f" ± {std:.3g}" if std is not None else ""))
        else:
            lines.append(f"  {key:24s} {value}")
    return "\n".join(lines)


def run(args) -> int:
    if args.n < 2:
        raise UserError(f"-n must be at least 2, got {args.n}")
    if args.repeats < 1:
        raise UserError(f"--repeats must be at least 1, got {args.repeats}")
    path = Path(args.path)
    opts = dict(metrics=args.metrics, seed=args.seed, inception_weights=args.inception_weights, extractor=args.extractor)
    if path.suffix == ".npz":
        if not path.is_file():
            raise UserError(f"'{path}' does not exist")
        if not args.against:
            raise UserError(f"'{path}': give --against DATASET to compare samples from an .npz file with")
        fake, _ = read_npz(path)
        res = evaluate_samples(fake, args.against, **opts)
    else:
        res = evaluate_model(load(path, device=args.device), args.against, n=args.n, repeats=args.repeats, **opts)
    print(format_results(res))
    if args.json:
        atomic_write_bytes(Path(args.json), (json.dumps(res, indent=2) + "\n").encode())
        print(f"wrote {args.json}")
    return 0
