"""`gankit project` on real digits the generator never saw: does the projection keep the digit?

    python benchmarks/stylegan2_projection.py --write-data DIR     # DIR/mnist_train.npz: the 4,000 training digits
    gankit train stylegan2-mnist --data DIR/mnist_train.npz --out RUN ...
    python benchmarks/stylegan2_projection.py RUN [--n 100] [--steps 300] [--w-plus] [--noise] [--grid proj.png]

The split is gankit.metrics.domain's (4,000 training digits, 1,000 held out, fixed seed). The first
--n held-out digits are projected into the run's W, or W+ (all at once, each its own latent, as
`gankit project` optimises one: pixels + D's features), with --noise one at a time with the noise
maps optimised too. An independent judge (scikit-learn MLP on raw
28x28 pixels, fitted on the 4,000 training digits, never on generated images) reads each projection;
printed: the share it reads as the target's true class, the same share for the targets themselves
(the judge's ceiling), and the mean PSNR. --grid writes targets (odd rows) over projections.
"""

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.neural_network import MLPClassifier

import gankit
from gankit.metrics.domain import mnist_split
from gankit.report.grid import image_grid, to_uint8
from gankit.styles import project


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", nargs="?")
    ap.add_argument("--write-data", metavar="DIR")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--grid")
    ap.add_argument("--w-plus", action="store_true", help="project into W+ (one w per layer)")
    ap.add_argument("--noise", action="store_true", help="optimise the noise maps too (the maps are shared by a "
                                                         "call's targets, so each digit is projected by itself)")
    args = ap.parse_args()
    x_tr, y_tr, x_ho, y_ho = mnist_split()
    if args.write_data:
        out = Path(args.write_data)
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / "mnist_train.npz", images=to_uint8(x_tr), labels=y_tr.numpy())
        print(f"wrote {out / 'mnist_train.npz'} ({len(x_tr)} digits)")
        return 0
    judge = MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3, max_iter=200, random_state=0)
    judge.fit(x_tr.reshape(len(x_tr), -1).numpy(), y_tr.numpy())
    model = gankit.load(args.run)
    c, h, w = model.sample_shape
    targets = F.interpolate(x_ho[:args.n], size=(h, w), mode="bilinear", antialias=True, align_corners=False) \
        if h != 28 else x_ho[:args.n]
    if args.noise:  # one call per digit, as `gankit project --noise` would be run
        parts = [project(model, t[None], steps=args.steps, features="d", w_plus=args.w_plus, noise=True) for t in targets]
        results, psnr = torch.cat([r.result for r in parts]), sum(r.psnr for r in parts) / len(parts)
    else:
        result = project(model, targets, steps=args.steps, features="d", w_plus=args.w_plus)
        results, psnr = result.result, result.psnr
    back = F.interpolate(results.clamp(-1, 1), size=(28, 28), mode="bilinear", antialias=True, align_corners=False)
    truth = y_ho[:args.n].numpy()
    same = (judge.predict(back.reshape(args.n, -1).numpy()) == truth).mean()
    ceiling = (judge.predict(x_ho[:args.n].reshape(args.n, -1).numpy()) == truth).mean()
    space = ("W+" if args.w_plus else "W") + (" and noise maps" if args.noise else "")
    print(f"{args.n} held-out digits, {args.steps} steps, {space}: judge reads the projection as the true digit "
          f"{same:.1%} (the targets themselves: {ceiling:.1%}); mean PSNR {psnr:.2f} dB")
    if args.grid:
        rows = []
        for start in range(0, min(args.n, 40), 10):
            rows += [targets[start:start + 10], results[start:start + 10]]
        image_grid(to_uint8(torch.cat(rows)), columns=10).save(args.grid)
        print(f"wrote {args.grid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
