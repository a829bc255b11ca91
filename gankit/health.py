"""What goes wrong in a run, read from its records: pure functions over metrics.jsonl's records.

Each check looks for one condition and returns a `Check`: what it looked at and, when the condition
holds, a `Finding` with the step where it started, the numbers that show it, and what to change as
`KEY=VALUE` overrides of gankit's config that a user can paste into `gankit train`. The HTML report
shows these checks in its health panel; `gankit doctor` (gankit/doctor.py) adds what needs the
trained nets (the diversity of a fixed latent batch across checkpoints) and prints them.

The records (written by train/loop.py and train/probe.py) hold per log step: `loss_*`, mean `d_real`
and `d_fake` (probabilities for the nonsat/minimax losses, raw scores otherwise), `rt` =
E[sign(D's logit on a real)], with data.held_out also `rt_heldout` and `rv` (ADA's overfitting
ratio), `ada_p` when ADA runs; evaluation records `{"step", "eval": {...}}`; `{"step", "diverged"}`
when training stopped on a non-finite loss or weight, `{"step", "rolled_back"}` when guard.rollbacks
went back, and `{"step": 0, "pretrain": {...}}` for a stage before the GAN (text2img). Why each threshold
is what it is: docs/doctor.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from .config import Config
from .errors import UserError

PROBABILITY_LOSSES = ("nonsat", "minimax")  # d_real, d_fake are D's probabilities; sign(logit) is D's decision
SIGN_LOSSES = ("nonsat", "minimax", "hinge")  # losses whose logit sign is D's real-or-fake call (rt means something)
SUSTAIN = 3  # consecutive log records a condition must hold (150 steps at log_every=50): one bad window is noise

# Keys of training records that describe the run's health rather than an evaluation metric.
HEALTH_KEYS = ("rt", "rt_heldout", "rv", "ada_p")


@dataclass(frozen=True)
class Finding:
    name: str  # what goes wrong: "D overfitting", "mode collapse", ...
    step: int  # the generator step where it started
    evidence: str  # the numbers that show it
    change: str  # what to change, in words
    overrides: tuple[str, ...] = ()  # the change as KEY=VALUE overrides of gankit's config (config.py's key names)

    def to_dict(self) -> dict:
        return {"name": self.name, "step": self.step, "evidence": self.evidence, "change": self.change,
                "overrides": list(self.overrides)}


@dataclass(frozen=True)
class Check:
    name: str
    checked: str  # what was looked at (and why not, where a check does not apply)
    finding: Finding | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "checked": self.checked, "finding": self.finding.to_dict() if self.finding else None}


@dataclass
class Diversity:
    """The diversity of a fixed latent batch at each checkpoint, as a share of the data's own
    (gankit/doctor.py measures it): 1 = as spread out as the real images, 0 = one image."""

    steps: list[int] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)


def read_records(path: Path) -> list[dict]:
    """metrics.jsonl's records. A last line cut short (a killed run) is skipped; any other bad line
    is a UserError naming the file and line."""
    lines = Path(path).read_text().splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                continue
            raise UserError(f"{path}: line {number} is not a JSON record") from None
        if not isinstance(record, dict) or not isinstance(record.get("step"), int):
            raise UserError(f"{path}: line {number} is not a record with an integer 'step'")
        records.append(record)
    return records


def training_records(records: list[dict]) -> list[dict]:
    return [r for r in records if any(k.startswith("loss") for k in r)]


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _series(records: list[dict], key: str) -> tuple[list[int], list[float]]:
    pts = [(r["step"], float(r[key])) for r in records if isinstance(r.get(key), (int, float)) and not isinstance(r[key], bool)]
    return [p[0] for p in pts], [p[1] for p in pts]


def first_sustained(flags: list[bool], n: int = SUSTAIN) -> int | None:
    """The index where the first run of at least `n` consecutive True values begins (None: no such run)."""
    run = 0
    for i, flag in enumerate(flags):
        run = run + 1 if flag else 0
        if run == n:
            return i - n + 1
    return None


def _augment_overrides(cfg: Config) -> tuple[str, ...]:
    """ADA (Karras et al. 2020b), made for a D that overfits, unless it is on already."""
    return () if cfg.remedies.ada else ("remedies.ada=true",)


def _r1_override(cfg: Config) -> str:
    gamma = cfg.penalty.r1_gamma
    return f"penalty.r1_gamma={_fmt(gamma * 10) if gamma else '1'}"


def _lower_rates(cfg: Config) -> tuple[str, ...]:
    """A tenth of D's rate, and no more than DCGAN's 2e-4; G's too unless it is far below D's already."""
    o = cfg.optim
    out = [f"optim.lr_d={_fmt(min(o.lr_d / 10, 2e-4))}"]
    if o.lr_g >= o.lr_d / 10:
        out.append(f"optim.lr_g={_fmt(min(o.lr_g / 10, 2e-4))}")
    return tuple(out)


# ---- the checks -------------------------------------------------------------------------------
def check_divergence(records: list[dict], cfg: Config) -> Check:
    """Training stopped on a non-finite loss or weight (or rolled back), a logged value is not
    finite, or a loss exploded for 2 records: D's bounded loss past 10, or a loss past 10 and 10x
    its early size."""
    name = "divergence"
    for r in records:
        for key, what in (("diverged", "training stopped"), ("rolled_back", "guard.rollbacks went back to the last good checkpoint")):
            if key in r:
                return Check(name, "", Finding(name, r["step"], f"{what}: {r[key]}", "lower the learning rates",
                                               _lower_rates(cfg)))
    train = training_records(records)
    keys = ["loss_d"] + (["loss_g"] if cfg.loss in PROBABILITY_LOSSES + ("lsgan",) else [])  # a critic's level drifts freely
    for r in train:
        bad = [k for k, v in r.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            return Check(name, "", Finding(name, r["step"], f"non-finite {', '.join(bad)}", "lower the learning rates",
                                           _lower_rates(cfg)))
    for key in keys:
        steps, values = _series(train, key)
        if not values:
            continue
        early = statistics.median(abs(v) for v in values[: max(SUSTAIN, len(values) // 5)])
        # D's loss in a bounded form (all but a critic's) past 10 means logits about 10 the wrong way
        # round, however it began; otherwise a loss that grew to 10x its early size and past 10.
        limit = 10.0 if key == "loss_d" and cfg.loss != "wasserstein" else max(10 * early, 10.0)
        i = first_sustained([abs(v) > limit for v in values], n=2)
        if i is not None:
            peak = max(abs(v) for v in values[i:])
            return Check(name, "", Finding(
                name, steps[i], f"{key} {_fmt(values[i])} at step {steps[i]} (up to {_fmt(peak)}; limit {_fmt(limit)})",
                "lower D's learning rate (and G's); guard.rollbacks goes back to the last good checkpoint on a NaN",
                (*_lower_rates(cfg), "guard.rollbacks=2")))
    return Check(name, f"no stop on a non-finite value; {' and '.join(keys)} stayed under 10"
                       f"{' and 10x their early size' if len(keys) > 1 or cfg.loss == 'wasserstein' else ''} over {len(train)} records")


VANISHING = 0.1  # mean D(G(z)) under it: minimax's gradient for G, D(G(z)), is 1/9 or less of nonsat's, 1 - D(G(z))


def check_vanishing_gradient(records: list[dict], cfg: Config) -> Check:
    """The minimax loss with D(G(z)) near 0: G descends log(1 - D(G(z))), whose gradient with
    respect to D's logit is -D(G(z)), so G stops learning (Goodfellow et al. 2014, section 3)."""
    name = "vanishing G gradient"
    if cfg.loss != "minimax":
        return Check(name, f"loss={cfg.loss}: G's loss does not saturate as D(G(z)) -> 0 (only minimax does)")
    steps, fake = _series(training_records(records), "d_fake")
    i = first_sustained([v < VANISHING for v in fake])
    if i is None:
        return Check(name, f"mean D(G(z)) stayed above {VANISHING} ({_fmt(min(fake)) if fake else 'none'} lowest) over {len(fake)} records")
    return Check(name, "", Finding(
        name, steps[i], f"loss=minimax and mean D(G(z)) {_fmt(fake[i])} from step {steps[i]} ({_fmt(min(fake[i:]))} lowest): "
                        f"G's gradient, proportional to D(G(z)), is a ninth or less of the non-saturating loss's",
        "use the non-saturating loss, -log D(G(z)), which has the same fixed point and a strong gradient there",
        ("loss=nonsat",)))


