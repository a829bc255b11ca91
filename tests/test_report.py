"""The run report, the toy figures and the latent-space pictures (issue 8)."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.configure import load_config
from gankit.errors import UserError
from gankit.model import Model
from gankit.report.html import build_report, metric_keys, write_report
from gankit.report.latent import encoded_interpolation, interpolation_grid, slerp
from gankit.report.toyfig import read_snapshots
from gankit.train.loop import train


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


TOY_1D = """name: gauss1d-test
data: {source: gauss1d}
model: {arch: mlp, z_dim: 2, g_width: 16, d_width: 16, g_layers: 1, d_layers: 1, maxout_pieces: 2}
optim: {batch_size: 64, lr_g: 1.0e-3, lr_d: 1.0e-3}
train: {steps: 60, log_every: 10, sample_every: 20, checkpoint_every: 60, grid_size: 64, device: cpu, seed: 0}
"""

IMAGES = """name: tiny-images
data: {source: mnist, resolution: 16, channels: 1, limit: 256}
model: {arch: dcgan, z_dim: 8, g_width: 8, d_width: 8}
optim: {batch_size: 16}
train: {steps: 12, log_every: 3, sample_every: 4, checkpoint_every: 12, grid_size: 9, device: cpu, seed: 0}
"""


# ---- slerp ------------------------------------------------------------------------------------
def test_slerp_matches_the_formula():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    path = slerp(a, b, torch.tensor([0.0, 0.5, 1.0]))[0]
    assert torch.allclose(path[0], a[0]) and torch.allclose(path[2], b[0])
    assert torch.allclose(path[1], torch.tensor([1.0, 1.0]) / math.sqrt(2))  # stays on the unit circle
    # angle 90 deg, t = 1/3: sin(60)/sin(90) * a + sin(30)/sin(90) * b
    third = slerp(a, b, torch.tensor([1 / 3]))[0, 0]
    assert torch.allclose(third, torch.tensor([math.sin(math.pi / 3), math.sin(math.pi / 6)]), atol=1e-6)
    # parallel endpoints: the straight line, no NaN
    line = slerp(a, 3 * a, torch.tensor([0.5]))[0, 0]
    assert torch.allclose(line, torch.tensor([2.0, 0.0]))


# ---- metrics found in metrics.jsonl -----------------------------------------------------------
def test_metric_keys_are_every_numeric_non_training_key():
    records = [{"step": 10, "time": 1.0, "loss_d": 1.2, "loss_g": 0.7, "d_real": 0.6, "d_fake": 0.4,
                "images_per_s": 100.0, "images_seen": 640},
               {"step": 10, "fid": 80.5, "precision": 0.4, "note": "text", "done": True},
               {"step": 20, "kid": 0.01, "fid": 60.0}]
    assert metric_keys(records) == ["fid", "precision", "kid"]


# ---- gauss1d: the classic figure ---------------------------------------------------------------
def test_gauss1d_run_writes_snapshots_figures_and_report(tmp_path):
    run = train(load_config(str(_yaml(tmp_path, TOY_1D))), tmp_path / "run", progress=False)
    snaps = read_snapshots(run.dir)
    assert snaps["steps"].tolist() == [0, 20, 40, 60]
    assert snaps["points"].shape == (4, 1000, 1)
    assert snaps["d_x"].shape == (4, 200) and ((snaps["d_x"] > 0) & (snaps["d_x"] < 1)).all()
    # The untrained G's samples are not those of the last snapshot: the frames show training.
    assert not np.allclose(snaps["points"][0], snaps["points"][-1])
    assert Image.open(run.dir / "toy.png").size[0] > 600
    with Image.open(run.dir / "toy.gif") as gif:
        assert gif.n_frames == 4
    page = (run.dir / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 4 + 2 and "data:image/gif;base64," in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched from the network
    assert "source: gauss1d" in page  # the resolved config


def test_a_packed_d_is_drawn_on_packs_of_copies_of_each_x(tmp_path):
    """PacGAN's D scores m samples at once; the 1-D figure's D(x) is its score of m copies of x."""
    from gankit.report.toyfig import N_GRID, take_snapshot, x_range
    from gankit.train.loop import Trainer

    cfg = load_config("gauss1d", ["remedies.pack=2", "train.device=cpu", "optim.batch_size=16", "data.limit=64"])
    recipe = Trainer(cfg, tmp_path, progress=False).recipe
    snap = take_snapshot(recipe, "gauss1d", torch.device("cpu"))
    assert snap["d_x"].shape == (N_GRID,)
    x = torch.linspace(*x_range("gauss1d"), N_GRID)[7]
    with torch.no_grad():
        recipe.D.eval()
        want = torch.sigmoid(recipe.D(x.repeat(2, 1))).item()
    assert snap["d_x"][7] == pytest.approx(want, rel=1e-5)


# ---- headless Chromium -------------------------------------------------------------------------
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install -y chromium)")


def _chromium(page: Path, *extra: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:  # a fresh profile every time
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-extensions", f"--user-data-dir={profile}",
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", *extra, page.resolve().as_uri()],
            capture_output=True, text=True, timeout=90)


def _page_state(page: Path) -> tuple[str, str, str]:
    """(data-report, data-images, console messages) after the page's script ran."""
    result = _chromium(page, "--dump-dom")
    body = re.search(r"<body[^>]*>", result.stdout)
    assert body, result.stderr[-2000:]
    attrs = dict(re.findall(r'(data-[a-z]+)="([^"]*)"', body.group(0)))
    console = "\n".join(line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line)
    return attrs.get("data-report", ""), attrs.get("data-images", ""), console


