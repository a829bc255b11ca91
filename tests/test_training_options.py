"""Options of the loop and the GAN recipe: reusing D's fakes in G's step, the learning-rate decay,
the EMA generator's batch-norm statistics, and DiffAugment."""

from __future__ import annotations

import pytest
import torch

from gankit.augment import cutout, translate
from gankit.configure import load_config
from gankit.errors import UserError
from gankit.train.loop import Trainer

MNIST = ["model.g_width=8", "model.d_width=8", "optim.batch_size=8", "train.device=cpu", "data.limit=64",
         "model.z_dim=8", "train.log_every=1000", "train.sample_every=1000", "train.checkpoint_every=1000"]


def trainer(tmp_path, *overrides: str) -> Trainer:
    return Trainer(load_config("dcgan-mnist", MNIST + list(overrides)), tmp_path, progress=False)


def count_forwards(module: torch.nn.Module) -> list[int]:
    calls = [0]
    module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


@pytest.mark.parametrize("reuse, d_steps, expected", [(True, 1, 1), (False, 1, 2), (True, 3, 3), (False, 3, 4)])
def test_reuse_fake_saves_one_generator_forward(tmp_path, reuse, d_steps, expected):
    t = trainer(tmp_path, f"train.reuse_fake={str(reuse).lower()}", f"optim.d_steps={d_steps}")
    calls = count_forwards(t.recipe.G)
    t.train_step()
    assert calls[0] == expected


def test_reused_fakes_are_the_d_steps_fakes_and_only_the_right_net_moves(tmp_path):
    t = trainer(tmp_path, "train.reuse_fake=true", "penalty.r1_gamma=0")  # R1 would add a pass of D
    r = t.recipe
    seen = []
    r.D.register_forward_hook(lambda m, args, out: seen.append(args[0].detach().clone()))
    G0 = {k: v.detach().clone() for k, v in r.G.named_parameters()}
    t.train_step()
    # D saw real, fake (its step), then the same fake again (G's step)
    assert len(seen) == 3 and torch.equal(seen[1], seen[2])
    assert any(not torch.equal(G0[k], v) for k, v in r.G.named_parameters())


def test_lr_decay_is_linear_over_the_last_share(tmp_path):
    t = trainer(tmp_path, "optim.lr_decay=0.5", "optim.lr_g=1e-3", "optim.lr_d=4e-3")
    for progress, factor in [(0.0, 1.0), (0.5, 1.0), (0.75, 0.5), (0.9, 0.2)]:
        t._set_learning_rates(progress)
        assert t.opt_g.param_groups[0]["lr"] == pytest.approx(1e-3 * factor)
        assert t.opt_d.param_groups[0]["lr"] == pytest.approx(4e-3 * factor)
    t = trainer(tmp_path / "run", "optim.lr_decay=0.5", "optim.lr_g=1e-3", "train.steps=10")
    t.fit()
    assert t.opt_g.param_groups[0]["lr"] == pytest.approx(1e-3 * (1 - 9 / 10) / 0.5)  # set before step 10
    with pytest.raises(UserError, match="optim.lr_decay"):
        load_config("dcgan-mnist", ["optim.lr_decay=1.5"])


def test_ema_generator_gets_its_own_batch_norm_statistics(tmp_path):
    t = trainer(tmp_path, "remedies.ema=0.5")
    r = t.recipe
    for _ in range(5):
        t.train_step()
    bn = next(m for m in r.G_ema.modules() if isinstance(m, torch.nn.BatchNorm2d))
    r.refresh_ema_statistics()
    first = bn.running_mean.clone()
    r.refresh_ema_statistics()
    assert torch.equal(first, bn.running_mean)  # fixed seed: the same statistics every time
    # the statistics are the mean of the EMA generator's own pre-norm activations over many latents
    pre = {}
    handle = bn.register_forward_pre_hook(lambda m, args: pre.__setitem__("x", args[0]))
    r.G_ema.eval()
    with torch.no_grad():
        r.sample(torch.randn(4096, r.z_dim))
    handle.remove()
    assert torch.allclose(bn.running_mean, pre["x"].mean((0, 2, 3)), atol=0.05 * pre["x"].std().item())
    G_bn = next(m for m in r.G.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert not torch.equal(bn.running_mean, G_bn.running_mean)


def test_translate_shifts_whole_images_and_fills_the_border():
    torch.manual_seed(0)
    x = torch.arange(2 * 8 * 8, dtype=torch.float).view(2, 1, 8, 8)
    y = translate(x, ratio=0.25)
    for i in range(2):  # find each image's shift and check every pixel against it
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if all((y[i, 0, r, c] == (x[i, 0, r - dy, c - dx] if 0 <= r - dy < 8 and 0 <= c - dx < 8 else -1))
                          for r in range(8) for c in range(8))]
        assert len(matches) == 1