def check_saturated_d(records: list[dict], cfg: Config) -> Check:
    """D wins outright: D(x) near 1 and D(G(z)) near 0 (probability losses), or D's loss near 0
    (hinge, lsgan), for SUSTAIN records. G then learns from a D that no longer compares."""
    name = "saturated D"
    train = training_records(records)
    if cfg.loss == "wasserstein":
        return Check(name, "loss=wasserstein: a critic's scores have no saturation point")
    if cfg.loss in PROBABILITY_LOSSES:
        steps, real = _series(train, "d_real")
        by_step = dict(zip(*_series(train, "d_fake")))
        margin = [real[j] - by_step.get(s, 1.0) for j, s in enumerate(steps)]
        flags = [m > 0.9 for m in margin]
        what = "mean D(x) - mean D(G(z))"
        values = margin
    else:
        steps, values = _series(train, "loss_d")
        flags = [v < 0.05 for v in values]
        what = "loss_d"
    i = first_sustained(flags)
    if i is None:
        return Check(name, f"{what} never past {'0.9' if cfg.loss in PROBABILITY_LOSSES else 'below 0.05'} "
                           f"for {SUSTAIN} records in a row ({len(values)} records)")
    if cfg.loss == "minimax":
        change = "see vanishing G gradient: with minimax, a saturated D stops G"
    else:
        change = "slow D down or make its task harder"
    evidence = (f"{what} {_fmt(values[i])} from step {steps[i]}"
                + (f" (mean D(x) {_fmt(real[i])}, mean D(G(z)) {_fmt(by_step.get(steps[i], float('nan')))})" if cfg.loss in PROBABILITY_LOSSES else ""))
    return Check(name, "", Finding(name, steps[i], evidence, change,
                                   (f"optim.lr_d={_fmt(cfg.optim.lr_d / 4)}", _r1_override(cfg), *_augment_overrides(cfg))))