@needs_chromium
def test_report_renders_in_headless_chromium(tmp_path):
    run = train(load_config(str(_yaml(tmp_path, IMAGES))), tmp_path / "run", progress=False)
    with open(run.dir / "metrics.jsonl", "a") as f:  # evaluation records as the eval command adds them
        f.write(json.dumps({"step": 6, "fid": 250.0}) + "\n")
        f.write(json.dumps({"step": 12, "fid": 200.0, "kid": 0.3}) + "\n")
    assert main(["report", str(run.dir)]) == 0
    page = run.dir / "report.html"
    html = page.read_text()
    assert "evaluation metrics" in html and "no evaluation metrics" not in html

    state, images, console = _page_state(page)
    assert state == "ok", (state, console)
    done, total = map(int, images.split("/"))
    # 3 grids in the strip + the slider's image + training curves + metrics
    assert done == total >= 6
    assert console == ""

    shot = tmp_path / "shot.png"
    result = _chromium(page, f"--screenshot={shot}", "--window-size=1200,1600")
    assert shot.exists(), result.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert pixels.shape == (1600, 1200) and pixels.std() > 10  # not a blank page


@needs_chromium
def test_page_check_detects_a_broken_image(tmp_path):
    """The detector can fail: a page whose image does not decode is reported as an error."""
    (tmp_path / "config.yaml").write_text("name: x\n")
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "step_000001.png").write_bytes(b"not a png")
    write_report(tmp_path)
    state, _, _ = _page_state(tmp_path / "report.html")
    assert state.startswith("error"), state


# ---- latent-space pictures ---------------------------------------------------------------------
class _LinearRecipe:
    """A minimal decoder/encoder pair: G(z) = z / 2 as a 1x2x2 image, encode = its exact inverse."""

    cfg = load_config("vanilla-mnist")

    def __init__(self, num_classes: int = 0):
        self.G, self.D = torch.nn.Identity(), torch.nn.Identity()
        self.conditional = num_classes > 0

    def modules(self):
        return {"G": self.G}

    def sample_z(self, n, gen):
        return torch.rand(n, 4, generator=gen) * 2 - 1

    def generate(self, z, labels=None):
        x = z.view(-1, 1, 2, 2) / 2
        return x if labels is None else x * 0 + (labels.float().view(-1, 1, 1, 1) / 2 - 0.5)

    def encode(self, x):
        return x.flatten(1) * 2


