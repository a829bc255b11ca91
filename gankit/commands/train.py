from __future__ import annotations

import os

from ..configure import load_config
from ..data import data_channels
from ..errors import UserError
from ..train import distributed
from ..train.loop import resume, train


def register(sub):
    p = sub.add_parser("train", help="train a preset or a YAML config; writes a run directory",
                       epilog="The run directory gets report.html (refreshed at each sample step). TensorBoard "
                              "logs are written only when the optional tensorboard package is installed.")
    p.add_argument("target", nargs="?", help="preset name or YAML file (omit with --resume)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="override config fields, e.g. optim.lr_d=1e-4")
    p.add_argument("--data", help="a bundled set's name, or a folder / .npz / IDX file / CIFAR batches; its channels "
                                  "are trained unless data.channels is set (a folder is prepared into the cache on first use)")
    p.add_argument("--out", help="run directory (default: runs/NAME-TIMESTAMP)")
    p.add_argument("--steps", type=int, help="generator steps (overrides train.steps)")
    p.add_argument("--minutes", type=float, help="wall-clock budget (overrides train.minutes)")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def _flag_overrides(args) -> list[str]:
    pairs = [("data.source", args.data), ("train.steps", args.steps), ("train.minutes", args.minutes),
             ("train.seed", args.seed), ("train.device", args.device)]
    out = [f"{key}={value}" for key, value in pairs if value is not None]
    if args.minutes is not None and args.steps is None:
        out.append("train.steps=0")  # --minutes alone: the clock is the budget
    return out


def run(args) -> int:
    try:
        result = _train_or_resume(args)
        run_dir, step = result.dir, result.step
        next_use = _next_use(result.recipe, run_dir)
        del result  # it holds the DDP-wrapped nets, and they the process group: let them go first
    finally:
        distributed.cleanup()  # under torchrun every rank leaves the process group, error or not
    if os.environ.get("RANK", "0") != "0":  # torchrun: rank 0 reports
        return 0
    grids = sorted((run_dir / "samples").glob("*.png"))
    print(f"trained {step} steps; run directory: {run_dir}")
    if grids:
        print(f"latest sample grid: {grids[-1]}")
    print(next_use)
    return 0


def _next_use(recipe, run_dir) -> str:
    """The command that uses what was trained: a translator translates and an upscaler upscales;
    they draw nothing from noise."""
    if getattr(recipe, "directions", ()):
        return f"translate images: gankit translate {run_dir} INPUT... --out OUT"
    if not getattr(recipe, "draws_from_noise", True):
        return f"upscale an image: gankit upscale {run_dir} IN.png OUT.png"
    return f"sample more: gankit sample {run_dir} -n 64 --out samples.png"


def _train_or_resume(args):
    progress = False if args.quiet else None
    if args.resume:
        if args.target:
            raise UserError("--resume takes a run directory; do not also give a preset or config")
        return resume(args.resume, progress=progress, steps=args.steps, minutes=args.minutes)
    if not args.target:
        raise UserError("train needs a preset name or a YAML config (see 'gankit presets')")
    if args.data is not None and "=" in args.data:
        raise UserError(f"--data '{args.data}' looks like an override; put KEY=VALUE after the preset")
    cfg = load_config(args.target, args.overrides + _flag_overrides(args))
    if args.data is not None and not any(o.startswith("data.channels=") for o in args.overrides):
        cfg.data.channels = data_channels(cfg.data)  # colour stays colour unless data.channels is set
    return train(cfg, args.out, progress=progress)
