"""report.html: one self-contained page per run (images inlined as base64, no network).

It shows the sample grids over time (a slider), the loss curves, mean D(x) and D(G(z)), every
evaluation metric found in metrics.jsonl, images/s, the toy figures when the run has them, and the
resolved config. The page's script sets `data-report="ok"` on <body> once it ran without error and
every image decoded (`data-report="error: ..."` otherwise), which tests read back from the DOM.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import yaml

from ..config import read_config
from ..errors import UserError
from ..health import HEALTH_KEYS, diagnose
from ..io import atomic_write_bytes
from .plots import read_metrics

# Keys of a training record that are not evaluation metrics (losses and D outputs are found by prefix).
TRAINING_KEYS = {"step", "time", "images_seen", "images_per_s", "d_real", "d_fake", *HEALTH_KEYS, "pl"}


# What the grids of the image-to-image recipes show (their rows are fixed training examples), by recipe.
GRID_CAPTIONS = {
    "pix2pix": "Input, output and target over training: each example is input | G(input) | target",
    "cyclegan": "Inputs, translations and cycles over training: each example is a | G(a) | F(G(a)) | b | F(b) | G(F(b))",
}


def is_training_key(key: str) -> bool:
    return key in TRAINING_KEYS or key.startswith("loss")


def metric_keys(records: list[dict]) -> list[str]:
    """Every numeric key, in any record, that is not a training statistic: an evaluation metric."""
    keys: dict[str, None] = {}
    for r in records:
        for k, v in r.items():
            if not is_training_key(k) and isinstance(v, (int, float)) and not isinstance(v, bool):
                keys[k] = None
    return list(keys)


def _series(records: list[dict], key: str) -> tuple[list, list]:
    pts = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float)) and "step" in r
           and not isinstance(r.get(key), bool) and math.isfinite(r[key])]
    return [p[0] for p in pts], [p[1] for p in pts]


def _png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _figure(panels: list[tuple[str, list[str], list[dict]]]) -> str | None:
    """One row of line plots, one panel per (title, keys); returns a PNG data URI, None if no data."""
    panels = [(t, [k for k in keys if _series(recs, k)[0]], recs) for t, keys, recs in panels]
    panels = [p for p in panels if p[1]]
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), dpi=90, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (title, keys, recs) in zip(axes.flat, panels):
        for key in keys:
            xs, ys = _series(recs, key)
            ax.plot(xs, ys, marker="o" if len(xs) < 20 else None, ms=3, label=key)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("generator step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return _png_uri(buf.getvalue())


_SCRIPT = """
(function () {
  var body = document.body;
  try {
    var frames = JSON.parse(document.getElementById('grid-data').textContent);
    var slider = document.getElementById('grid-slider');
    var img = document.getElementById('grid-img');
    var label = document.getElementById('grid-step');
    if (slider && frames.length) {
      var show = function () {
        var f = frames[Number(slider.value)];
        img.src = f.src;
        label.textContent = 'step ' + f.step + ' (' + (Number(slider.value) + 1) + ' of ' + frames.length + ')';
      };
      slider.addEventListener('input', show);
      show();
    }
    var check = function () {
      var imgs = Array.prototype.slice.call(document.images);
      var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
      body.setAttribute('data-images', String(imgs.length - bad.length) + '/' + imgs.length);
      body.setAttribute('data-report', bad.length ? 'error: ' + bad.length + ' image(s) did not decode' : 'ok');
      if (!bad.length) { document.title = document.title + ' [ok]'; }
    };
    var pending = Array.prototype.filter.call(document.images, function (i) { return !i.complete; });
    if (!pending.length) { check(); } else { window.addEventListener('load', check); }
  } catch (e) {
    body.setAttribute('data-report', 'error: ' + e);
  }
})();
"""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1300px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; border-bottom: 1px solid #ddd; margin-top: 1.6em; }
img { max-width: 100%; image-rendering: pixelated; }
#grid-img { width: 480px; }
.strip img { height: 110px; margin: 2px; border: 1px solid #ccc; }
.strip figure { display: inline-block; margin: 0 4px; text-align: center; font-size: 0.75em; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { padding: 2px 10px; text-align: right; }
.muted { color: #777; }
.finding { border-left: 4px solid #c33; padding: 0.2em 0.8em; margin: 0.6em 0; background: #fdf3f3; }
.healthy { border-left: 4px solid #393; padding: 0.2em 0.8em; background: #f3fbf3; }
code { background: #f0f0f0; padding: 0 3px; }
"""


