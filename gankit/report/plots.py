"""losses.png: every loss and D's mean outputs over training, read back from metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path


def read_metrics(path: Path) -> list[dict]:
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def save_loss_plot(metrics_path: Path, out: Path) -> Path | None:
    records = [r for r in read_metrics(metrics_path) if "loss_d" in r]
    if not records:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in records]
    fig, (ax_loss, ax_d) = plt.subplots(1, 2, figsize=(10, 3.5), dpi=100)
    for key in sorted(k for k in records[0] if k.startswith("loss")):
        ax_loss.plot(steps, [r.get(key) for r in records], label=key)
    ax_loss.set_xlabel("generator step")
    ax_loss.set_title("losses")
    ax_loss.legend()
    for key, label in (("d_real", "mean D(x)"), ("d_fake", "mean D(G(z))")):
        ax_d.plot(steps, [r.get(key) for r in records], label=label)
    ax_d.set_xlabel("generator step")
    ax_d.set_title("discriminator outputs")
    ax_d.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return Path(out)