def test_cutout_fills_one_square_and_gradients_flow():
    torch.manual_seed(0)
    x = torch.ones(3, 2, 8, 8, requires_grad=True)
    y = cutout(x, ratio=0.5)
    assert ((y == -1).float().sum((1, 2, 3)) == 2 * 16).all()
    (y.sum() + translate(x).sum()).backward()
    assert x.grad.abs().sum() > 0


def test_augment_applies_to_what_D_sees(tmp_path):
    r = trainer(tmp_path, "remedies.augment=cutout").recipe
    seen = []
    r.D.register_forward_hook(lambda m, args, out: seen.append(args[0].detach()))
    r._d(torch.ones(4, 1, 28, 28), None)  # every D call of the recipe goes through _d
    assert ((seen[0] == -1).flatten(1).sum(1) == 14 * 14).all()  # a 14x14 hole in each image
    with pytest.raises(UserError, match="remedies.augment"):
        load_config("dcgan-mnist", ["remedies.augment=flip"])


# ---- precision -------------------------------------------------------------------------------
def test_auto_precision_keeps_float32_on_the_cpu_and_bf16_is_honoured_when_asked():
    from gankit.train.device import autocast_dtype

    cpu = torch.device("cpu")
    assert autocast_dtype("auto", cpu) is None and autocast_dtype("fp32", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    with pytest.raises(UserError, match="train.precision"):
        load_config("dcgan-mnist", ["train.precision=fp16"])


@pytest.mark.parametrize("precision, dtype", [("auto", torch.float32), ("bf16", torch.bfloat16)])
def test_bf16_autocast_runs_the_forward_passes_in_bf16_and_keeps_weights_float32(tmp_path, precision, dtype):
    t = trainer(tmp_path, f"train.precision={precision}", "penalty.r1_gamma=1")  # R1: a double backward too
    seen = []
    t.recipe.D.register_forward_hook(lambda m, args, out: seen.append(out.dtype))
    before = [p.detach().clone() for p in t.recipe.G.parameters()]
    stats = t.train_step()
    assert set(seen) == {dtype}
    assert all(p.dtype == torch.float32 for p in [*t.recipe.G.parameters(), *t.recipe.D.parameters()])
    assert all(torch.isfinite(v).all() for v in stats.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, t.recipe.G.parameters()))


def test_lazy_r1_runs_on_every_nth_d_update_at_n_times_the_weight(tmp_path):
    t = trainer(tmp_path, "penalty.r1_gamma=2", "penalty.r1_every=3")
    r, batch = t.recipe, t.next_batch()
    results = []
    for updates in range(5):  # the same batch at D-update counts 0..4
        r.d_updates = updates
        results.append(r.d_loss(batch))
    assert ["r1" in stats for _, stats in results] == [True, False, False, True, False]
    (with_r1, stats), (without, _) = results[0], results[1]
    # gamma/2 * every * R1 = 1 * 3 * R1, and the logged value is 3 * R1
    assert (with_r1 - without).item() == pytest.approx(stats["r1"].item(), rel=1e-4)
    r.d_updates = 0
    t.train_step()
    assert r.d_updates == 1  # the loop counts its D updates


