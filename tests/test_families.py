"""Issue 3: losses and penalties against hand computations, remedy layers, and one step of each
recipe updating only the network it should."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gankit.configure import load_config
from gankit.data.load import _mnist, _stacked_mnist, load_dataset
from gankit.data.toy import MIXTURES, sample_mixture
from gankit.errors import UserError
from gankit.metrics.mixture import mixture_stats
from gankit.metrics.stacked import stacked_modes
from gankit.nets.remedies import MinibatchDiscrimination, minibatch_std, pack
from gankit.objectives import LOSSES, gradient_penalty, r1_penalty
from gankit.train.loop import Trainer

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def sp(x: float) -> float:
    return math.log1p(math.exp(x))


# ---- losses and penalties by hand ---------------------------------------------------------------
def test_losses_by_hand():
    bce = (sp(-2) + sp(1)) / 2 + (sp(0.5) + sp(-3)) / 2
    cases = {
        "nonsat": (bce, (sp(-0.5) + sp(3)) / 2),
        "minimax": (bce, -(sp(0.5) + sp(-3)) / 2),
        "wasserstein": ((0.5 - 3) / 2 - (2 - 1) / 2, -(0.5 - 3) / 2),
        "hinge": ((0 + 2) / 2 + (1.5 + 0) / 2, -(0.5 - 3) / 2),
        "lsgan": (0.5 * (1 + 4) / 2 + 0.5 * (0.25 + 9) / 2, 0.5 * (0.25 + 16) / 2),
    }
    for name, (d, g) in cases.items():
        assert LOSSES[name].d(REAL, FAKE).item() == pytest.approx(d, rel=1e-6), name
        assert LOSSES[name].g(FAKE).item() == pytest.approx(g, rel=1e-6), name


def quadratic(x):  # f(x) = 1/2 ||x||^2 per sample, so grad f(x) = x
    return 0.5 * (x**2).flatten(1).sum(1)


def test_gradient_penalty_one_weight_per_sample_norm_over_all_dims():
    real, fake = torch.ones(2, 1, 2, 2), torch.zeros(2, 1, 2, 2)
    eps = torch.tensor([0.25, 0.5])
    # x_hat_i = eps_i * 1 over 4 dims: ||grad|| = 2 eps_i = 0.5, 1.0 -> ((0.5-1)^2 + 0) / 2
    assert gradient_penalty(quadratic, real, fake, eps).item() == pytest.approx(0.125)
    # packing pairs samples 0 and 1: one norm over 8 dims = sqrt(4*0.0625 + 4*0.25)
    expected = (math.sqrt(4 * 0.0625 + 4 * 0.25) - 1) ** 2
    assert gradient_penalty(quadratic, real, fake, eps, pack=2).item() == pytest.approx(expected)


def test_r1_penalty_by_hand():
    real = torch.tensor([[1.0, 2.0], [0.0, 3.0]])
    assert r1_penalty(quadratic, real).item() == pytest.approx((5 + 9) / 2)


# ---- remedy layers ----------------------------------------------------------------------------
def test_pack_groups_consecutive_samples():
    x = torch.arange(12.0).view(6, 2)
    p = pack(x, 3)
    assert p.shape == (2, 6)
    assert p[1].tolist() == [6, 7, 8, 9, 10, 11]
    img = torch.randn(4, 3, 5, 5)
    assert pack(img, 2).shape == (2, 6, 5, 5)
    assert torch.equal(pack(img, 2)[1, 3:], img[3])


def test_minibatch_std_known_input():
    h = torch.tensor([[0.0, 1.0], [2.0, 3.0]])  # each feature has std 1 over the batch
    out = minibatch_std(h)
    assert out.shape == (2, 1)
    assert torch.allclose(out, torch.ones(2, 1), atol=1e-6)


def test_minibatch_discrimination_known_input():
    layer = MinibatchDiscrimination(2, kernels=1, kernel_dim=2)
    with torch.no_grad():
        layer.T.copy_(torch.eye(2))
    h = torch.tensor([[0.0, 0.0], [1.0, 2.0], [0.0, 1.0]])
    out = layer(h)
    assert out.shape == (3, 3)
    assert torch.equal(out[:, :2], h)
    # L1 distances: d01 = 3, d02 = 1, d12 = 2
    expected = [math.exp(-3) + math.exp(-1), math.exp(-3) + math.exp(-2), math.exp(-1) + math.exp(-2)]
    assert out[:, 2].tolist() == pytest.approx(expected, rel=1e-6)


# ---- one step of each recipe -------------------------------------------------------------------
TOY = ["model.g_width=16", "model.d_width=16", "optim.batch_size=12", "train.device=cpu", "data.limit=600"]
MNIST = ["model.g_width=8", "model.d_width=8", "optim.batch_size=8", "train.device=cpu", "data.limit=64",
         "model.z_dim=8"]
SETTINGS = {
    "gan": ("ring", TOY + ["remedies.pack=1"]),
    "pacgan3": ("ring", TOY + ["remedies.pack=3"]),
    "mbdisc+mbstd": ("grid", TOY + ["remedies.pack=1", "remedies.minibatch_disc=4", "remedies.mbstd=true"]),
    "unrolled": ("ring", TOY + ["remedies.pack=1", "remedies.unrolled_steps=2"]),
    "wgangp-toy": ("grid", TOY + ["loss=wasserstein", "penalty.gp_weight=10", "penalty.r1_gamma=0"]),
    "r1": ("ring", TOY + ["penalty.r1_gamma=1"]),
    "ema": ("ring", TOY + ["remedies.ema=0.9"]),
    "ema+bn-g": ("ring", TOY + ["remedies.ema=0.9", "model.g_batch_norm=true"]),
    "cgan-projection": ("cgan-mnist", MNIST),
    "cgan-concat": ("cgan-mnist", MNIST + ["model.cond_mode=concat"]),
    "wgan": ("wgan-mnist", MNIST),
    "wgangp": ("wgangp-mnist", MNIST),
    "hinge": ("hinge-mnist", MNIST),
    "lsgan": ("lsgan-mnist", MNIST),
    "stacked": ("stacked-mnist", MNIST),
}


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before, module):
    return any(not torch.equal(before[k], v) for k, v in module.state_dict().items() if k in before and v.dtype.is_floating_point)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_one_step_updates_only_the_right_network(name, tmp_path):
    preset, overrides = SETTINGS[name]
    trainer = Trainer(load_config(preset, overrides), tmp_path, progress=False)
    r = trainer.recipe
    G_params = {k: v.detach().clone() for k, v in r.G.named_parameters()}
    D_params = {k: v.detach().clone() for k, v in r.D.named_parameters()}
    trainer.d_step()
    assert all(torch.equal(G_params[k], v) for k, v in r.G.named_parameters()), "a D step moved G"
    assert any(not torch.equal(D_params[k], v) for k, v in r.D.named_parameters()), "a D step left D unchanged"
    if r.G_ema is not None:
        ema_before = snapshot(r.G_ema)
    D_params = {k: v.detach().clone() for k, v in r.D.named_parameters()}
    trainer.g_step()
    assert all(torch.equal(D_params[k], v) for k, v in r.D.named_parameters()), "a G step moved D"
    assert any(not torch.equal(G_params[k], v) for k, v in r.G.named_parameters()), "a G step left G unchanged"
    if r.G_ema is not None:
        assert changed(ema_before, r.G_ema)
        decay = trainer.cfg.remedies.ema  # the ring preset ships one, so most toy settings have it
        for e, p0, p1 in zip(r.G_ema.parameters(), G_params.values(), r.G.parameters()):
            assert torch.allclose(e, decay * p0 + (1 - decay) * p1, atol=1e-6)  # ema started as a copy of G
        assert "G_ema" in r.modules()
    if "clip" in name or name == "wgan":
        assert all(p.abs().max() <= 0.01 + 1e-7 for p in r.D.parameters())


@pytest.mark.parametrize("name, joint", [("pacgan3", True), ("cgan-concat", False), ("wgangp", True),
                                         ("mbdisc+mbstd", False), ("hinge", True)])
def test_one_pass_over_real_and_fake_equals_two(name, joint, tmp_path):
    """A D that scores samples independently sees real and fake in one pass; the loss is the same
    as with two passes. Batch norm or batch statistics in D keep two passes."""
    preset, overrides = SETTINGS[name]
    trainer = Trainer(load_config(preset, overrides + ["model.dropout=0"]), tmp_path, progress=False)
    r = trainer.recipe
    assert r.joint_d is joint
    batch = trainer.next_batch()
    with torch.no_grad():
        fake = r.generate(batch.z, batch.fake_labels)
    r.D.train(not joint)  # joint: eval mode, so spectral norm's power iteration stays put between the calls

    def loss():
        torch.manual_seed(0)  # WGAN-GP's mixing weights
        return r.d_loss(batch, fake)[0]

    one = loss()
    r.joint_d = not joint
    two = loss()
    if not joint:  # the other way round is wrong: batch statistics would mix real and fake
        assert not torch.allclose(one, two)
    else:
        assert torch.allclose(one, two, rtol=1e-5, atol=1e-6)


def test_unrolled_steps_leave_D_untouched_and_change_G_gradient(tmp_path):
    grads = {}
    for k in (0, 3):
        cfg = load_config("ring", TOY + ["remedies.pack=1", f"remedies.unrolled_steps={k}"])
        trainer = Trainer(cfg, tmp_path / str(k), progress=False)
        r = trainer.recipe
        before = snapshot(r.D)
        batch = trainer.next_batch()
        loss, _ = r.g_loss(batch)
        loss.backward()
        assert not changed(before, r.D)
        assert all(p.grad is not None or k == 0 for p in r.G.parameters())
        grads[k] = torch.cat([p.grad.flatten() for p in r.G.parameters()])
    # same seed, same weights, same batch: only differentiating through the unrolled D differs
    assert not torch.allclose(grads[0], grads[3])


def test_conditional_labels_and_projection_depend_on_label(tmp_path):
    trainer = Trainer(load_config("cgan-mnist", MNIST), tmp_path, progress=False)
    r = trainer.recipe
    gen = torch.Generator().manual_seed(0)
    y = r.sample_labels(500, gen)
    assert y.min() >= 0 and y.max() <= 9 and len(torch.unique(y)) == 10
    x = trainer.data.take(torch.arange(4))
    assert not torch.allclose(r.D(x, torch.zeros(4, dtype=torch.long)), r.D(x, torch.ones(4, dtype=torch.long)))


def test_config_checks():
    with pytest.raises(UserError, match="remedies.pack"):
        load_config("ring", ["remedies.pack=5"])  # 192 is not a multiple of 5
    with pytest.raises(UserError, match="remedies.ema"):
        load_config("ring", ["remedies.ema=1.0"])
    with pytest.raises(UserError, match="cond_mode"):
        load_config("cgan-mnist", ["model.cond_mode=sum"])


# ---- data and metric ---------------------------------------------------------------------------
def test_stacked_mnist_is_fixed_labelled_and_near_uniform():
    (a, labels_a), (_, labels_b) = _stacked_mnist(), _stacked_mnist()
    assert np.array_equal(labels_a, labels_b)  # the same set every run
    digits, digit_labels = _mnist()
    first = np.flatnonzero(labels_a // 100 == 7)[0]  # channel 0 holds the hundreds digit
    match = np.flatnonzero((digits.astype(np.uint8) == a[first, 0]).all((1, 2)))
    assert digit_labels[match[0]] == 7
    # 128,000 stacks: close to uniform over the 1,000 modes (a 10,000-stack set sits at KL 0.05)
    triples = torch.as_tensor(np.stack([labels_a // 100, labels_a // 10 % 10, labels_a % 10], 1))
    assert stacked_modes(triples)["kl_uniform"] < 0.01
    data = load_dataset(load_config("stacked-mnist").data)
    assert data.pixels.shape == (len(labels_a), 3, 28, 28) and data.pixels.dtype == torch.uint8 and data.num_classes == 1000
    assert data.pixels.min() == 0 and data.pixels.max() == 255  # uint8 as stored (301 MB, not 1.2 GB of float32)
    x = data.take(torch.arange(2000))
    assert x.min() == -1.0 and x.max() == 1.0


def test_mixture_stats_separate_good_from_collapsed():
    for name in ("ring", "grid"):
        means, std = MIXTURES[name]
        good = mixture_stats(sample_mixture(name, 2500, seed=1)[0], name)
        assert good["modes"] == len(means) and good["hq"] > 0.95 and good["reverse_kl"] < 0.02
        collapsed = mixture_stats(np.repeat(means[:1], 2500, 0), name)
        assert collapsed["modes"] == 1 and collapsed["hq"] == 1.0
        assert collapsed["reverse_kl"] == pytest.approx(math.log(len(means)))
        far = mixture_stats(means[:2] + 10 * std, name)
        assert far["modes"] == 0 and far["hq"] == 0.0