RV_LIMIT = 0.5  # r_v past half: D scores unseen reals nearer to fakes than to its training reals
RT_LIMIT = 0.95  # without held-out images: D calls at least 97.5% of training reals real


def check_overfitting(records: list[dict], cfg: Config) -> Check:
    """D has learnt the training set: ADA's r_v (D's real-vs-held-out gap over its real-vs-fake
    gap) past RV_LIMIT with rt past 0.6 (ADA's target), for SUSTAIN records; without held-out
    images (data.held_out=0), rt past RT_LIMIT after the run's first quarter while D lets fakes through."""
    name = "D overfitting"
    train = training_records(records)
    steps, rt = _series(train, "rt")
    rt_at = dict(zip(steps, rt))
    rv_steps, rv = _series(train, "rv")
    held_at = dict(zip(*_series(train, "rt_heldout")))
    ada_at = dict(zip(*_series(train, "ada_p")))
    fixes = (*_augment_overrides(cfg), _r1_override(cfg)) + (("data.limit=0",) if cfg.data.limit else ())
    change = "augment what D sees, penalise D's gradient on reals" + (", train on more images" if cfg.data.limit else "")
    if rv:
        i = first_sustained([v > RV_LIMIT and rt_at.get(s, 1.0) > 0.6 for s, v in zip(rv_steps, rv)])
        if i is None:
            return Check(name, f"r_v (D's real-vs-held-out gap) stayed below {RV_LIMIT} or rt below 0.6 over {len(rv)} records "
                               f"(r_v {_fmt(max(rv))} highest)")
        def at(s: int) -> str:
            text = (f"r_v {_fmt(rv[rv_steps.index(s)])}, rt {_fmt(rt_at.get(s, float('nan')))} on training reals "
                    f"and {_fmt(held_at.get(s, float('nan')))} on held-out reals")
            return text + (f", ADA's p {_fmt(ada_at[s])}" if s in ada_at else "")

        s = rv_steps[i]
        evidence = f"from step {s}: {at(s)}" + (f"; at step {rv_steps[-1]}: {at(rv_steps[-1])}" if rv_steps[-1] != s else "")
        return Check(name, "", Finding(name, s, evidence, change, fixes))
    if cfg.loss not in SIGN_LOSSES:
        return Check(name, f"loss={cfg.loss}: rt (the sign of D's logit) is no real-or-fake call, and no held-out images "
                           "(data.held_out=0) to measure r_v")
    if not rt:
        return Check(name, f"no rt in the records (recipe {cfg.recipe} does not log it, or the run is from before "
                           "gankit logged it)")
    # A D that simply wins (early on, as G starts from noise, or a saturated one, its own check) also
    # calls every real real: without held-out images, look past the first quarter of the run, and
    # only where D still lets fakes through (mean D(G(z)) of 0.1 or more, for the probability losses).
    fake_at = dict(zip(*_series(train, "d_fake")))
    skip = len(rt) // 4
    flags = [j >= skip and v > RT_LIMIT and (cfg.loss not in PROBABILITY_LOSSES or fake_at.get(steps[j], 1.0) >= 0.1)
             for j, v in enumerate(rt)]
    i = first_sustained(flags)
    if i is None:
        letting_through = " while mean D(G(z)) stayed 0.1 or more" if cfg.loss in PROBABILITY_LOSSES else ""
        return Check(name, f"rt never past {RT_LIMIT} for {SUSTAIN} records in a row after the run's first quarter{letting_through} "
                           f"(rt up to {_fmt(max(rt[skip:]))} there); D's real-vs-held-out gap not measured (data.held_out=0)")
    evidence = (f"rt {_fmt(rt[i])} from step {steps[i]}: D calls nearly every training real real "
                f"(held-out gap not measured: set data.held_out=500 to confirm)")
    return Check(name, "", Finding(name, steps[i], evidence, change, fixes))


