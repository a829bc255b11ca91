"""Would a reader take these samples for digits, and are all ten there in fair shares?

An independent judge (scikit-learn MLP on raw pixels, fitted on the 4,000 training digits of the
domain split; it never sees a generator's output) reads each sample. A sample is read "without
doubt" when the judge gives one class a probability above 0.9. The same share for the 1,000 held-out
real digits is printed first: it is the ceiling any generator can reach under this judge.
A second opinion comes from gankit's own domain CNN (the classifier behind `gankit eval`), read the
same way: a judge of another kind, convolutional and trained on the same 4,000 digits.
Samples of a conditional model carry `labels` (the class asked for); then each judge also prints, per
class, how often it reads the sample as the class asked for.

    python benchmarks/judge_digits.py SAMPLES.npz [SAMPLES.npz ...]
"""

import sys

import numpy as np
from sklearn.neural_network import MLPClassifier

import torch

from gankit.metrics.domain import DomainExtractor, mnist_split

CONFIDENT = 0.9


def fit_judge() -> tuple[MLPClassifier, np.ndarray, np.ndarray]:
    x_tr, y_tr, x_ho, y_ho = (t.numpy() for t in mnist_split())
    judge = MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3, max_iter=200, random_state=0)
    judge.fit(x_tr.reshape(len(x_tr), -1), y_tr)
    return judge, x_ho.reshape(len(x_ho), -1), y_ho


def read(p: np.ndarray) -> dict:
    """p: (N, 10) class probabilities from a judge."""
    label = p.argmax(1)
    shares = np.bincount(label, minlength=10) / len(label)
    return {"n": len(p), "confident": float((p.max(1) > CONFIDENT).mean()), "shares": shares,
            "classes": int((shares > 0).sum()), "min_share": float(shares.min()), "max_share": float(shares.max())}


def describe(name: str, r: dict) -> str:
    shares = " ".join(f"{s:.2f}" for s in r["shares"])
    return (f"{name}: n={r['n']} read without doubt {r['confident']:.3f}; classes {r['classes']}/10, "
            f"shares min {r['min_share']:.3f} max {r['max_share']:.3f} [{shares}]")


def per_label_agreement(read_as: np.ndarray, asked: np.ndarray) -> str:
    rates = [(c, (read_as[asked == c] == c).mean(), (asked == c).sum()) for c in np.unique(asked)]
    worst = min(r for _, r, _ in rates)
    return " ".join(f"{c}:{r:.3f}(n={n})" for c, r, n in rates) + f"; lowest {worst:.3f}"


def main(paths: list[str]) -> None:
    judge, x_ho, y_ho = fit_judge()
    cnn = DomainExtractor()
    judges = {"MLP": lambda x: judge.predict_proba(x.reshape(len(x), -1)),
              "CNN": lambda x: cnn(torch.from_numpy(x).view(-1, 1, 28, 28))[1].numpy()}
    print(f"judges: MLP(256) on 4,000 bundled digits, accuracy on the 1,000 held-out real digits "
          f"{(judge.predict(x_ho) == y_ho).mean():.3f}; gankit's domain CNN")
    for name, probs in judges.items():
        print(describe(f"[{name}] held-out real digits", read(probs(x_ho))))
    for path in paths:
        arrays = np.load(path)
        images, asked = arrays["images"], arrays.get("labels")
        x = images.reshape(len(images), -1).astype(np.float32) / 127.5 - 1.0
        for name, probs in judges.items():
            p = probs(x)
            print(describe(f"[{name}] {path}", read(p)))
            if asked is not None:
                print(f"[{name}] read as the class asked for: " + per_label_agreement(p.argmax(1), asked))


if __name__ == "__main__":
    main(sys.argv[1:])