def _fake_model(num_classes=0):
    return Model(_LinearRecipe(num_classes), {"num_classes": num_classes, "sample_shape": [1, 2, 2]}, torch.device("cpu"))


def test_encoded_interpolation_reconstructs_its_endpoints():
    model = _fake_model()
    a = torch.full((1, 1, 2, 2), -0.4)
    b = torch.tensor([[[[0.4, -0.2], [0.0, 0.2]]]])
    grid = encoded_interpolation(model, a, b, steps=5)
    assert grid.shape == (1, 7, 2, 2, 1) and grid.dtype == np.uint8
    assert np.array_equal(grid[0, 0], grid[0, 1]) and np.array_equal(grid[0, -1], grid[0, -2])
    assert not np.array_equal(grid[0, 1], grid[0, 3])  # the middle is neither endpoint


def test_encoding_needs_an_encoder():
    model = _fake_model()
    model.recipe.encode = None
    with pytest.raises(UserError, match="encoder"):
        encoded_interpolation(model, torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), 3)


def test_class_grid_has_one_row_per_class():
    grid = interpolation_grid(_fake_model(num_classes=3), rows=5, steps=4)
    assert grid.shape == (3, 4, 2, 2, 1)
    values = grid.reshape(3, -1)
    assert (values == values[:, :1]).all() and len(set(values[:, 0].tolist())) == 3  # the class sets the image


def test_interpolate_cli_writes_png_and_gif(tmp_path, monkeypatch):
    import gankit.commands.interpolate

    monkeypatch.setattr(gankit.commands.interpolate, "load", lambda path, device="cpu": _fake_model())
    assert main(["interpolate", "RUN", "--out", str(tmp_path / "a.png"), "--rows", "3", "--steps", "5"]) == 0
    assert Image.open(tmp_path / "a.png").size == (5 * 4 + 2, 3 * 4 + 2)  # 2x2 tiles with 2-pixel padding
    assert main(["interpolate", "RUN", "--out", str(tmp_path / "a.gif"), "--steps", "5"]) == 0
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 8  # 5 steps there, 3 back
    Image.fromarray(np.full((2, 2), 40, np.uint8)).save(tmp_path / "A.png")
    Image.fromarray(np.full((2, 2), 200, np.uint8)).save(tmp_path / "B.png")
    assert main(["interpolate", "RUN", str(tmp_path / "A.png"), str(tmp_path / "B.png"), "--steps", "3",
                 "--out", str(tmp_path / "ab.png")]) == 0
    assert main(["interpolate", "RUN", str(tmp_path / "A.png"), "--out", str(tmp_path / "x.png")]) == 2
    assert main(["interpolate", "RUN", "--out", str(tmp_path / "x.jpg")]) == 2


def test_tensorboard_hook_logs_every_scalar(tmp_path, monkeypatch):
    """The optional TensorBoard path, with a recording writer in place of SummaryWriter."""
    import gankit.report.live as live

    calls = []

    class Recorder:
        def add_scalar(self, key, value, step):
            calls.append((key, value, step))

        def add_image(self, key, image, step, dataformats):
            calls.append((key, image.shape, step))

        def close(self):
            calls.append("closed")

    monkeypatch.setattr(live, "tensorboard_writer", lambda run_dir: Recorder())
    cfg = load_config(str(_yaml(tmp_path, IMAGES)), ["train.steps=4", "train.log_every=2", "train.sample_every=4"])
    train(cfg, tmp_path / "run", progress=False)
    scalars = [c for c in calls if isinstance(c, tuple) and not isinstance(c[1], tuple)]
    logged = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [(k, v, r["step"]) for r in logged for k, v in r.items() if k != "step"] == scalars
    assert ("samples", (3 * 16 + 4 * 2, 3 * 16 + 4 * 2, 3), 4) in calls and calls[-1] == "closed"


def test_report_command_rejects_a_folder_that_is_not_a_run(tmp_path):
    assert main(["report", str(tmp_path)]) == 2