def _zigzag(values: list[float], threshold: float) -> list[int]:
    """Indices of the turning points: a high the series falls back from by more than `threshold`
    after rising by more than it (or a low, the other way round)."""
    turns, hi, lo, trend = [], 0, 0, 0  # trend: +1 rising, -1 falling, 0 not yet known
    for i in range(1, len(values)):
        v = values[i]
        if trend >= 0:
            hi = i if v > values[hi] else hi
            if values[hi] - v > threshold:
                turns += [hi] if trend == 1 else []
                trend, lo = -1, i
                continue
        if trend <= 0:
            lo = i if v < values[lo] else lo
            if v - values[lo] > threshold:
                turns += [lo] if trend == -1 else []
                trend, hi = 1, i
    return turns


def check_oscillation(records: list[dict], cfg: Config) -> Check:
    """D and G take turns winning: the gap between D's scores of reals and fakes (or G's loss)
    swings back and forth by a large amount, at least 4 times with under 10 records between swings."""
    name = "oscillation"
    train = training_records(records)
    if cfg.loss in PROBABILITY_LOSSES:
        steps, real = _series(train, "d_real")
        fake_at = dict(zip(*_series(train, "d_fake")))
        values = [v - fake_at.get(s, 0.0) for s, v in zip(steps, real)]
        what, threshold = "mean D(x) - mean D(G(z))", 0.3
    else:
        key = "loss_d" if cfg.loss == "wasserstein" else "loss_g"
        steps, values = _series(train, key)
        what = key
        threshold = 0.5 * statistics.median(abs(v) for v in values) if values else 0.0
    turns = _zigzag(values, threshold) if threshold > 0 else []
    chain = [turns[0]] if turns else []
    for t in turns[1:]:
        chain = chain + [t] if t - chain[-1] < 10 else [t]
        if len(chain) >= 4:
            break
    if len(chain) < 4:
        return Check(name, f"{what}: {len(turns)} swing(s) larger than {_fmt(threshold)} over {len(values)} records")
    swings = ", ".join(f"{_fmt(values[t])} at {steps[t]}" for t in chain[:4])
    return Check(name, "", Finding(
        name, steps[chain[0]], f"{what} swings by more than {_fmt(threshold)}: {swings}",
        "smaller steps for both nets; R1 makes the game converge locally (Mescheder et al. 2018); an EMA of G smooths what is sampled",
        (f"optim.lr_d={_fmt(cfg.optim.lr_d / 2)}", f"optim.lr_g={_fmt(cfg.optim.lr_g / 2)}", _r1_override(cfg))
        + (("remedies.ema=0.999",) if not cfg.remedies.ema else ())))


FALL = 0.25  # a metric that falls to 75% of its best (and by 0.1 or more) is falling, not noise
DIVERSITY_LIMIT = 0.5  # a fixed latent batch half as spread out as the data at the end: samples repeat


def _collapse_overrides(cfg: Config) -> tuple[str, ...]:
    out = [] if cfg.remedies.mbstd else ["remedies.mbstd=true"]
    if cfg.remedies.pack == 1 and not cfg.model.conditional and cfg.optim.batch_size % 2 == 0:
        out.append("remedies.pack=2")
    out.append(f"model.g_width={cfg.model.g_width * 2}")
    return tuple(out)


