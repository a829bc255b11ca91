"""The one training loop every GAN family runs.

Per generator step: `d_steps` discriminator updates, each on a real batch and a fake batch with G
frozen, then one generator update through a frozen D. The recipe says what each loss is; the loop
owns the optimisers, the budget, logging, sample grids and checkpoints.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from ..config import Config, dump_yaml, from_dict
from ..data import load_dataset
from ..errors import UserError
from ..metrics.during import evaluate_step
from ..recipes import Batch, build_recipe
from ..report import save_loss_plot, save_samples
from .batches import Batches
from .checkpoint import (load_checkpoint, pack_optimizer, pack_state, save_checkpoint, unpack_optimizer,
                         unpack_state)
from .device import resolve_device

CHECKPOINT_VERSION = 1


@dataclass
class Run:
    """What `train` returns: the run directory and the trained recipe (G, D, ...)."""

    dir: Path
    config: Config
    recipe: object
    step: int

    @property
    def last_checkpoint(self) -> Path:
        return self.dir / "checkpoints" / "last.safetensors"


def _set_requires_grad(module: torch.nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


class Trainer:
    def __init__(self, cfg: Config, run_dir: Path, progress: bool | None = None):
        self.cfg, self.dir = cfg, Path(run_dir)
        self.device = resolve_device(cfg.train.device)
        self.progress = sys.stderr.isatty() if progress is None else progress
        torch.manual_seed(cfg.train.seed)  # network initialisation
        self.data = load_dataset(cfg.data)
        if cfg.optim.batch_size > len(self.data):
            raise UserError(f"config key 'optim.batch_size': {cfg.optim.batch_size} exceeds the "
                            f"{len(self.data)} examples in data '{cfg.data.source}'")
        self.x = self.data.x.to(self.device)
        self.labels = None if self.data.labels is None else self.data.labels.to(self.device)
        self.recipe = build_recipe(cfg, self.data)
        for module in self.recipe.modules().values():
            module.to(self.device)
        o = cfg.optim
        fused = self.device.type == "cuda"
        self.opt_g = torch.optim.Adam(self.recipe.G.parameters(), lr=o.lr_g, betas=o.betas_g, foreach=not fused, fused=fused or None)
        self.opt_d = torch.optim.Adam(self.recipe.D.parameters(), lr=o.lr_d, betas=o.betas_d, foreach=not fused, fused=fused or None)
        self.data_gen = torch.Generator().manual_seed(cfg.train.seed)
        self.noise_gen = torch.Generator(self.device).manual_seed(cfg.train.seed + 1)
        self.batches = Batches(len(self.data), o.batch_size, self.data_gen)
        # The grid's latent batch is drawn once from its own stream, so every grid shows the same z.
        grid_gen = torch.Generator(self.device).manual_seed(cfg.train.seed + 2)
        self.fixed_z = self.recipe.sample_z(cfg.train.grid_size, grid_gen)
        self.fixed_labels = self.recipe.sample_labels(cfg.train.grid_size, grid_gen)
        self.step, self.images_seen, self.elapsed = 0, 0, 0.0

    # ---- one step -------------------------------------------------------------------------
    def next_batch(self) -> Batch:
        idx = self.batches.next().to(self.device)
        n = len(idx)
        return Batch(real=self.x[idx], labels=None if self.labels is None else self.labels[idx],
                     z=self.recipe.sample_z(n, self.noise_gen),
                     fake_labels=self.recipe.sample_labels(n, self.noise_gen))

    def d_step(self) -> dict[str, torch.Tensor]:
        batch = self.next_batch()
        loss, stats = self.recipe.d_loss(batch)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        self.recipe.after_d_step()
        self.images_seen += len(batch.real)
        return stats

    def g_step(self) -> dict[str, torch.Tensor]:
        batch = self.next_batch()
        _set_requires_grad(self.recipe.D, False)  # G's step needs no gradient for D's weights
        loss, stats = self.recipe.g_loss(batch)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        _set_requires_grad(self.recipe.D, True)
        return stats

    def train_step(self) -> dict[str, torch.Tensor]:
        stats: dict[str, torch.Tensor] = {}
        for _ in range(self.cfg.optim.d_steps):
            stats.update(self.d_step())
        stats.update(self.g_step())
        self.step += 1
        return stats

    # ---- the loop -------------------------------------------------------------------------
    def fit(self) -> Run:
        t = self.cfg.train
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "config.yaml").write_text(dump_yaml(self.cfg))
        start = time.monotonic() - self.elapsed
        budget_s = t.minutes * 60 if t.minutes else float("inf")
        max_steps = t.steps or None
        sums: dict[str, torch.Tensor] = {}
        window = (time.monotonic(), self.images_seen, 0)
        bar = tqdm(total=max_steps, initial=self.step, disable=not self.progress, unit="step", dynamic_ncols=True)
        try:
            while (max_steps is None or self.step < max_steps) and time.monotonic() - start < budget_s:
                for key, value in self.train_step().items():
                    sums[key] = sums[key] + value if key in sums else value.clone()
                bar.update(1)
                if self.step % t.log_every == 0:
                    record = self._log(sums, self.step - window[2], window, start)
                    bar.set_postfix({k: f"{record[k]:.3g}" for k in ("loss_d", "loss_g") if k in record})
                    sums, window = {}, (time.monotonic(), self.images_seen, self.step)
                if self.step % t.sample_every == 0:
                    self.save_grid()
                if self.step % t.checkpoint_every == 0:
                    self.elapsed = time.monotonic() - start
                    self.save(periodic=True)
                evaluate_step(self)  # every evaluation.every steps: metrics.jsonl and checkpoints/best
        finally:
            bar.close()
        if sums:
            self._log(sums, self.step - window[2], window, start)
        self.elapsed = time.monotonic() - start
        if self.step % t.sample_every:
            self.save_grid()
        self.save(periodic=False)
        save_loss_plot(self.dir / "metrics.jsonl", self.dir / "losses.png")
        return Run(self.dir, self.cfg, self.recipe, self.step)

    def _log(self, sums: dict[str, torch.Tensor], n_steps: int, window: tuple, start: float) -> dict:
        now = time.monotonic()
        record = {"step": self.step, "time": round(now - start, 3), "images_seen": self.images_seen}
        record.update({k: v.item() / n_steps for k, v in sums.items()})  # the one sync per log window
        record["images_per_s"] = round((self.images_seen - window[1]) / max(now - window[0], 1e-9), 2)
        with open(self.dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        return record

    def save_grid(self) -> Path:
        G = self.recipe.G
        was_training = G.training
        G.eval()
        with torch.no_grad():
            samples = self.recipe.generate(self.fixed_z, self.fixed_labels)
        G.train(was_training)
        return save_samples(samples, self.dir / "samples" / f"step_{self.step:06d}.png")

    # ---- checkpoints ----------------------------------------------------------------------
    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors: dict[str, torch.Tensor] = {}
        for name, module in self.recipe.modules().items():
            tensors.update(pack_state(name, module.state_dict()))
        opt_g, groups_g = pack_optimizer("opt_g", self.opt_g)
        opt_d, groups_d = pack_optimizer("opt_d", self.opt_d)
        tensors.update(opt_g)
        tensors.update(opt_d)
        tensors.update({
            "rng.torch": torch.get_rng_state(),
            "rng.data": self.data_gen.get_state(),
            "rng.noise": self.noise_gen.get_state(),
            "batches.perm": self.batches.perm,
            "fixed_z": self.fixed_z,
        })
        if self.fixed_labels is not None:
            tensors["fixed_labels"] = self.fixed_labels
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        meta = {
            "version": CHECKPOINT_VERSION, "config": self.cfg.to_dict(), "step": self.step,
            "images_seen": self.images_seen, "elapsed": self.elapsed, "batches_pos": self.batches.pos,
            "num_classes": self.data.num_classes, "sample_shape": list(self.data.x.shape[1:]),
            "opt_g_groups": groups_g, "opt_d_groups": groups_d,
        }
        return tensors, meta

    def save(self, periodic: bool) -> None:
        tensors, meta = self.state()
        folder = self.dir / "checkpoints"
        if periodic:
            save_checkpoint(folder / f"step_{self.step:06d}.safetensors", tensors, meta)
        save_checkpoint(folder / "last.safetensors", tensors, meta)

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        for name, module in self.recipe.modules().items():
            module.load_state_dict(unpack_state(name, tensors))
        self.opt_g.load_state_dict(unpack_optimizer("opt_g", tensors, meta["opt_g_groups"]))
        self.opt_d.load_state_dict(unpack_optimizer("opt_d", tensors, meta["opt_d_groups"]))
        torch.set_rng_state(tensors["rng.torch"])
        self.data_gen.set_state(tensors["rng.data"])
        self.noise_gen.set_state(tensors["rng.noise"])
        if "rng.cuda" in tensors and self.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        self.batches.perm, self.batches.pos = tensors["batches.perm"], meta["batches_pos"]
        self.fixed_z = tensors["fixed_z"].to(self.device)
        if "fixed_labels" in tensors:
            self.fixed_labels = tensors["fixed_labels"].to(self.device)
        self.step, self.images_seen, self.elapsed = meta["step"], meta["images_seen"], meta["elapsed"]


def _prepare_dir(out: Path) -> None:
    if (out / "checkpoints").exists() or (out / "metrics.jsonl").exists():
        raise UserError(f"run directory '{out}' already holds a run: resume it with --resume, or pick another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"run directory '{out}' cannot be written ({exc.strerror})") from None


def default_run_dir(cfg: Config) -> Path:
    return Path("runs") / f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def train(cfg: Config, out: str | Path | None = None, progress: bool | None = None) -> Run:
    """Train `cfg` into the run directory `out` (default runs/NAME-TIMESTAMP); returns the finished Run."""
    out = Path(out) if out else default_run_dir(cfg)
    _prepare_dir(out)
    return Trainer(cfg, out, progress).fit()


def resume(run_dir: str | Path, progress: bool | None = None, steps: int | None = None,
           minutes: float | None = None) -> Run:
    """Continue a run from its last checkpoint; `steps`/`minutes` raise its budget."""
    run_dir = Path(run_dir)
    ckpt = run_dir / "checkpoints" / "last.safetensors"
    if not ckpt.exists():
        raise UserError(f"cannot resume '{run_dir}': no checkpoint at {ckpt}")
    tensors, meta = load_checkpoint(ckpt)
    cfg = from_dict(meta["config"], source=str(ckpt))
    if steps is not None:
        cfg.train.steps = steps
    if minutes is not None:
        cfg.train.minutes = minutes
    trainer = Trainer(cfg, run_dir, progress)
    trainer.load_state(tensors, meta)
    return trainer.fit()
