"""The classic toy figures, built from cheap snapshots taken during training.

gauss1d (Goodfellow et al. 2014, figure 1): the data density, the generator's density (a histogram of
its samples) and the discriminator's output D(x) over x, at several moments of training.
ring / grid: the generator's samples over training on top of the true modes.

`record_snapshot` is the one hook the loop calls (at every sample step); it appends a few hundred
numbers to `toy_snapshots.npz` in the run directory. `save_toy_figures` draws toy.png and toy.gif.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch

from ..data.toy import MIXTURES
from ..io import atomic_write_bytes

SNAPSHOTS = "toy_snapshots.npz"
N_POINTS = 1000  # generator samples per snapshot: enough for a histogram, cheap to store
N_GRID = 200  # points of x at which D(x) is evaluated (1-D)
SNAPSHOT_SEED = 12345  # the same z at every snapshot, so frames differ only by training


def x_range(source: str) -> tuple[float, float]:
    means, std = MIXTURES[source]
    return float(means.min()) - 6 * std - 2.0, float(means.max()) + 6 * std + 2.0


def read_snapshots(run_dir: Path) -> dict[str, np.ndarray] | None:
    path = Path(run_dir) / SNAPSHOTS
    if not path.exists():
        return None
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@torch.no_grad()
def take_snapshot(recipe, source: str, device: torch.device) -> dict[str, np.ndarray]:
    """G's samples from a fixed z; for 1-D data also D(x) as a probability on a grid of x."""
    G, D = recipe.G, recipe.D
    modes = (G.training, D.training)
    G.eval(), D.eval()
    gen = torch.Generator(device).manual_seed(SNAPSHOT_SEED)
    z = recipe.sample_z(N_POINTS, gen)
    out = {"points": recipe.generate(z, recipe.sample_labels(N_POINTS, gen)).float().cpu().numpy()}
    if out["points"].shape[1] == 1:
        lo, hi = x_range(source)
        xs = torch.linspace(lo, hi, N_GRID, device=device)[:, None]
        pack = recipe.opt.pack  # a packed D (PacGAN) scores m samples at once: here m copies of x
        logits = D(xs.repeat_interleave(pack, 0)).float().reshape(-1)
        # Losses on probabilities read D through a sigmoid; others (WGAN, hinge) show the raw critic.
        probs = bool(getattr(getattr(recipe, "loss", None), "probabilities", True))
        out["d_x"] = (torch.sigmoid(logits) if probs else logits).cpu().numpy()
    G.train(modes[0]), D.train(modes[1])
    return out


def record_snapshot(run_dir: Path, step: int, recipe, source: str, device: torch.device) -> None:
    """Append one snapshot (points, and D(x) for 1-D) to the run's toy_snapshots.npz."""
    if source not in MIXTURES:
        return
    snap = take_snapshot(recipe, source, device)
    old = read_snapshots(run_dir)
    if old is not None and step in old["steps"]:  # a resumed run re-saves its last step
        return
    arrays = {"steps": np.array([step], dtype=np.int64), "points": snap["points"][None]}
    if "d_x" in snap:
        arrays["d_x"] = snap["d_x"][None]
    if old is not None and old["points"].shape[1:] == arrays["points"].shape[1:]:
        arrays = {k: np.concatenate([old[k], v]) for k, v in arrays.items()}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(Path(run_dir) / SNAPSHOTS, buf.getvalue())


def _data_density(source: str, xs: np.ndarray) -> np.ndarray:
    means, std = MIXTURES[source]
    dens = np.exp(-0.5 * ((xs[:, None] - means[None, :, 0]) / std) ** 2) / (std * math.sqrt(2 * math.pi))
    return dens.mean(1)


def _draw_1d(ax, source: str, points: np.ndarray, d_x: np.ndarray | None, step: int, ymax: float) -> None:
    lo, hi = x_range(source)
    xs = np.linspace(lo, hi, N_GRID)
    ax.plot(xs, _data_density(source, xs), color="k", ls=":", lw=1.5, label="p_data")
    ax.hist(np.clip(points[:, 0], lo, hi), bins=50, range=(lo, hi), density=True, color="C2", alpha=0.5,
            label="p_g (samples)")
    if d_x is not None:
        ax.plot(xs, d_x, color="C0", lw=1.5, label="D(x)")
    ax.axhline(0.5, color="0.6", lw=0.8)
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, ymax)
    ax.set_title(f"step {step}", fontsize=9)


def _draw_2d(ax, source: str, points: np.ndarray, step: int, lim: float) -> None:
    means, _ = MIXTURES[source]
    ax.scatter(points[:, 0], points[:, 1], s=3, c="C3", alpha=0.5, label="G(z)")
    ax.scatter(means[:, 0], means[:, 1], s=40, marker="x", c="k", label="true modes")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(f"step {step}", fontsize=9)


def _frame(source: str, snaps: dict, i: int, ax, ymax: float, lim: float) -> None:
    if snaps["points"].shape[2] == 1:
        d_x = snaps["d_x"][i] if "d_x" in snaps else None
        _draw_1d(ax, source, snaps["points"][i], d_x, int(snaps["steps"][i]), ymax)
    else:
        _draw_2d(ax, source, snaps["points"][i], int(snaps["steps"][i]), lim)


def save_toy_figures(run_dir: Path, source: str, panels: int = 4) -> list[Path]:
    """toy.png (a few moments of training side by side) and toy.gif (every snapshot); [] if none."""
    snaps = read_snapshots(run_dir)
    if snaps is None or source not in MIXTURES or len(snaps["steps"]) == 0:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    run_dir = Path(run_dir)
    n = len(snaps["steps"])
    ymax = 1.05 * max(1.0, float(_data_density(source, MIXTURES[source][0][:, 0]).max()))
    lim = float(np.abs(MIXTURES[source][0]).max()) * 1.5 + 0.5
    picks = sorted(set(np.linspace(0, n - 1, min(panels, n)).round().astype(int).tolist()))
    fig, axes = plt.subplots(1, len(picks), figsize=(3.2 * len(picks), 3), dpi=90, squeeze=False)
    for ax, i in zip(axes[0], picks):
        _frame(source, snaps, i, ax, ymax, lim)
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(run_dir / "toy.png", buf.getvalue())

    frames = []
    fig, ax = plt.subplots(figsize=(4, 3.2) if snaps["points"].shape[2] == 1 else (3.6, 3.6), dpi=80)
    for i in range(n):
        ax.clear()
        _frame(source, snaps, i, ax, ymax, lim)
        ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        fig.canvas.draw()
        frames.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[:, :, :3]).convert("P", palette=Image.ADAPTIVE))
    plt.close(fig)
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=400, loop=0)
    atomic_write_bytes(run_dir / "toy.gif", buf.getvalue())
    return [run_dir / "toy.png", run_dir / "toy.gif"]
