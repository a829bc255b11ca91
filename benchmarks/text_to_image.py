"""Does a text-to-image run draw what its captions ask for? (issue 25, the text-mnist checks)

For every digit word, every thickness, slant and size word (3 x 3 x 3), the script writes captions in
each of the four training phrasings and in the phrasing held out of training, draws images for them
from the run, and reads the images back:
- the digit, by two independent judges: gankit's domain CNN (trained on the 4,000 training digits of
  the bundled MNIST split, the classifier behind `gankit eval`) and a scikit-learn MLP fitted here on
  the same 4,000 digits; each judge's accuracy on the 1,000 held-out real digits is printed first;
- thickness and slant, by the measures the captions were written from (gankit.data.digit_captions):
  Spearman's rank correlation of the asked-for level (0, 1, 2) against the measured value. The same
  correlation on the real captioned digits is printed beside it as the ceiling.
It writes a grid with each image's caption under it.

    OMP_NUM_THREADS=1 python benchmarks/text_to_image.py RUN_DIR [--per-caption K] [--grid FILE.png]
"""

from __future__ import annotations

import argparse
import itertools
import textwrap

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from scipy.stats import spearmanr
from sklearn.neural_network import MLPClassifier

import gankit
from gankit.data import digit_captions as dc
from gankit.data.load import _mnist
from gankit.metrics.domain import DomainExtractor, mnist_split

COMBOS = list(itertools.product(range(3), range(3), range(3)))  # (thickness, slant, size) levels


def judges():
    x_tr, y_tr, x_ho, y_ho = (t.numpy() for t in mnist_split())
    mlp = MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3, max_iter=200, random_state=0)
    mlp.fit(x_tr.reshape(len(x_tr), -1), y_tr)
    cnn = DomainExtractor()
    out = {"CNN": lambda x: cnn(torch.from_numpy(x).view(-1, 1, 28, 28))[1].numpy().argmax(1),
           "MLP": lambda x: mlp.predict(x.reshape(len(x), -1))}
    for name, read in out.items():
        print(f"judge {name}: accuracy on the 1,000 held-out real digits {(read(x_ho) == y_ho).mean():.3f}")
    return out


def draw(model, captions: list[str], per_caption: int, seed: int) -> np.ndarray:
    """uint8 (len(captions) * per_caption, 28, 28) images, caption by caption."""
    out = [model.sample(per_caption, seed=seed + i, text=c)["images"][..., 0] for i, c in enumerate(captions)]
    return np.concatenate(out)


def captions_for(template: str | None) -> tuple[list[str], np.ndarray]:
    """Every (digit, thickness, slant, size) caption in `template` (None: the four training phrasings
    in turn) and the asked-for (digit, thickness, slant, size) per caption."""
    captions, asked = [], []
    for d in range(10):
        for i, (t, s, z) in enumerate(COMBOS):
            phrasing = template or dc.TEMPLATES[(d + i) % len(dc.TEMPLATES)]
            captions.append(dc.write_caption(d, t, s, z, phrasing))
            asked.append((d, t, s, z))
    return captions, np.array(asked)


def report(name: str, images: np.ndarray, asked: np.ndarray, read) -> None:
    x = images.astype(np.float32) / 127.5 - 1.0
    digit = np.repeat(asked[:, 0], len(images) // len(asked))
    for judge, classify in read.items():
        got = classify(x)
        shares = [(got[digit == d] == d).mean() for d in range(10)]
        print(f"[{name}] [{judge}] read as the digit asked for: " + " ".join(f"{d}:{s:.3f}" for d, s in enumerate(shares))
              + f"; lowest {min(shares):.3f}, all {(got == digit).mean():.3f}")


def attribute_correlations(images: np.ndarray, asked: np.ndarray) -> dict[str, float]:
    reps = len(images) // len(asked)
    m = dc.measure(images.astype(np.float32) / 255.0)
    return {k: float(spearmanr(np.repeat(asked[:, j], reps), m[k]).statistic)
            for j, k in ((1, "thickness"), (2, "slant"), (3, "size"))}


def write_grid(model, path: str, seed: int) -> None:
    """Ten rows (digits) of six captions each, one image per caption, the caption under it."""
    cells = [(0, 1, 1, dc.TEMPLATES[0]), (2, 1, 1, dc.TEMPLATES[0]), (1, 0, 1, dc.TEMPLATES[1]),
             (1, 2, 1, dc.TEMPLATES[1]), (2, 2, 2, dc.TEMPLATES[2]), (0, 0, 0, dc.HELD_OUT)]
    scale, width, text_h = 3, 150, 52
    font = ImageFont.load_default()
    canvas = Image.new("L", (width * len(cells), 10 * (28 * scale + text_h + 6)), 255)
    pen = ImageDraw.Draw(canvas)
    for d in range(10):
        for k, (t, s, z, template) in enumerate(cells):
            caption = dc.write_caption(d, t, s, z, template)
            image = model.sample(1, seed=seed + 10 * d + k, text=caption)["images"][0, ..., 0]
            x0, y0 = k * width, d * (28 * scale + text_h + 6)
            canvas.paste(Image.fromarray(image).resize((28 * scale, 28 * scale), Image.Resampling.NEAREST),
                         (x0 + (width - 28 * scale) // 2, y0 + 2))
            lines = textwrap.wrap(caption + (" [held out]" if template == dc.HELD_OUT else ""), 24)
            pen.multiline_text((x0 + 4, y0 + 28 * scale + 4), "\n".join(lines), fill=0, font=font, spacing=1)
    canvas.save(path)
    print(f"wrote {path}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run")
    p.add_argument("--per-caption", type=int, default=4, help="images per caption (default 4)")
    p.add_argument("--grid", default="docs/text-to-image.png")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    model = gankit.load(args.run)
    read = judges()

    x, y = _mnist()  # the ceiling: the captioned real digits' own levels against their measures
    levels = dc.attribute_levels(dc.measure(x / 255.0), y)
    m = dc.measure(x / 255.0)
    print("real digits, level vs measure (Spearman): "
          + ", ".join(f"{k} {spearmanr(levels[k], m[k]).statistic:.3f}" for k in ("thickness", "slant", "size")))

    captions, asked = captions_for(None)
    images = draw(model, captions, args.per_caption, args.seed)
    print(f"training phrasings: {len(captions)} captions x {args.per_caption} images")
    report("training phrasings", images, asked, read)
    corr = attribute_correlations(images, asked)
    print("[training phrasings] asked-for level vs measured (Spearman): "
          + ", ".join(f"{k} {v:.3f}" for k, v in corr.items()))

    captions, asked = captions_for(dc.HELD_OUT)
    images = draw(model, captions, args.per_caption, args.seed + 100_000)
    print(f"held-out phrasing '{dc.HELD_OUT}': {len(captions)} captions x {args.per_caption} images")
    report("held-out phrasing", images, asked, read)
    corr = attribute_correlations(images, asked)
    print("[held-out phrasing] asked-for level vs measured (Spearman): "
          + ", ".join(f"{k} {v:.3f}" for k, v in corr.items()))
    write_grid(model, args.grid, args.seed)


if __name__ == "__main__":
    main()
