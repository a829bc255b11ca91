"""gankit.health's checks on hand-made metrics.jsonl records: each names its condition and the step
where it started, and none fires on a healthy run's records."""

from __future__ import annotations

import json

import pytest

from gankit.config import read_config
from gankit.configure import load_config, unread_keys
from gankit.errors import UserError
from gankit.health import (Diversity, check_collapse, check_divergence, check_oscillation, check_overfitting,
                           check_saturated_d, check_vanishing_gradient, diagnose, findings, first_sustained, read_records)

STEPS = [50 * (i + 1) for i in range(40)]  # log_every=50, 2,000 steps


def cfg(*overrides: str):
    return read_config("dcgan-mnist", list(overrides))


def healthy(**changes) -> list[dict]:
    """Records of a run where D and G stay matched: small wobbles around D(x)=0.7, D(G(z))=0.3.
    `changes`: key -> {step: value} to plant a condition."""
    records = []
    for i, s in enumerate(STEPS):
        wobble = 0.03 * ((-1) ** i)
        r = {"step": s, "loss_d": 1.2 + wobble, "loss_g": 1.0 - wobble, "d_real": 0.7 + wobble, "d_fake": 0.3 + wobble,
             "rt": 0.5 + wobble, "rt_heldout": 0.45, "rv": 0.1 + wobble}
        for key, values in changes.items():
            if s in values:
                r[key] = values[s]
        records.append(r)
    return records


def from_step(start: int, value, end: int = 10**9) -> dict:
    return {s: value for s in STEPS if start <= s <= end}


def test_first_sustained_needs_a_run_of_n():
    assert first_sustained([True, False, True, True, True, False]) == 2
    assert first_sustained([True, True, False, True, True]) is None
    assert first_sustained([False, True, True], n=2) == 1


@pytest.mark.parametrize("loss", ["nonsat", "minimax", "hinge", "lsgan", "wasserstein"])
def test_healthy_records_raise_no_alarm(loss):
    records = healthy() + [{"step": 1000, "eval": {"recall": 0.5, "coverage": 0.6}},
                           {"step": 2000, "eval": {"recall": 0.52, "coverage": 0.58}}]
    checks = diagnose(records, cfg(f"loss={loss}"), Diversity([500, 1000, 2000], [0.8, 0.9, 0.85]))
    assert findings(checks) == [], [c.finding for c in checks]
    assert [c.name for c in checks] == ["divergence", "saturated D", "vanishing G gradient", "D overfitting",
                                        "mode collapse", "oscillation"]
    assert all(c.checked for c in checks)  # each says what it looked at


def test_divergence_from_the_stop_record_and_from_exploding_losses():
    stopped = healthy()[:10] + [{"step": 512, "diverged": "non-finite loss at step 512 (loss_d=nan, loss_g=3)"}]
    f = check_divergence(stopped, cfg()).finding
    assert (f.name, f.step) == ("divergence", 512) and "loss_d=nan" in f.evidence
    assert f.overrides == ("optim.lr_d=4e-05", "optim.lr_g=4e-05")  # a tenth of the preset's 4e-4
    exploding = healthy(loss_g={**from_step(1200, 40.0), 1150: 30.0, 600: 20.0})
    f = check_divergence(exploding, cfg()).finding
    assert f.step == 1150 and "loss_g 30" in f.evidence  # two records in a row past max(10 x 1.0, 10); 600 alone is a spike
    assert check_divergence(healthy(loss_g={1100: 30.0}), cfg()).finding is None  # a single spike
    huge_lr_d = check_divergence(healthy(loss_d=from_step(50, 300.0)), cfg("optim.lr_d=1.0")).finding
    assert huge_lr_d.step == 50 and huge_lr_d.overrides == ("optim.lr_d=0.0002", "guard.rollbacks=2")  # G's 4e-4 is fine
    # A critic's G loss drifts freely: wasserstein watches loss_d only
    assert check_divergence(healthy(loss_g=from_step(1100, 400.0)), cfg("loss=wasserstein")).finding is None


def test_saturated_d_from_the_step_d_wins_outright():
    records = healthy(d_real={**from_step(800, 0.99), 300: 0.99}, d_fake={**from_step(800, 0.02), 300: 0.02})
    f = check_saturated_d(records, cfg()).finding
    assert (f.name, f.step) == ("saturated D", 800)  # step 300 alone is one record, not three
    assert "0.97" in f.evidence and "optim.lr_d=0.0001" in f.overrides and "penalty.r1_gamma=3" in f.overrides
    hinge = healthy(loss_d=from_step(650, 0.01))
    assert check_saturated_d(hinge, cfg("loss=hinge")).finding.step == 650
    assert check_saturated_d(hinge, cfg("loss=wasserstein")).finding is None


def test_findings_suggest_only_keys_the_recipe_reads():
    # An ssgan run does not read penalty.* or remedies.*: gankit train would refuse the overrides,
    # so diagnose leaves them out and keeps the rest (the finding itself stays).
    records = healthy(d_real=from_step(800, 0.99), d_fake=from_step(800, 0.02))
    ssgan = load_config("ssgan-mnist")
    plain = [c for c in diagnose(records, ssgan) if c.name == "saturated D"][0].finding
    assert any(o.startswith("remedies.ada=") for o in plain.overrides)
    f = [c for c in diagnose(records, ssgan, unread=unread_keys(ssgan)) if c.name == "saturated D"][0].finding
    assert f.step == plain.step == 800 and f.overrides == ("optim.lr_d=0.00075",)
    dcgan = load_config("dcgan-mnist")  # a recipe that reads them keeps them all
    assert [c for c in diagnose(records, dcgan, unread=unread_keys(dcgan)) if c.finding][0].finding.overrides == \
        [c for c in diagnose(records, dcgan) if c.finding][0].finding.overrides