@pytest.mark.parametrize("preset, extra", [
    ("dcgan-mnist", []),  # batch-norm D: real and fake in separate passes
    ("wgangp-mnist", ["penalty.gp_weight=0", "remedies.pack=2"]),  # one pass over both; packed pairs
    ("cgan-mnist", []),  # labels into D
])
def test_r1_on_the_losss_own_real_pass_gives_the_textbook_gradients(tmp_path, preset, extra):
    """D's loss and R1 share one pass over the real batch; D's gradients equal those of the textbook
    form, which runs a second pass over the real batch for R1 (objectives.r1_penalty)."""
    from gankit.objectives import r1_penalty

    cfg = load_config(preset, MNIST + ["penalty.r1_gamma=2", "penalty.r1_every=1"] + extra)
    t = Trainer(cfg, tmp_path, progress=False)
    r, batch = t.recipe, t.next_batch()
    fake = r.generate(batch.z, batch.fake_labels).detach()
    conditional = batch.labels is not None

    def grads(loss):
        r.D.zero_grad(set_to_none=True)
        loss.backward()
        return [p.grad.clone() for p in r.D.parameters()]

    shared, stats = r.d_loss(batch, fake)
    got = grads(shared)
    critic = (lambda x: r.D(x, batch.labels)) if conditional else r.D
    d_fake = r.D(fake, batch.fake_labels) if conditional else r.D(fake)
    r1 = r1_penalty(critic, batch.real, cfg.remedies.pack)
    textbook = r.loss.d(critic(batch.real), d_fake) + 1.0 * r1  # gamma/2 = 1
    want = grads(textbook)
    assert stats["r1"].item() == pytest.approx(r1.item(), rel=1e-5)
    assert shared.item() == pytest.approx(textbook.item(), rel=1e-5)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("preset, extra, n_terms", [
    ("dcgan-mnist", ["penalty.r1_every=1"], 2),  # batch-norm D: the real pass (with R1), then the fake pass
    ("dcgan-mnist", ["penalty.r1_gamma=0", "penalty.gp_weight=1", "remedies.mbstd=true"], 2),  # minibatch std: two passes; the penalty joins the fake one
    ("wgangp-mnist", [], 1),  # one pass over real and fake, with the penalty's pass
])
def test_d_step_backpropagates_pass_by_pass_to_the_gradients_of_the_whole_loss(tmp_path, monkeypatch, preset, extra, n_terms):
    """D's phase backpropagates each of D's passes before it runs the next; D's gradients and logged
    loss are those of one backward of the whole loss (`d_loss`, one graph)."""
    cfg = load_config(preset, MNIST + extra)
    backward = torch.Tensor.backward
    calls = []
    monkeypatch.setattr(torch.Tensor, "backward", lambda self, *a, **k: (calls.append(1), backward(self, *a, **k))[1])
    results = []
    for whole in (False, True):
        t = Trainer(cfg, tmp_path / str(whole), progress=False)
        batch = t.next_batch()
        torch.manual_seed(0)  # WGAN-GP's mixing weights
        t.opt_d.zero_grad(set_to_none=True)
        calls.clear()
        if whole:
            loss, stats = t.recipe.d_loss(batch)
            loss.backward()
        else:
            stats = t.recipe.d_backward(batch)
            assert len(calls) == n_terms
        results.append(([p.grad.clone() for p in t.recipe.D.parameters()], stats))
    (by_pass, stats), (whole, stats_whole) = results
    assert stats.keys() == stats_whole.keys()
    for k in stats:
        assert stats[k].item() == pytest.approx(stats_whole[k].item(), rel=1e-5), k
    for a, b in zip(by_pass, whole):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_a_resumed_run_with_lazy_r1_matches_an_uninterrupted_one(tmp_path):
    from gankit.train.loop import resume, train

    lazy = ["penalty.r1_gamma=1", "penalty.r1_every=4", "train.steps=6"]
    whole = train(load_config("dcgan-mnist", MNIST + lazy), tmp_path / "whole", progress=False)
    train(load_config("dcgan-mnist", MNIST + lazy + ["train.steps=3"]), tmp_path / "half", progress=False)
    resumed = resume(tmp_path / "half", progress=False, steps=6)
    for a, b in zip(whole.recipe.D.parameters(), resumed.recipe.D.parameters()):
        assert torch.equal(a, b)  # R1 fell on updates 0 and 4 in both


# ---- linear layers on oneDNN ------------------------------------------------------------------
def test_linear_layers_on_onednn_train_the_same_weights_as_on_the_blas(tmp_path, monkeypatch):
    """train.onednn_linear changes where the products run, not what they compute: three steps of a
    maxout GAN (dropout included, from the same seeds) end at the same weights either way. (The
    table that puts them on oneDNN is forced: an Intel CPU with AVX-512 leaves them on MKL.)"""
    from gankit import accel
    monkeypatch.setattr(accel, "kernel_table", lambda: "onednn-wider")
    weights = []
    for on in (True, False):
        cfg = load_config("vanilla-mnist", ["model.g_width=256", "model.d_width=64", "optim.batch_size=16",
                                            "data.limit=64", "train.device=cpu", f"train.onednn_linear={str(on).lower()}"])
        t = Trainer(cfg, tmp_path / str(on), progress=False)
        assert sum(getattr(m, "onednn", False) for net in (t.recipe.G, t.recipe.D) for m in net.modules()) == (3 if on else 0)  # G 256->256, 256->784; D 784->320
        for _ in range(3):
            t.train_step()
        weights.append(torch.cat([p.detach().flatten() for p in [*t.recipe.G.parameters(), *t.recipe.D.parameters()]]))
    assert torch.allclose(weights[0], weights[1], atol=1e-4)


