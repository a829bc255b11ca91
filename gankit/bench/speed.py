"""`gankit bench speed`: gankit's training loop against a minimal plain-PyTorch loop on the same nets.

Both loops run in one process, interleaved repeat by repeat after a warm-up, so that the machine's
state (clock, caches, other load) affects both alike. Reported per preset: images/s of each loop
(real images through D per second; medians over the repeats), their ratio (the median of each repeat's
paired ratio, with the smallest and largest beside it), GFLOP per iteration of gankit's step counted by
PyTorch's flop counter (forward and backward of every op), the rate that makes, its fraction of two
measured peaks, and peak memory. The peaks: torch.mm on 2048^2 matrices (the matmul peak) and the better
of that and a channels-last convolution (oneDNN). Both are printed because where MKL's sgemm takes a
narrower vector path than oneDNN's convolution, a convolutional step can read near or above 100% of
the matmul peak while using half the machine.
"""

from __future__ import annotations

import copy
import math
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from ..accel import use_cpu_kernels
from ..config import Config, preset_names
from ..configure import load_config
from ..data import load_dataset
from ..errors import UserError
from ..metrics.evaluate import evaluate_samples
from ..model import load
from ..nets import DCGANDiscriminator, DCGANGenerator, dcgan_init
from ..objectives import LOSSES, gradient_penalty, path_length_penalty, r1_penalty, r1_weight
from ..train.device import resolve_device
from ..train.loop import Trainer, train
from .docs import write_section
from .kernels import format_kernels, kernel_rows


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_seconds(op, device: torch.device, reps: int) -> float:
    best = float("inf")
    for _ in range(reps + 2):
        _sync(device)
        t0 = time.perf_counter()
        op()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def measured_peak_gflops(device: torch.device, reps: int = 10) -> dict[str, float]:
    """The best float32 rate of two dense products: a 2048^2 matrix multiply and a 4x4 stride-2
    convolution of 128 x 128 channels at 28x28 in channels-last layout (a DCGAN layer, scaled up)."""
    n = 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    mm = 2 * n**3 / _best_seconds(lambda: torch.mm(a, b), device, reps) / 1e9
    x = torch.randn(128, 128, 28, 28, device=device).contiguous(memory_format=torch.channels_last)
    w = torch.randn(128, 128, 4, 4, device=device).contiguous(memory_format=torch.channels_last)
    flop = 2 * 128 * 14 * 14 * 128 * 128 * 16  # (batch x output pixels) x (out x in x kernel) MACs
    conv = flop / _best_seconds(lambda: F.conv2d(x, w, stride=2, padding=1), device, reps) / 1e9
    return {"matmul": mm, "conv": conv, "peak": max(mm, conv)}


