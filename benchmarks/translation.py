"""Image-to-image measurements for docs/translation.md.

pix2pix: each held-out photo (coffee, chelsea; never cut into training patches) is made into its
task's input exactly as the training pairs are (Canny edges or grey of the whole photo), translated
whole by `gankit.translate` (tiled, any size), and compared with the true photo: PSNR and SSIM (RGB,
uint8), Hasler-Suesstrunk colourfulness and gradient energy (sharpness), for the pix2pix run, the same
U-Net trained with L1 alone (translation.adv_weight=0), and the input itself. Writes
OUT/<task>_<photo>.png: input | L1 | pix2pix | true photo.

CycleGAN: a classifier is fitted on one domain only, on 80% of it (its accuracy on the other 20% is
its ceiling), then reads the other domain's digits translated into its
own: MNIST -> 8x8 style read by the 8x8-digits classifier with the MNIST labels, and back. Also the
untranslated digits (what translation adds), the mean cycle reconstruction error |F(G(a)) - a|
on [-1, 1] images, and the translations' sharpness (gradient energy) beside that of the real digits
of their domain, for each run given (e.g. one trained without its adversarial terms). Two kinds of
classifier, each row once per kind: an SVC (scikit-learn, RBF kernel) on the pixels, and a small CNN
(two 3x3 convolutions with max pooling, a hidden layer; Adam, 15 epochs, seed 0), which reads a digit
by its local strokes rather than by its distance to the training images' pixels. The translated
digits are the run's held-out ones (data.held_out of each domain, never trained on) when it kept
some, else those it trained on (a run without translation.semantic_weight never sees a label; one
with it has seen its training digits' labels, so only held-out digits measure it).
When B is the 8x8 digits, a last column reads MNIST drawn as an 8x8 digit (`as_8x8_digit`): the score
of a translation that changes the style and keeps every stroke.
Writes OUT/<label>_digits.png: rows of A, G(A), F(G(A)), then B, F(B), G(F(B)).

    python benchmarks/translation.py OUT --edges GAN_RUN L1_RUN --colorize GAN_RUN L1_RUN \
        --digits cyclegan=RUN no-adversarial=RUN
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from sklearn.svm import SVC

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.data.pairs import task_pair
from gankit.data.photos import HELD_OUT_PHOTOS, photo
from gankit.data.transform import fit_images
from gankit.model import load
from gankit.report.grid import image_grid, to_uint8
from gankit.sr import colourfulness, gradient_energy, psnr, ssim
from gankit.translate import translate_array, translate_tensor

TASKS = {"edges": "photo-edges", "colorize": "photo-gray"}


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def _row(name: str, out: np.ndarray, truth: np.ndarray) -> dict:
    out = _rgb(out)
    row = {"output": name, "colour": colourfulness(out), "sharp": gradient_energy(out)}
    if out is not truth:  # the true photo's own row gives the reference colour and sharpness
        row.update(psnr=psnr(out, truth), ssim=ssim(out, truth))
    return row


def pix2pix_table(task: str, gan_dir: str, l1_dir: str, out_dir: Path) -> list[dict]:
    gan, l1 = load(gan_dir), load(l1_dir)
    rows = []
    for name in HELD_OUT_PHOTOS:
        a, truth = task_pair(TASKS[task], photo(name))
        by_l1, by_gan = translate_array(l1, a), translate_array(gan, a)
        for label, image in (("input itself", a), ("U-Net, L1 only", by_l1), ("pix2pix (cGAN + 100 L1)", by_gan),
                             ("true photo", truth)):
            rows.append({"photo": name, **_row(label, image, truth)})
        strip = [np.pad(_rgb(x), ((0, 0), (0, 4), (0, 0)), constant_values=255) for x in (a, by_l1, by_gan, truth)]
        Image.fromarray(np.concatenate(strip, 1)).save(out_dir / f"{task}_{name}.png")
    return rows


def print_pix2pix(task: str, rows: list[dict]) -> None:
    print(f"\n{task}: held-out photos, whole, against the true photo (RGB uint8)")
    print("| photo | output | PSNR dB | SSIM | colourfulness | gradient energy |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        scores = f"{r['psnr']:.2f} | {r['ssim']:.4f}" if "psnr" in r else "- | -"
        print(f"| {r['photo']} | {r['output']} | {scores} | {r['colour']:.1f} | {r['sharp']:.1f} |")


def _domain(source: str, resolution: int) -> tuple[torch.Tensor, np.ndarray]:
    d = load_dataset(DataConfig(source=source, resolution=resolution, channels=1))
    return d.floats(), d.labels.numpy()


def _translated(data: DataConfig) -> tuple[tuple[torch.Tensor, np.ndarray], tuple[torch.Tensor, np.ndarray], str]:
    """The digits of each domain to translate, with their labels: the run's held-out pairs where it
    kept some, else each whole domain; and which of the two they are."""
    if data.held_out:
        held = load_dataset(data, held_out=True)
        x, y = held.floats(), held.labels.numpy()
        return (x[:, :1], y[:, 0]), (x[:, 1:], y[:, 1]), "held out"
    return _domain(data.source, data.resolution), _domain(data.source_b, data.resolution), "trained on"


def _split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    cut = int(0.8 * n)
    return order[:cut], order[cut:]


def _svc(x: torch.Tensor, y: np.ndarray):
    """An SVC on the pixels; returns its predict function."""
    clf = SVC(gamma="scale").fit(x.flatten(1).numpy(), y)
    return lambda images: clf.predict(images.flatten(1).numpy())


def _cnn(x: torch.Tensor, y: np.ndarray, epochs: int = 15, seed: int = 0):
    """A small CNN (two 3x3 convolutions, each with max pooling, a hidden layer of 128) fitted with
    Adam; returns its predict function."""
    torch.manual_seed(seed)
    size = x.shape[-1] // 4
    net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(64 * size * size, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    target = torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(64):
            loss = F.cross_entropy(net(x[idx]), target[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()

    @torch.no_grad()
    def predict(images: torch.Tensor) -> np.ndarray:
        return torch.cat([net(images[i:i + 500]).argmax(1) for i in range(0, len(images), 500)]).numpy()
    return predict


JUDGES = {"SVC": _svc, "CNN": _cnn}


def _classifier(kind: str, x: torch.Tensor, y: np.ndarray):
    """A classifier of `kind` fitted on 80% of one domain; its predict function and its accuracy on the other 20%."""
    tr, te = _split(len(x))
    predict = JUDGES[kind](x[tr], y[tr])
    return predict, float(np.mean(predict(x[te]) == y[te]))


def _accuracy(predict, x: torch.Tensor, y: np.ndarray) -> float:
    return float(np.mean(predict(x) == y))


def as_8x8_digit(x: torch.Tensor) -> torch.Tensor:
    """Digits (N, 1, H, W) in [-1, 1] made the way scikit-learn's 8x8 digits were (ink counted in
    8x8 blocks, 17 levels) and brought back to H x W as the loader brings those: a translation to the
    8x8 style that keeps every stroke where it is. What B's classifier reads on these bounds what
    such a translation can score; above it, a translation must redraw the digit in B's hand."""
    blocks = torch.round(F.interpolate((x + 1) / 2, size=8, mode="area") * 16) / 16
    return fit_images(blocks, x.shape[-1], 1)