def test_a_compiled_run_leaves_its_linear_layers_to_torch_compile(tmp_path):
    cfg = load_config("vanilla-mnist", ["model.g_width=256", "data.limit=64", "train.device=cpu", "train.compile=true"])
    t = Trainer(cfg, tmp_path, progress=False)  # compilation itself waits for the first step
    assert not any(getattr(m, "onednn", False) for net in (t.recipe.G, t.recipe.D) for m in net.modules())


# ---- convolutions onto thin maps as products --------------------------------------------------
@pytest.mark.parametrize("preset, extra", [("dcgan-mnist", ["penalty.r1_every=1"]), ("hinge-mnist", []),
                                           ("wgangp-mnist", [])])
def test_thin_convolutions_as_products_train_the_same_weights(tmp_path, preset, extra):
    """train.thin_conv_products changes how G's last and D's first layers are computed, not what:
    three steps end at the same weights either way, through R1's and WGAN-GP's double backward and
    through spectral norm's parametrised weights."""
    weights = []
    for on in (True, False):
        cfg = load_config(preset, ["model.g_width=8", "model.d_width=8", "optim.batch_size=16", "data.limit=64",
                                   "train.device=cpu", f"train.thin_conv_products={str(on).lower()}", *extra])
        t = Trainer(cfg, tmp_path / str(on), progress=False)
        assert sum(getattr(m, "product_path", False) for net in (t.recipe.G, t.recipe.D) for m in net.modules()) == (2 if on else 0)
        for _ in range(3):
            t.train_step()
        weights.append(torch.cat([p.detach().flatten() for p in [*t.recipe.G.parameters(), *t.recipe.D.parameters()]]))
    assert torch.allclose(weights[0], weights[1], atol=1e-4)


def test_a_compiled_run_leaves_its_thin_convolutions_to_torch_compile(tmp_path):
    cfg = load_config("dcgan-mnist", ["model.g_width=8", "model.d_width=8", "optim.batch_size=16", "data.limit=64", "train.device=cpu",
                                      "train.compile=true", "penalty.r1_gamma=0"])
    t = Trainer(cfg, tmp_path, progress=False)
    assert not any(getattr(m, "product_path", False) for net in (t.recipe.G, t.recipe.D) for m in net.modules())


FAULTS_PER_STEP = """
import ctypes, resource, statistics, sys, torch
from gankit.memory import keep_freed_memory
ctypes.CDLL(None).prctl(41, 1, 0, 0, 0)  # PR_SET_THP_DISABLE: count faults in 4 KiB pages on any kernel setting
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
def step():  # tensors of a step's sizes (MiB), written, then all freed, as a training step's activations;
    # 40 MiB is above glibc's largest dynamic mmap threshold (32 MiB), so by default it is mmapped every time
    held = [torch.empty(n << 18).fill_(1.0) for n in (40, 4, 24, 2, 8)]
step()  # the first step faults its pages in either way
faults = []
for _ in range(20):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(kept, statistics.median(faults))
"""


def test_kept_freed_memory_is_not_faulted_in_again_by_every_step():
    import subprocess
    import sys

    # The median step, not the mean: a kept heap may still grow once in a while (one step of 2,048
    # faults among twenty of none, seen here), which is not the every-step cost this guards against.
    def faults_per_step(mode):
        out = subprocess.run([sys.executable, "-c", FAULTS_PER_STEP, mode], capture_output=True, text=True, check=True)
        kept, faults = out.stdout.split()
        return kept, float(faults)

    kept, kept_faults = faults_per_step("keep")
    if kept != "True":
        pytest.skip("no glibc mallopt here")
    _, default_faults = faults_per_step("default")
    assert default_faults > 5000  # at least the 40 MiB tensor's 10,240 pages of 4 KiB faulted in afresh
    assert kept_faults < 0.1 * default_faults