def check_collapse(records: list[dict], cfg: Config, diversity: Diversity | None = None) -> Check:
    """Mode collapse: recall or coverage (evaluation.metrics with pr or dc) falling from their
    best, or the diversity of a fixed latent batch (measured by gankit doctor across checkpoints)
    falling by FALL from its best, or under DIVERSITY_LIMIT of the data's at the last checkpoint."""
    name = "mode collapse"
    change = "give D a view of the batch's spread, or G more capacity"
    looked = []
    evals = [(r["step"], r["eval"]) for r in records if isinstance(r.get("eval"), dict)]
    for key in ("recall", "coverage"):
        pts = [(s, float(e[key])) for s, e in evals if isinstance(e.get(key), (int, float))]
        if len(pts) < 2:
            continue
        looked.append(f"{key} over {len(pts)} evaluations")
        best = max(range(len(pts)), key=lambda j: pts[j][1])
        peak = pts[best][1]
        later = pts[best + 1:]
        low = min(later, key=lambda p: p[1]) if later else None
        if low and low[1] < (1 - FALL) * peak and peak - low[1] >= 0.1:
            start = next(s for s, v in later if v < peak - (peak - low[1]) / 2)
            return Check(name, "", Finding(name, start, f"{key} {_fmt(peak)} at step {pts[best][0]} fell to {_fmt(low[1])} "
                                                         f"at step {low[0]}", change, _collapse_overrides(cfg)))
    if diversity is not None and diversity.ratios:
        d = diversity
        looked.append(f"diversity over {len(d.ratios)} checkpoints ({', '.join(_fmt(v) for v in d.ratios)})")
        best = max(range(len(d.ratios)), key=lambda j: d.ratios[j])
        fell = next((j for j in range(best + 1, len(d.ratios)) if d.ratios[j] < (1 - FALL) * d.ratios[best]), None)
        # Low diversity early on is a G that has not learnt yet; low at the end, the G a user gets.
        low = len(d.ratios) - 1 if d.ratios[-1] < DIVERSITY_LIMIT else None
        while low is not None and low > 0 and d.ratios[low - 1] < DIVERSITY_LIMIT:
            low -= 1  # from the first checkpoint of the low stretch that lasts to the end
        j = fell if low is None or (fell is not None and fell < low) else low
        if j is not None:
            evidence = (f"diversity of a fixed latent batch {_fmt(d.ratios[j])} of the data's at step {d.steps[j]}"
                        + (f", down from {_fmt(d.ratios[best])} at step {d.steps[best]}" if j == fell else
                           f", below {DIVERSITY_LIMIT} from there to the last checkpoint ({_fmt(d.ratios[-1])} at step {d.steps[-1]})"))
            return Check(name, "", Finding(name, d.steps[j], evidence, change, _collapse_overrides(cfg)))
    if not looked:
        return Check(name, "no recall or coverage in the records (evaluation.every with evaluation.metrics=pr,dc) "
                           "and no diversity measured (gankit doctor RUN measures it from the checkpoints)")
    return Check(name, "; ".join(looked) + f": none fell by {int(FALL * 100)}% from its best"
                 + (f", the last diversity above {DIVERSITY_LIMIT} of the data's" if diversity is not None and diversity.ratios else ""))


def diagnose(records: list[dict], cfg: Config, diversity: Diversity | None = None,
             unread: frozenset[str] = frozenset()) -> list[Check]:
    """Every check, in the order a reader should act on them: a run that diverged first. `unread`:
    config keys the run's recipe does not read (configure.unread_options); overrides of them are
    left out of the findings, as `gankit train` would refuse them."""
    checks = [check_divergence(records, cfg), check_saturated_d(records, cfg), check_vanishing_gradient(records, cfg),
              check_overfitting(records, cfg), check_collapse(records, cfg, diversity), check_oscillation(records, cfg)]
    return [_readable(c, unread) for c in checks]


def _readable(check: Check, unread: frozenset[str]) -> Check:
    """`check` with its finding's overrides of unread keys left out."""
    f = check.finding
    if f is None or not unread:
        return check
    kept = tuple(o for o in f.overrides if o.split("=", 1)[0] not in unread)
    return dataclasses.replace(check, finding=dataclasses.replace(f, overrides=kept))


def findings(checks: list[Check]) -> list[Finding]:
    return [c.finding for c in checks if c.finding is not None]