def health_panel(records: list[dict], config_path: Path, unread: frozenset[str] = frozenset()) -> str:
    """The checks of gankit.health over the records: each finding with its step, evidence and the
    overrides to paste (none of the `unread` keys), or what was checked. The checkpoints' diversity
    is `gankit doctor`'s."""
    try:
        cfg = read_config(str(config_path))
    except UserError as exc:
        return f'<h2>Health</h2><p class="muted">not checked: {html.escape(str(exc))}</p>'
    checks = diagnose(records, cfg, unread=unread)
    found = [c.finding for c in checks if c.finding]
    parts = ["<h2>Health</h2>"]
    for f in found:
        overrides = " ".join(f"<code>{html.escape(o)}</code>" for o in f.overrides)
        parts.append(f'<div class="finding"><b>{html.escape(f.name)}</b> from step {f.step}: {html.escape(f.evidence)}'
                     f"<br>change: {html.escape(f.change)}{': ' + overrides if overrides else ''}</div>")
    if not found:
        parts.append('<p class="healthy">no problem found in metrics.jsonl</p>')
    items = "".join(f"<li><b>{html.escape(c.name)}</b>: {html.escape(c.checked)}</li>" for c in checks if not c.finding)
    parts.append(f'<ul class="muted">{items}</ul>' if items else "")
    parts.append('<p class="muted">The diversity of a fixed latent batch across checkpoints is measured by '
                 "<code>gankit doctor RUN</code>.</p>")
    return "".join(parts)


def build_report(run_dir: Path, unread: frozenset[str] = frozenset()) -> str:
    """The HTML text of the report for `run_dir` (read from the files the run wrote); `unread` as
    for write_report."""
    run_dir = Path(run_dir)
    records = read_metrics(run_dir / "metrics.jsonl")
    train_recs = [r for r in records if any(k.startswith("loss") for k in r)]
    config = (run_dir / "config.yaml").read_text() if (run_dir / "config.yaml").exists() else ""
    name = run_dir.name
    grids = sorted((run_dir / "samples").glob("step_*.png"))
    frames = [{"step": int(p.stem.split("_")[-1]), "src": _png_uri(p.read_bytes())} for p in grids]

    parts = [f"<h1>gankit run: {html.escape(name)}</h1>"]
    last = train_recs[-1] if train_recs else {}
    if last:
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{v:.4g}</td></tr>" for k, v in last.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool))
        parts.append(f"<h2>Last logged step</h2><table>{rows}</table>")

    parts.append(health_panel(records, run_dir / "config.yaml", unread))

    recipe = (yaml.safe_load(config) or {}).get("recipe") if config else None
    parts.append(f"<h2>{html.escape(GRID_CAPTIONS.get(recipe, 'Samples over training'))}</h2>")
    if frames:
        import json

        parts.append(f'<input type="range" id="grid-slider" min="0" max="{len(frames) - 1}" value="{len(frames) - 1}" '
                     f'style="width:60%"> <span id="grid-step"></span><br>'
                     f'<img id="grid-img" alt="sample grid" src="{frames[-1]["src"]}">')
        # A strip of at most 8 moments, so the whole history is visible at a glance.
        picks = sorted({round(i * (len(frames) - 1) / 7) for i in range(8)}) if len(frames) > 1 else [0]
        parts.append('<div class="strip">' + "".join(
            f'<figure><img alt="step {frames[i]["step"]}" src="{frames[i]["src"]}"><figcaption>step {frames[i]["step"]}'
            f"</figcaption></figure>" for i in picks) + "</div>")
        parts.append(f'<script type="application/json" id="grid-data">{json.dumps(frames)}</script>')
    else:
        parts.append('<p class="muted">no sample grids yet</p><script type="application/json" id="grid-data">[]</script>')

    for toy in ("toy.gif", "toy.png"):
        if (run_dir / toy).exists():
            kind = "gif" if toy.endswith("gif") else "png"
            uri = f"data:image/{kind};base64," + base64.b64encode((run_dir / toy).read_bytes()).decode("ascii")
            parts.append(f"<h2>Toy figure ({toy})</h2><img alt=\"{toy}\" src=\"{uri}\">")

    loss_keys = sorted({k for r in train_recs for k in r if k.startswith("loss")})
    training = _figure([("losses", loss_keys, train_recs),
                        ("mean D(x) and D(G(z))", ["d_real", "d_fake"], train_recs),
                        ("D overfitting: rt, held-out rt, r_v, ADA's p", list(HEALTH_KEYS), train_recs),
                        ("images/s", ["images_per_s"], train_recs)])
    parts.append("<h2>Training curves</h2>")
    parts.append(f'<img alt="training curves" src="{training}">' if training else '<p class="muted">nothing logged yet</p>')

    metrics = metric_keys(records)
    parts.append("<h2>Evaluation metrics</h2>")
    fig = _figure([(k, [k], records) for k in metrics])
    parts.append(f'<img alt="evaluation metrics" src="{fig}">' if fig else '<p class="muted">no evaluation metrics in metrics.jsonl</p>')

    parts.append(f"<h2>Resolved config</h2><pre>{html.escape(config)}</pre>")
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>gankit report: {html.escape(name)}</title>'
            f"<style>{_STYLE}</style></head><body data-report=\"pending\">{''.join(parts)}"
            f"<script>{_SCRIPT}</script></body></html>")


def write_report(run_dir: Path, unread: frozenset[str] = frozenset()) -> Path:
    """(Re)write RUN_DIR/report.html atomically; returns its path. `unread`: config keys the run's
    recipe does not read, left out of the health panel's overrides."""
    out = Path(run_dir) / "report.html"
    atomic_write_bytes(out, build_report(run_dir, unread).encode("utf-8"))
    return out