class ReferenceLoop:
    """The textbook loop (pytorch/examples dcgan/main.py): Adam with default settings; D's loss
    backpropagated pass by pass, real then fake; one fake batch per iteration, reused for G's step;
    D's weight gradients computed and discarded in G's step. It optimises the preset's objective
    (BCE on logits for the classic GAN) and adds the preset's penalties (R1 with the real pass, WGAN-GP
    with the fake one) through the same functions as gankit's recipe, so that both loops do the same
    algorithm."""

    def __init__(self, cfg: Config, G: nn.Module, D: nn.Module, x: torch.Tensor, labels: torch.Tensor | None = None,
                 num_classes: int = 0):
        self.G, self.D, self.x, self.cfg = G, D, x, cfg
        self.labels, self.num_classes = labels, num_classes  # conditional nets take labels too
        o = cfg.optim
        self.opt_g = torch.optim.Adam(G.parameters(), lr=o.lr_g, betas=o.betas_g)
        self.opt_d = torch.optim.Adam(D.parameters(), lr=o.lr_d, betas=o.betas_d)
        self.loss = LOSSES[cfg.loss]
        self.d_updates = 0  # for a preset's lazy R1 (penalty.r1_every)

    def r1(self, real: torch.Tensor, *y) -> torch.Tensor | float:
        p = self.cfg.penalty
        r1_w = r1_weight(p.r1_gamma, p.r1_every, self.d_updates)
        return r1_w * r1_penalty(lambda x: self.D(x, *y), real, self.cfg.remedies.pack) if r1_w else 0.0

    def gp(self, real: torch.Tensor, fake: torch.Tensor, *y) -> torch.Tensor | float:
        if not self.cfg.penalty.gp_weight:
            return 0.0
        eps = torch.rand(real.shape[0], device=real.device)  # one mixing weight per sample
        # interpolates carry the real batch's labels
        gp = gradient_penalty(lambda x: self.D(x, *y), real, fake, eps, self.cfg.remedies.pack)
        return self.cfg.penalty.gp_weight * gp

    def train_step(self) -> None:
        n, dev = self.cfg.optim.batch_size, self.x.device
        cond = self.num_classes > 0
        for _ in range(self.cfg.optim.d_steps):
            idx = torch.randint(len(self.x), (n,), device=dev)
            real, y_real = self.x[idx], ((self.labels[idx],) if cond else ())
            self.opt_d.zero_grad()
            (self.loss.d_real(self.D(real, *y_real)) + self.r1(real, *y_real)).backward()
            z = torch.randn(n, self.cfg.model.z_dim, device=dev)
            y_fake = (torch.randint(self.num_classes, (n,), device=dev),) if cond else ()
            fake = self.G(z, *y_fake)
            (self.loss.d_fake(self.D(fake.detach(), *y_fake)) + self.gp(real, fake, *y_real)).backward()
            self.opt_d.step()
            self.d_updates += 1
        self.opt_g.zero_grad()
        self.loss.g(self.D(fake, *y_fake)).backward()
        self.opt_g.step()


