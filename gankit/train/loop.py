"""The one training loop every GAN family runs.

Per generator step: `d_steps` discriminator updates, each on a real batch and a fake batch with G
frozen, then one generator update through a frozen D. The recipe owns both phases (what each loss
is, its forward and backward passes); the loop walks the phases and owns the optimisers, the
budget, logging, sample grids, evaluation and checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..accel import use_cpu_kernels
from ..config import Config, dump_yaml
from ..configure import from_dict, refuse_unread, unread_keys
from ..data import describe, load_dataset
from ..errors import Diverged, UserError
from ..io import atomic_write_bytes
from ..memory import keep_freed_memory, require_memory
from ..recipes import Batch, build_recipe
from ..report import save_loss_plot, save_samples
from ..report.live import LiveReport
from . import distributed
from .batches import Batches
from .checkpoint import (checkpoint_candidates, load_latest, load_optimizer, pack_optimizer, pack_state,
                         save_checkpoint, unpack_state)
from .device import autocast_dtype, resolve_device
from .evaluation import Evaluator
from .feed import Feeder
from .probe import HeldOutProbe


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


class Trainer:
    def __init__(self, cfg: Config, run_dir: Path, progress: bool | None = None):
        self.cfg, self.dir = cfg, Path(run_dir)
        self.dist, self.device = distributed.setup(resolve_device(cfg.train.device), cfg.optim.batch_size)
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.amp_dtype = autocast_dtype(cfg.train.precision, self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # shapes are fixed: let cuDNN time its algorithms once
        torch.manual_seed(cfg.train.seed)  # network initialisation
        self.data = load_dataset(cfg.data, progress=self.progress and self.dist.is_main)
        if cfg.optim.batch_size > len(self.data):
            hint = "" if cfg.data.xflip or not self.data.is_images else ", or data.xflip=true to double the set"
            raise UserError(f"config key 'optim.batch_size': {cfg.optim.batch_size} exceeds the "
                            f"{len(self.data)} examples in data '{cfg.data.source}' "
                            f"(set optim.batch_size={len(self.data)} or lower{hint})")
        if self.data.is_images:  # the set stays as stored; a float batch at the training size must fit
            c, r = self.data.channels, self.data.resolution
            require_memory(4 * cfg.optim.batch_size * c * r * r,
                           f"config key 'data.resolution': a batch of {cfg.optim.batch_size} images of data "
                           f"'{cfg.data.source}' at {r}x{r} with {c} channel{'s' if c > 1 else ''}")
        layout = torch.channels_last if cfg.train.channels_last and self.data.is_images else torch.contiguous_format
        self.recipe = build_recipe(cfg, self.data, self.autocast)
        # What a real batch carries beside its images: class labels, or a recipe's own (caption words)
        real_labels = getattr(self.recipe, "real_labels", None)
        labels = real_labels(self.data) if real_labels else self.data.labels
        self.feed = Feeder(self.data, self.device, layout, cfg.data.on_gpu, labels=labels)
        modules = list(self.recipe.modules().values())
        for module in modules:
            module.to(self.device, memory_format=layout)
        if self.device.type == "cpu" and cfg.train.keep_freed_memory:
            keep_freed_memory()
        # gankit's CPU kernels; torch.compile picks its own (and cannot lower oneDNN's matmul op)
        own_cpu_kernels = self.device.type == "cpu" and not cfg.train.compile
        use_cpu_kernels(modules, linear=cfg.train.onednn_linear and own_cpu_kernels,
                        thin_conv=cfg.train.thin_conv_products and own_cpu_kernels)
        if cfg.train.compile:
            for module in modules:
                module.compile()  # in place: state_dict keys stay those of the plain module
        if self.dist.enabled:  # DDP around G and D; state is saved unwrapped, so N ranks resume on M
            self.recipe.G = distributed.wrap(self.recipe.G, self.dist, self.device, cfg.dist.sync_bn)
            self.recipe.D = distributed.wrap(self.recipe.D, self.dist, self.device, cfg.dist.sync_bn)
        o = cfg.optim
        if o.name == "rmsprop":  # WGAN with clipping (Arjovsky et al. 2017): no momentum
            self.opt_g = torch.optim.RMSprop(self.recipe.g_parameters(), lr=o.lr_g)
            self.opt_d = torch.optim.RMSprop(self.recipe.D.parameters(), lr=o.lr_d)
        else:  # fused Adam: one kernel for all parameters, on CPU as on CUDA
            self.opt_g = torch.optim.Adam(self.recipe.g_parameters(), lr=o.lr_g, betas=o.betas_g, fused=True)
            self.opt_d = torch.optim.Adam(self.recipe.D.parameters(), lr=o.lr_d, betas=o.betas_d, fused=True)
        self.data_gen = torch.Generator().manual_seed(cfg.train.seed)
        self.noise_gen = torch.Generator(self.device).manual_seed(cfg.train.seed + 1)
        self.batches = Batches(len(self.data), o.batch_size, self.data_gen)
        # The grid's latent batch is drawn once from its own stream, so every grid shows the same z.
        grid_gen = torch.Generator(self.device).manual_seed(cfg.train.seed + 2)
        self.fixed_z = self.recipe.sample_z(cfg.train.grid_size, grid_gen)
        self.fixed_labels = self.recipe.sample_labels(cfg.train.grid_size, grid_gen)
        self.step, self.images_seen, self.elapsed = 0, 0, 0.0
        # The open log window (loss sums since the last record) is checkpointed too, so a resumed
        # run writes the very records an uninterrupted one would.
        self.sums: dict[str, torch.Tensor] = {}
        self.window_step = 0
        self.saved_step = -1
        # Divergence watch, kept on the device so it costs no sync: the first step whose loss was
        # non-finite (-1: none yet) and the losses at that step.
        self.bad_step = torch.full((), -1, dtype=torch.long, device=self.device)
        self.bad_losses: dict[str, torch.Tensor] = {}
        self.evaluator: Evaluator | None = None  # built at the first evaluation (evaluation.every)
        # D's real-vs-held-out gap at each log step (gankit doctor), where data.held_out keeps images
        # out of training and D scores images alone; a semi-supervised run keeps them as its test set.
        probed = self.data.held_out is not None and getattr(self.recipe, "d_scores_images", False)
        self.probe = HeldOutProbe(self.recipe, self.data, self.feed, cfg.train.seed + 3) if probed else None
        if self.dist.is_main:  # once every set-up check has passed: an error stays the one line
            print(f"gankit: {describe(self.data, cfg.data)}", file=sys.stderr)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimiser whose state a checkpoint holds."""
        return {"opt_g": self.opt_g, "opt_d": self.opt_d}

    # ---- one step -------------------------------------------------------------------------
    def autocast(self):
        """Mixed precision for the forward passes (backward follows the forward's dtypes)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def next_batch(self) -> Batch:
        """This rank's shard of the next global batch (every rank draws the whole batch's indices
        and latents from the same streams, so the streams stay in step whatever the world size)."""
        idx = self.batches.next()
        n, shard = len(idx), self.dist.shard
        upcoming = shard(self.batches.peek()) if self.feed.streaming else None
        real, labels = self.feed.real(shard(idx), upcoming)
        return Batch(real=real, labels=labels,
                     z=shard(self.recipe.sample_z(n, self.noise_gen)),
                     fake_labels=shard(self.recipe.training_labels(n, self.noise_gen)))

    def d_step(self, batch: Batch | None = None, fake: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One D update on a real batch and fakes (drawn by the recipe, with G frozen, unless given)."""
        batch = batch if batch is not None else self.next_batch()
        self.opt_d.zero_grad(set_to_none=True)
        stats = self.recipe.d_backward(batch, fake)
        self.opt_d.step()
        self.recipe.after_d_step()
        self.images_seen += len(batch.real) * self.dist.world
        return stats

    def g_step(self, batch: Batch | None = None, fake: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """One G update through a frozen D, on fresh latents unless the D step's fakes are given."""
        batch = batch if batch is not None else self.next_batch()
        self.opt_g.zero_grad(set_to_none=True)
        stats = self.recipe.g_backward(batch, fake)
        self.opt_g.step()
        self.recipe.after_g_step()
        return stats

    def train_step(self) -> dict[str, torch.Tensor]:
        """`d_steps` D updates, then one G update. With train.reuse_fake the last D step's fakes,
        drawn once with G's graph kept (D sees them detached), are the ones G's step pushes through
        the updated D: one G forward per iteration. Otherwise G's step draws a batch of its own."""
        reuse = self.cfg.train.reuse_fake and self.recipe.reuses_fake
        stats: dict[str, torch.Tensor] = {}
        d_steps = self.cfg.optim.d_steps
        for i in range(d_steps):
            batch = self.next_batch()
            fake = self.recipe.fakes_for_g(batch) if reuse and i == d_steps - 1 else None
            stats.update(self.d_step(batch, fake))
        if not reuse:
            batch, fake = self.next_batch(), None
        stats.update(self.g_step(batch, fake))
        self.step += 1
        self._watch(stats)
        return stats

    def _watch(self, stats: dict[str, torch.Tensor]) -> None:
        """Record, on the device, the first step whose losses are not all finite (no sync)."""
        losses = {k: v for k, v in stats.items() if k.startswith("loss")}
        bad = ~torch.isfinite(torch.stack(list(losses.values()))).all()
        first = bad & (self.bad_step < 0)
        self.bad_step = torch.where(first, self.step, self.bad_step)
        for k, v in losses.items():
            self.bad_losses[k] = torch.where(first, v, self.bad_losses.get(k, v))

    def check_finite(self, weights: bool = False) -> None:
        """Stop on a non-finite loss (or, with `weights`, a non-finite weight) before anything more
        is written: the last checkpoint stays the last good one. One sync; ranks agree."""
        bad_step = int(self.bad_step.item())
        if self.dist.any(bad_step >= 0, self.device):
            losses = ", ".join(f"{k}={v.item():.4g}" for k, v in self.bad_losses.items())
            self._diverged(bad_step, f"non-finite loss at step {bad_step} ({losses})",
                           "lower optim.lr_d / optim.lr_g and resume or restart")
        if weights:
            for name, module in self.recipe.modules().items():
                params = list(module.parameters())
                finite = bool(torch.stack([torch.isfinite(p).all() for p in params]).all()) if params else True
                if self.dist.any(not finite, self.device):
                    self._diverged(self.step, f"non-finite weights in {name} at step {self.step}")

    def _diverged(self, step: int, what: str, advice: str = "") -> None:
        """Raise Diverged, after writing what happened into metrics.jsonl (the doctor reads it there)."""
        if self.dist.is_main and self.dir.is_dir():  # a run that never started writes nothing
            self.append_record({"step": step, "diverged": what})
        raise Diverged(f"training diverged: {what}; {self._last_good()}" + (f"; {advice}" if advice else ""))

    def _last_good(self) -> str:
        last = self.dir / "checkpoints" / "last.safetensors"
        return f"the last good checkpoint '{last}' is intact" if last.exists() else "no checkpoint was written"

    # ---- the loop -------------------------------------------------------------------------
    def pretrain(self) -> None:
        """A recipe's stage before its GAN (text2img: the text encoder's joint embedding), run on every
        rank alike from the run's seed; what it reports goes into metrics.jsonl as step 0's record."""
        pretrain = getattr(self.recipe, "pretrain", None)
        if pretrain is None:
            return
        began = time.monotonic()
        report = pretrain(self.data, self.device, self.cfg.train.seed + 4)
        if report and self.dist.is_main:
            report["seconds"] = round(time.monotonic() - began, 2)
            self.append_record({"step": 0, "pretrain": report})
            figures = ", ".join(f"{k} {v}" for k, v in report.items() if k != "what")
            print(f"gankit: pre-trained the {report['what']}: {figures}", file=sys.stderr)

    def fit(self) -> Run:
        t = self.cfg.train
        main = self.dist.is_main  # only rank 0 writes
        self.live = None
        if main:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / "config.yaml").write_text(dump_yaml(self.cfg))
        if self.step == 0:  # a fresh run; a resumed one has the stage's result in its checkpoint
            self.pretrain()
        if main:
            # report.html, toy snapshots, TensorBoard
            self.live = LiveReport(self.dir, self.cfg.data.source, unread_keys(self.cfg))
            self.live.on_start(self.step, self.recipe, self.device)
        start = time.monotonic() - self.elapsed
        budget_s = t.minutes * 60 if t.minutes else float("inf")
        max_steps = t.steps or None
        sums = self.sums
        window = (time.monotonic(), self.images_seen, self.window_step)
        # On the CPU a check each step is free; on CUDA it would sync every step, so it waits for
        # the log step's sync (the watch still names the exact step) and always precedes a save.
        check_every = 1 if self.device.type == "cpu" else t.log_every
        bar = tqdm(total=max_steps, initial=self.step, disable=not (self.progress and main), unit="step", dynamic_ncols=True)
        try:
            while (progress := self._progress(start, budget_s, max_steps)) < 1.0:
                self._set_learning_rates(progress)
                for key, value in self.train_step().items():
                    sums[key] = sums[key] + value if key in sums else value.clone()
                bar.update(1)
                if self.step % check_every == 0 or self.step % t.checkpoint_every == 0:
                    self.check_finite()
                if self.step % t.log_every == 0:
                    record = self._log(sums, self.step - window[2], window, start)
                    bar.set_postfix({k: f"{record[k]:.3g}" for k in ("loss_d", "loss_g") if k in record})
                    sums, window = {}, (time.monotonic(), self.images_seen, self.step)
                    self.sums, self.window_step = sums, self.step
                if self.step % t.sample_every == 0 and main:
                    self.save_grid()
                if self.step % t.checkpoint_every == 0:
                    self.elapsed = time.monotonic() - start
                    self.save(periodic=True)
                if main and self.cfg.evaluation.every and self.step % self.cfg.evaluation.every == 0:
                    self.evaluate()
        finally:
            bar.close()
        self.check_finite()
        if sums:
            self._log(sums, self.step - window[2], window, start)
            self.sums, self.window_step = {}, self.step
        self.elapsed = time.monotonic() - start
        if self.step % t.sample_every and main:
            self.save_grid()
        self.save(periodic=False)
        if main:
            save_loss_plot(self.dir / "metrics.jsonl", self.dir / "losses.png")
            self.live.on_end()
        return Run(self.dir, self.cfg, self.recipe, self.step)

    def _progress(self, start: float, budget_s: float, max_steps: int | None) -> float:
        """The share of the budget spent (1 = stop): steps, or the clock, whichever is further.
        Ranks agree: the clock is their mean."""
        done = self.step / max_steps if max_steps else 0.0
        if budget_s != float("inf"):
            elapsed = time.monotonic() - start
            if self.dist.enabled:
                elapsed = self.dist.mean(torch.tensor([elapsed], dtype=torch.float64, device=self.device)).item()
            done = max(done, elapsed / budget_s)
        return done

    def _set_learning_rates(self, progress: float) -> None:
        """optim.lr_decay: constant rates, then a linear fall to 0 over the budget's last share."""
        o = self.cfg.optim
        if not o.lr_decay:
            return
        factor = min(1.0, (1.0 - progress) / o.lr_decay)
        for opt, lr in ((self.opt_g, o.lr_g), (self.opt_d, o.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * factor

    def _log(self, sums: dict[str, torch.Tensor], n_steps: int, window: tuple, start: float) -> dict:
        now = time.monotonic()
        record = {"step": self.step, "time": round(now - start, 3), "images_seen": self.images_seen}
        record.update({k: self.dist.mean(v).item() / n_steps for k, v in sums.items()})  # the one sync per log window
        record["images_per_s"] = round((self.images_seen - window[1]) / max(now - window[0], 1e-9), 2)
        if self.probe is not None:  # every rank measures: a synchronised batch norm in D needs them all
            record.update(self.probe.measure(distributed.unwrap(self.recipe.G), distributed.unwrap(self.recipe.D)))
        if not self.dist.is_main:
            return record
        self.append_record(record)
        self.live.on_log(record)
        return record

    def append_record(self, record: dict) -> None:
        with open(self.dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    def save_grid(self) -> Path:
        self.recipe.refresh_ema_statistics()
        G = self.recipe.sampler  # the EMA generator when there is one
        was_training = G.training
        G.eval()
        with torch.no_grad():
            samples = self.recipe.sample(self.fixed_z, self.fixed_labels)
        G.train(was_training)
        path = save_samples(samples, self.dir / "samples" / f"step_{self.step:06d}.png")
        self.live.on_sample(self.step, self.recipe, self.device, path)
        return path

    def evaluate(self) -> dict:
        """Metrics of the sampler now, appended to metrics.jsonl; checkpoints/best when they improved."""
        best_file = self.dir / "checkpoints" / "best.safetensors"
        if self.evaluator is None:
            self.evaluator = Evaluator(self.cfg.evaluation, self.recipe, self.data, self.device, best_file)
        record = self.evaluator.evaluate(self.step)
        if record.get("best", {}).get("improved"):
            tensors, meta = self.state()
            meta["best"] = {"metric": record["best"]["metric"], "value": record["best"]["value"], "step": self.step}
            save_checkpoint(best_file, tensors, meta)
        self.append_record(record)
        return record

    # ---- checkpoints ----------------------------------------------------------------------
    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        self.recipe.refresh_ema_statistics()  # the checkpoint's EMA generator samples as it should
        tensors: dict[str, torch.Tensor] = {}
        for name, module in self.recipe.modules().items():
            tensors.update(pack_state(name, distributed.unwrap(module).state_dict()))
        groups = {}
        for name, opt in self.optimizers().items():
            packed, groups[name] = pack_optimizer(name, opt)
            tensors.update(packed)
        extra = getattr(self.recipe, "extra_state", None)  # a recipe's own tensors (schedules, buffers)
        if extra is not None:
            tensors.update(pack_state("recipe", extra()))
        tensors.update(pack_state("log.sum", self.sums))
        py_version, py_state, py_gauss = random.getstate()
        np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
        tensors.update({
            "rng.python": torch.tensor(py_state, dtype=torch.int64),
            "rng.numpy": torch.from_numpy(np_keys.astype(np.int64)),
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
            "config": self.cfg.to_dict(), "step": self.step,
            "images_seen": self.images_seen, "elapsed": self.elapsed, "batches_pos": self.batches.pos,
            "num_classes": self.data.num_classes, "sample_shape": list(self.data.sample_shape),
            **{f"{name}_groups": g for name, g in groups.items()},
            "rng_python": [py_version, py_gauss], "rng_numpy": [np_name, np_pos, np_has_gauss, np_gauss],
            "log_window_step": self.window_step,
        }
        if self.data.captions is not None:  # a text model's vocabulary and caption pool are rebuilt from them
            meta["captions"] = self.data.captions
        return tensors, meta

    def save(self, periodic: bool) -> None:
        self.check_finite(weights=True)  # never overwrite a good checkpoint with a diverged state
        if not self.dist.is_main:
            return
        tensors, meta = self.state()
        folder = self.dir / "checkpoints"
        if periodic:
            save_checkpoint(folder / f"step_{self.step:06d}.safetensors", tensors, meta)
        # prev.safetensors keeps the previous good state (not a second copy of this step's).
        save_checkpoint(folder / "last.safetensors", tensors, meta, keep_previous=self.saved_step != self.step)
        self.saved_step = self.step

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        for name, module in self.recipe.modules().items():
            distributed.unwrap(module).load_state_dict(unpack_state(name, tensors))
        for name, opt in self.optimizers().items():
            load_optimizer(opt, name, tensors, meta[f"{name}_groups"])
        load_extra = getattr(self.recipe, "load_extra_state", None)
        if load_extra is not None:
            load_extra(unpack_state("recipe", tensors))
        self.sums = {k: v.to(self.device) for k, v in unpack_state("log.sum", tensors).items()}
        self.window_step = meta.get("log_window_step", meta["step"])
        if "rng.python" in tensors:
            version, gauss = meta["rng_python"]
            random.setstate((version, tuple(tensors["rng.python"].tolist()), gauss))
            name, pos, has_gauss, cached = meta["rng_numpy"]
            np.random.set_state((name, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))
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
        self.recipe.d_updates = self.step * self.cfg.optim.d_steps


def _check_run_dir(out: Path) -> None:
    """Refuse a directory that holds a run or cannot be written, before anything is created."""
    if (out / "checkpoints").exists() or (out / "metrics.jsonl").exists():
        raise UserError(f"run directory '{out}' already holds a run: resume it with --resume, or pick another --out")
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"run directory '{out}' cannot be written ('{existing}' is not a writable folder)")
    # Permissions do not tell everything (root passes every access check, and /proc or a read-only
    # mount refuse new folders anyway): create the missing folders, then remove them again. They are
    # made inside a private probe folder, because under torchrun every rank checks the same --out at
    # once, and one rank's probe of the real names made the other's mkdir fail with "File exists".
    missing = [p for p in (out.absolute(), *out.absolute().parents) if not p.exists()][::-1]
    if not missing:
        return
    try:
        probe = Path(tempfile.mkdtemp(prefix=".gankit-probe-", dir=existing))
    except OSError as exc:
        raise UserError(f"run directory '{out}' cannot be created: making '{missing[0]}' failed ({exc.strerror})") from None
    try:
        inside = probe
        for folder in missing:
            inside = inside / folder.name
            inside.mkdir()
    except OSError as exc:
        raise UserError(f"run directory '{out}' cannot be created: making '{folder}' failed ({exc.strerror})") from None
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def default_run_dir(cfg: Config) -> Path:
    return Path("runs") / f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"


def train(cfg: Config, out: str | Path | None = None, progress: bool | None = None) -> Run:
    """Train `cfg` into the run directory `out` (default runs/NAME-TIMESTAMP); returns the finished Run."""
    refuse_unread(cfg)
    out = Path(out) if out else default_run_dir(cfg)
    _check_run_dir(out)
    return fit_guarded(Trainer(cfg, out, progress))  # the folder is created only once set-up has succeeded


def resume(run_dir: str | Path, progress: bool | None = None, steps: int | None = None,
           minutes: float | None = None) -> Run:
    """Continue a run from its last checkpoint; `steps`/`minutes` raise its budget."""
    run_dir = Path(run_dir)
    if not (run_dir / "checkpoints").is_dir():
        raise UserError(f"cannot resume '{run_dir}': no checkpoint at {run_dir / 'checkpoints'}")
    ckpt, tensors, meta = load_latest(run_dir / "checkpoints")
    cfg = from_dict(meta["config"], source=str(ckpt))
    if steps is not None:
        cfg.train.steps = steps
    if minutes is not None:
        cfg.train.minutes = minutes
    trainer = Trainer(cfg, run_dir, progress)
    trainer.load_state(tensors, meta)
    if trainer.dist.is_main:
        trim_metrics(run_dir / "metrics.jsonl", meta["step"])
    return fit_guarded(trainer)


def fit_guarded(trainer: Trainer) -> Run:
    """fit(); on divergence, with guard.rollbacks left, go back to the last good checkpoint and go on
    with every learning rate times guard.lr_factor. Never without a checkpoint: a NaN before the
    first one would otherwise restart the same run forever."""
    left = trainer.cfg.guard.rollbacks
    while True:
        try:
            return trainer.fit()
        except Diverged as exc:
            folder = trainer.dir / "checkpoints"
            if left == 0 or not checkpoint_candidates(folder):
                raise
            left -= 1
            ckpt, tensors, meta = load_latest(folder)
            cfg, factor = trainer.cfg, trainer.cfg.guard.lr_factor
            cfg.optim.lr_g *= factor
            cfg.optim.lr_d *= factor
            trainer = Trainer(cfg, trainer.dir, trainer.progress)
            trainer.load_state(tensors, meta)
            for opt in trainer.optimizers().values():
                for group in opt.param_groups:
                    group["lr"] *= factor
            if trainer.dist.is_main:
                trim_metrics(trainer.dir / "metrics.jsonl", meta["step"])
                trainer.append_record({"step": meta["step"], "rolled_back": f"{exc}; learning rates x{factor}"})
                print(f"gankit: warning: {exc}; rolled back to '{ckpt}' (step {meta['step']}) with learning "
                      f"rates x{factor} (lr_g={cfg.optim.lr_g:.3g}, lr_d={cfg.optim.lr_d:.3g})", file=sys.stderr)


def trim_metrics(path: Path, step: int) -> None:
    """Drop the records a killed run logged after its checkpoint: the resumed run logs them again."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by the kill
            continue
        if record.get("step", 0) <= step:
            kept.append(line + "\n")
    atomic_write_bytes(path, "".join(kept).encode())