def test_vanishing_gradient_only_under_minimax():
    records = healthy(d_fake=from_step(250, 0.01))
    f = check_vanishing_gradient(records, cfg("loss=minimax")).finding
    assert (f.name, f.step, f.overrides) == ("vanishing G gradient", 250, ("loss=nonsat",))
    assert check_vanishing_gradient(records, cfg("loss=nonsat")).finding is None


def test_overfitting_from_the_held_out_gap():
    records = healthy(rv={**from_step(900, 0.7), 400: 0.8}, rt=from_step(300, 0.9), rt_heldout=from_step(900, -0.3))
    f = check_overfitting(records, cfg("data.limit=100", "data.held_out=500")).finding
    assert (f.name, f.step) == ("D overfitting", 900)
    assert f.evidence.startswith("from step 900: r_v 0.7, rt 0.9 on training reals and -0.3 on held-out reals; at step 2000: ")
    assert "remedies.ada=true" in f.overrides and "data.limit=0" in f.overrides
    # A large gap while D calls most reals fake (rt under ADA's 0.6) is no overfitting
    assert check_overfitting(healthy(rv=from_step(900, 0.7)), cfg()).finding is None


def test_overfitting_from_rt_alone_without_held_out_images():
    records = [{k: v for k, v in r.items() if k not in ("rv", "rt_heldout")} for r in healthy(rt=from_step(1500, 0.99))]
    f = check_overfitting(records, cfg()).finding
    assert f.step == 1500 and "held-out gap not measured" in f.evidence
    assert check_overfitting(records, cfg("loss=wasserstein")).finding is None  # a critic's sign says nothing
    strip = lambda rs: [{k: v for k, v in r.items() if k not in ("rv", "rt_heldout")} for r in rs]
    # D wins early, as G starts from noise (the first quarter), or outright, with D(G(z)) under 0.1: no overfitting call
    assert check_overfitting(strip(healthy(rt=from_step(50, 0.99, end=450))), cfg()).finding is None
    assert check_overfitting(strip(healthy(rt=from_step(1500, 0.99), d_fake=from_step(1500, 0.05))), cfg()).finding is None


def test_collapse_from_falling_recall_and_from_diversity():
    evals = [{"step": s, "eval": {"recall": v}} for s, v in ((500, 0.5), (1000, 0.6), (1500, 0.55), (2000, 0.3), (2500, 0.2))]
    f = check_collapse(healthy() + evals, cfg()).finding
    # best 0.6 at 1000, lowest 0.2 later: the fall starts where recall is past half of that drop (below 0.4)
    assert (f.name, f.step) == ("mode collapse", 2000) and "recall 0.6 at step 1000 fell to 0.2 at step 2500" in f.evidence
    assert "remedies.mbstd=true" in f.overrides and "model.g_width=128" in f.overrides
    fell = check_collapse(healthy(), cfg(), Diversity([250, 500, 750, 1000], [0.8, 0.9, 0.6, 0.7])).finding
    assert fell.step == 750 and "down from 0.9 at step 500" in fell.evidence  # 0.6 < 0.75 x 0.9
    low = check_collapse(healthy(), cfg(), Diversity([250, 500, 750], [0.3, 0.6, 0.45])).finding
    assert low.step == 750  # low at the end; the low start was a G still learning
    assert check_collapse(healthy(), cfg(), Diversity([250, 500, 750], [0.3, 0.6, 0.7])).finding is None


def test_oscillation_from_the_first_swing():
    margin_swings = {s: (0.95, 0.95, 0.05, 0.05)[(s // 50 - 11) % 4] for s in STEPS if s >= 550}
    records = healthy(d_real=margin_swings, d_fake={s: 0.0 for s in margin_swings})
    f = check_oscillation(records, cfg()).finding
    assert (f.name, f.step) == ("oscillation", 550)  # the first high it falls back from
    assert check_oscillation(healthy(), cfg("loss=wasserstein")).finding is None


def test_every_suggested_override_is_a_real_config_key():
    cases = [check_divergence(healthy(loss_g=from_step(1100, 40.0)), cfg()),
             check_saturated_d(healthy(d_real=from_step(800, 0.99), d_fake=from_step(800, 0.02)), cfg()),
             check_vanishing_gradient(healthy(d_fake=from_step(250, 0.01)), cfg("loss=minimax")),
             check_overfitting(healthy(rv=from_step(900, 0.7), rt=from_step(300, 0.9)), cfg("data.limit=100", "data.held_out=500")),
             check_collapse(healthy(), cfg(), Diversity([250], [0.1])),
             check_oscillation(healthy(d_real={s: (0.95, 0.05)[(s // 100) % 2] for s in STEPS}), cfg())]
    for check in cases:
        assert check.finding is not None, check.name
        read_config("dcgan-mnist", list(check.finding.overrides))  # a UserError here would name the bad key


def test_read_records_skips_a_cut_last_line_and_names_a_bad_one(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps({"step": 1, "loss_d": 1.0}) + "\n" + '{"step": 2, "lo')
    assert read_records(path) == [{"step": 1, "loss_d": 1.0}]
    path.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    with pytest.raises(UserError, match="metrics.jsonl: line 2 is not a JSON record"):
        read_records(path)