class StyleGAN2ReferenceLoop(ReferenceLoop):
    """The same algorithm as the stylegan2 recipe, written as a plain loop (the outline of
    StyleGAN2-ADA's training loop): D on reals with lazy R1, on style-mixed fakes with random noise;
    G through D (D's weight gradients computed and discarded), lazy path length on half a batch, and
    G's EMA with its ramp-up, parameter by parameter."""

    def __init__(self, cfg: Config, G: nn.Module, D: nn.Module, x: torch.Tensor):
        super().__init__(cfg, G, D, x)
        self.G_ema = copy.deepcopy(G).requires_grad_(False)
        self.pl_mean = torch.zeros((), device=x.device)
        self.g_updates = 0

    def mixed_ws(self, z: torch.Tensor) -> torch.Tensor:
        ws = self.G.mapping(z, update_w_avg=True)
        if torch.rand(()) < self.cfg.stylegan2.style_mixing:
            cutoff = int(torch.randint(1, ws.shape[1], ()))
            ws = torch.cat([ws[:, :cutoff], self.G.mapping(torch.randn_like(z))[:, cutoff:]], 1)
        return ws

    def train_step(self) -> None:
        n, dev, s = self.cfg.optim.batch_size, self.x.device, self.cfg.stylegan2
        for _ in range(self.cfg.optim.d_steps):
            real = self.x[torch.randint(len(self.x), (n,), device=dev)]
            self.opt_d.zero_grad()
            (self.loss.d_real(self.D(real)) + self.r1(real)).backward()
            fake = self.G.synthesis(self.mixed_ws(torch.randn(n, self.cfg.model.z_dim, device=dev)))
            self.loss.d_fake(self.D(fake.detach())).backward()
            self.opt_d.step()
            self.d_updates += 1
        self.opt_g.zero_grad()
        self.loss.g(self.D(fake)).backward()
        if s.pl_weight > 0 and self.g_updates % s.pl_every == 0:
            ws = self.mixed_ws(torch.randn(max(1, n // s.pl_batch_shrink), self.cfg.model.z_dim, device=dev))
            pl, self.pl_mean = path_length_penalty(self.G.synthesis(ws), ws, self.pl_mean, s.pl_decay)
            (pl * s.pl_weight * s.pl_every).backward()
        self.opt_g.step()
        self.g_updates += 1
        half_life = min(s.ema_kimg * 1000, self.d_updates * n * s.ema_rampup) if s.ema_rampup > 0 else s.ema_kimg * 1000
        beta = 0.5 ** (n / max(half_life, 1e-8))
        with torch.no_grad():
            for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
                p_ema.copy_(p.lerp(p_ema, beta))
            for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
                b_ema.copy_(b)


# The presets' recipes the reference loop can time, and its loop for each.
REFERENCE_LOOPS = {"gan": ReferenceLoop, "stylegan2": StyleGAN2ReferenceLoop}


@dataclass
class SpeedRow:
    preset: str
    gankit_ips: float  # median over repeats
    reference_ips: float
    ratios: list[float]  # per repeat: the reference's time over gankit's, the two timed back to back
    gflop_per_iter: float
    gflops: float  # the rate gankit's step runs at, GFLOP/s
    peak_mem_mib: float

    @property
    def ratio(self) -> float:
        """The median of the paired per-repeat ratios: a drift of the machine's speed between repeats,
        which moves both loops of a pair alike, cancels in it (it does not in a ratio of medians)."""
        return statistics.median(self.ratios)


class _FlopCount(TorchDispatchMode):
    """Sums PyTorch's own flop formulas (torch.utils.flop_counter) over every op that runs.
    FlopCounterMode itself tracks modules with backward hooks that autograd.grad refuses inside a
    double backward (WGAN-GP, R1), so the formulas are applied here without the tracking."""

    def __init__(self):
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.flops += formula(*args, **kwargs, out_val=out)
        return out


def count_gflop(step, device: torch.device) -> float:
    with _FlopCount() as counter:
        step()
    _sync(device)
    return counter.flops / 1e9


def _peak_mem_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS (Linux: KiB)


def schedule_cycle(cfg: Config) -> int:
    """Training iterations after which the step's work repeats: a lazy R1 penalty (penalty.r1_every
    D updates) and StyleGAN2's lazy path length (stylegan2.pl_every G updates, one per iteration)
    make some iterations dearer, so FLOPs are averaged and time is taken over whole cycles."""
    p, cycle = cfg.penalty, 1
    if p.r1_gamma:
        cycle = p.r1_every // math.gcd(p.r1_every, cfg.optim.d_steps)
    if cfg.recipe == "stylegan2" and cfg.stylegan2.pl_weight:
        cycle = math.lcm(cycle, cfg.stylegan2.pl_every)
    return cycle


def _plain_copy(net: nn.Module) -> nn.Module:
    """The reference's copy of a net: plain PyTorch, so default layout, the BLAS's linear layers and
    oneDNN's convolutions."""
    net = copy.deepcopy(net).to(memory_format=torch.contiguous_format)
    use_cpu_kernels([net], linear=False, thin_conv=False)
    return net


def bench_preset(name: str, device: torch.device, iters: int, repeats: int, overrides: list[str] = ()) -> SpeedRow:
    cfg = load_config(name, [f"train.device={device.type}", *overrides])
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp), progress=False)
        G, D = trainer.recipe.G, trainer.recipe.D
        x = trainer.data.floats().to(trainer.device)
        if cfg.recipe == "stylegan2":
            reference = StyleGAN2ReferenceLoop(cfg, _plain_copy(G), _plain_copy(D), x)
        else:
            reference = ReferenceLoop(cfg, _plain_copy(G), _plain_copy(D), x, trainer.feed.labels,
                                      trainer.recipe.num_classes if trainer.recipe.conditional else 0)
        # The work gankit's own step does (it skips D's weight gradients in G's step, so it does
        # less than the reference); a compiled step hides its ops, so then the reference is counted.
        cycle = schedule_cycle(cfg)
        counted = reference.train_step if cfg.train.compile else trainer.train_step

        def one_cycle() -> None:
            for _ in range(cycle):
                counted()

        gflop = count_gflop(one_cycle, device) / cycle
        iters = -(-iters // cycle) * cycle  # whole cycles, so both loops time the same share of R1 steps
        loops = {"gankit": trainer.train_step, "reference": reference.train_step}
        for step in loops.values():  # warm-up: allocator, autotuning, compilation
            for _ in range(max(3, iters // 4)):
                step()
        times: dict[str, list[float]] = {k: [] for k in loops}
        for r in range(repeats):
            order = list(loops) if r % 2 == 0 else list(loops)[::-1]  # neither loop always runs second
            for key in order:
                _sync(device)
                t0 = time.perf_counter()
                for _ in range(iters):
                    loops[key]()
                _sync(device)
                times[key].append((time.perf_counter() - t0) / iters)
    images = cfg.optim.batch_size * cfg.optim.d_steps
    per_iter = {k: statistics.median(v) for k, v in times.items()}
    ratios = [ref / own for own, ref in zip(times["gankit"], times["reference"])]
    return SpeedRow(name, images / per_iter["gankit"], images / per_iter["reference"], ratios, gflop,
                    gflop / per_iter["gankit"], _peak_mem_mib(device))


def format_table(rows: list[SpeedRow], peaks: dict[str, float], device: torch.device) -> str:
    head = (f"{'preset':<16}{'gankit img/s':>14}{'ref img/s':>12}{'ratio':>8}{'range':>12}{'GFLOP/it':>10}{'GFLOP/s':>9}"
            f"{'% mm':>8}{'% best':>8}{'peak MiB':>10}")
    lines = [f"device: {device} ({torch.get_num_threads()} threads); measured fp32 peaks: matmul (torch.mm) "
             f"{peaks['matmul']:.1f} GFLOP/s, best (matmul or channels-last convolution) {peaks['peak']:.1f}", head]
    for r in rows:
        spread = f"{min(r.ratios):.2f}-{max(r.ratios):.2f}"
        lines.append(f"{r.preset:<16}{r.gankit_ips:>14.1f}{r.reference_ips:>12.1f}{r.ratio:>8.2f}{spread:>12}{r.gflop_per_iter:>10.3f}"
                     f"{r.gflops:>9.1f}{100 * r.gflops / peaks['matmul']:>7.1f}%{100 * r.gflops / peaks['peak']:>7.1f}%"
                     f"{r.peak_mem_mib:>10.0f}")
    return "\n".join(lines)


def classic_dcgan_config() -> Config:
    """The textbook DCGAN on bundled MNIST: the preset's data with pytorch/examples' settings and none
    of gankit's additions (its R1 penalty, EMA of G and learning-rate decay are switched off)."""
    return load_config("dcgan-mnist", ["model.z_dim=100", "model.g_width=64", "model.d_width=64",
                                       "optim.batch_size=64", "optim.lr_g=2e-4", "optim.lr_d=2e-4",
                                       "optim.betas_g=[0.5,0.999]", "optim.betas_d=[0.5,0.999]", "optim.lr_decay=0",
                                       "optim.d_steps=1", "penalty.r1_gamma=0", "penalty.gp_weight=0",
                                       "remedies.ema=0"])


def quality_race(minutes: float, seed: int = 0, n_eval: int = 5000) -> list[tuple[str, int, float]]:
    """dcgan-mnist through gankit and the classic DCGAN (pytorch/examples settings: width 64,
    z 100, batch 64, Adam 2e-4 / 0.5) through the reference loop, each for `minutes` of wall
    clock; returns (name, steps, domain Frechet distance on n_eval samples vs bundled MNIST)."""

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config("dcgan-mnist", ["train.steps=0", f"train.minutes={minutes}", f"train.seed={seed}"])
        run = train(cfg, Path(tmp) / "gankit", progress=False)
        fake, _ = load(run.dir).generate(n_eval, seed=seed)
        rows.append(("gankit dcgan-mnist", run.step, evaluate_samples(fake, "mnist", ["fd"])["fd"]))

    torch.manual_seed(seed)
    classic = classic_dcgan_config()
    m = classic.model
    x = load_dataset(classic.data).floats()
    channels, resolution = x.shape[1], x.shape[2]  # the nets fit the data, as build_nets sizes gankit's
    G, D = DCGANGenerator(m.z_dim, resolution, channels, m.g_width), DCGANDiscriminator(resolution, channels, m.d_width)
    G.apply(dcgan_init)
    D.apply(dcgan_init)
    ref = ReferenceLoop(classic, G, D, x)
    steps, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < minutes * 60:
        ref.train_step()
        steps += 1
    G.eval()
    with torch.no_grad():
        gen = torch.Generator().manual_seed(seed)
        fake = torch.cat([G(torch.randn(500, m.z_dim, generator=gen)) for _ in range(n_eval // 500)])
    rows.append(("reference classic DCGAN", steps, evaluate_samples(fake, "mnist", ["fd"])["fd"]))
    return rows


def register(parser) -> None:
    parser.add_argument("--presets", default="vanilla-mnist,dcgan-mnist,cgan-mnist,wgangp-mnist,hinge-mnist,ring,stylegan2-mnist",
                        help="comma-separated presets whose nets are timed")
    parser.add_argument("--iters", type=int, default=20, help="iterations per timed repeat")
    parser.add_argument("--repeats", type=int, default=9, help="timed repeats of each loop, interleaved")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                        help="gankit's step as train.precision (the reference loop stays fp32)")
    parser.add_argument("--quality", action="store_true",
                        help="also race dcgan-mnist against the classic DCGAN for --minutes each (domain Frechet distance)")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--kernels", action="store_true",
                        help="also time each CPU kernel choice per layer (gankit.accel), fast path on and off")
    parser.add_argument("--write-docs", metavar="FILE",
                        help="also write the tables, stamped with CPU, ISA, torch and commit, into FILE's section for "
                             "this device (docs/performance.md); implies --kernels on a CPU")


def run(args) -> int:
    device = resolve_device(args.device)
    names = [n.strip() for n in args.presets.split(",") if n.strip()]
    for n in names:
        if n not in preset_names():
            raise UserError(f"--presets: unknown preset '{n}'")
        recipe = load_config(n).recipe
        if recipe not in REFERENCE_LOOPS:
            raise UserError(f"--presets: '{n}' is a '{recipe}' preset; the reference loops time the recipes "
                            f"{', '.join(REFERENCE_LOOPS)}")
    if args.iters < 1 or args.repeats < 1:
        raise UserError("--iters and --repeats must be at least 1")
    if args.write_docs:
        write_section(Path(args.write_docs), device, "(checking the file)", dry_run=True)  # before the long work
    peaks = measured_peak_gflops(device)
    rows = [bench_preset(n, device, args.iters, args.repeats, [f"train.precision={args.precision}"]) for n in names]
    tables = [format_table(rows, peaks, device)]
    print(tables[-1])
    if device.type == "cpu" and (args.kernels or args.write_docs):
        tables.append(format_kernels(kernel_rows()))
        print("\n" + tables[-1])
    if args.quality:
        race = [f"quality race: {args.minutes:g} minutes each, domain Frechet distance of 5,000 samples "
                "vs the 5,000 bundled MNIST digits (gankit's MNIST classifier features; lower is better)"]
        race += [f"{name:<26}{steps:>8} steps   FD {fd:8.2f}" for name, steps, fd in quality_race(args.minutes)]
        tables.append("\n".join(race))
        print("\n" + tables[-1])
    if args.write_docs:
        write_section(Path(args.write_docs), device, "\n\n".join(tables))
        print(f"\nwrote {args.write_docs}")
    return 0