def _sharpness(x: torch.Tensor) -> float:
    """Mean gradient energy of images (N, 1, H, W) in [-1, 1] as uint8: speckle and hard edges raise
    it, the 8x8 digits' upsampled strokes are soft."""
    return float(np.mean([gradient_energy(image) for image in to_uint8(x)]))


@torch.no_grad()
def _through(model, x: torch.Tensor, direction: str, batch: int = 250) -> torch.Tensor:
    net = model.recipe.translator(direction)
    return torch.cat([net(x[i : i + batch]).clamp(-1, 1) for i in range(0, len(x), batch)])


def cyclegan_table(runs: dict[str, str], out_dir: Path) -> None:
    """One row per run and classifier; the domains (and the classifiers fitted on them) are each run's own."""
    print("\nCycleGAN digits: classifiers fitted on 80% of one domain only")
    print("| run | classifier | A, B translated | classifier ceiling A / B | untranslated, read by the other's classifier A / B "
          "| A -> B read by B's classifier | B -> A read by A's classifier | cycle L1 A | cycle L1 B "
          "| A drawn as an 8x8 digit, read by B's classifier | sharpness A -> B / of B's digits "
          "| sharpness B -> A / of A's digits |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, run_dir in runs.items():
        model = load(run_dir)
        data = model.config.data
        (xa, ya), (xb, yb), which = _translated(data)
        ab, ba = _through(model, xa, "a2b"), _through(model, xb, "b2a")
        aba, bab = _through(model, ab, "b2a"), _through(model, ba, "a2b")
        domains = _domain(data.source, data.resolution), _domain(data.source_b, data.resolution)
        sharp = (f"{_sharpness(ab):.0f} / {_sharpness(domains[1][0]):.0f} | "
                 f"{_sharpness(ba):.0f} / {_sharpness(domains[0][0]):.0f}")
        for kind in JUDGES:
            (clf_a, ceiling_a), (clf_b, ceiling_b) = (_classifier(kind, *domain) for domain in domains)
            kept = f"{_accuracy(clf_b, as_8x8_digit(xa), ya):.3f}" if data.source_b == "digits" else "-"
            print(f"| {label} | {kind} | {data.source} ({len(xa)}), {data.source_b} ({len(xb)}), {which} | "
                  f"{ceiling_a:.3f} / {ceiling_b:.3f} | {_accuracy(clf_b, xa, ya):.3f} / {_accuracy(clf_a, xb, yb):.3f} | "
                  f"{_accuracy(clf_b, ab, ya):.3f} | {_accuracy(clf_a, ba, yb):.3f} | "
                  f"{(aba - xa).abs().mean():.4f} | {(bab - xb).abs().mean():.4f} | {kept} | {sharp} |", flush=True)
        pick_a = np.concatenate([np.flatnonzero(ya == d)[:2] for d in range(10)])
        pick_b = np.concatenate([np.flatnonzero(yb == d)[:2] for d in range(10)])
        rows = [xa[pick_a], ab[pick_a], aba[pick_a], xb[pick_b], ba[pick_b], bab[pick_b]]
        image_grid(to_uint8(torch.cat(rows)), columns=20).save(out_dir / f"{label}_digits.png")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--edges", nargs=2, metavar=("GAN_RUN", "L1_RUN"))
    p.add_argument("--colorize", nargs=2, metavar=("GAN_RUN", "L1_RUN"))
    p.add_argument("--digits", nargs="+", metavar="LABEL=RUN", help="CycleGAN runs, e.g. cyclegan=runs/a no-adversarial=runs/b")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    for task in TASKS:
        runs = getattr(args, task)
        if runs:
            print_pix2pix(task, pix2pix_table(task, *runs, args.out))
    if args.digits:
        cyclegan_table(dict(item.split("=", 1) for item in args.digits), args.out)


if __name__ == "__main__":
    main()
