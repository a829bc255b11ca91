"""Metrics: closed forms, unbiasedness, and the ordering real >> blurred >> collapsed / noise."""

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F

from gankit.metrics import METRICS, EvalContext, calc_metrics, direction
from gankit.metrics.frechet import frechet_distance, gaussian_stats, trace_sqrt_product
from gankit.metrics.kid import kid
from gankit.metrics.prdc import density_coverage, precision_recall
from gankit.metrics.stacked import stacked_modes


def _random_psd(d, rng):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_trace_sqrt_matches_scipy():
    rng = np.random.default_rng(0)
    s1, s2 = _random_psd(20, rng), _random_psd(20, rng)
    ref = np.trace(scipy.linalg.sqrtm(s1 @ s2)).real
    assert trace_sqrt_product(s1, s2) == pytest.approx(ref, rel=1e-9)


def test_frechet_closed_form_for_known_gaussians():
    # Diagonal Gaussians: d^2 = |mu1-mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2, exactly.
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.5, 2, 16), rng.uniform(0.5, 2, 16)
    mu1, mu2 = rng.standard_normal(16), rng.standard_normal(16)
    exact = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(exact, rel=1e-6)
    # A full covariance rotated the same way in both sets leaves the distance unchanged.
    q, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    got = frechet_distance(mu1 @ q.T, q @ np.diag(a) @ q.T, mu2 @ q.T, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(exact, rel=1e-6)
    # Same moments -> 0; from samples, stats match numpy's.
    assert frechet_distance(mu1, np.diag(a), mu1, np.diag(a)) == pytest.approx(0, abs=1e-9)
    x = torch.randn(500, 4, dtype=torch.float64)
    mu, s = gaussian_stats(x)
    assert np.allclose(s, np.cov(x.numpy(), rowvar=False)) and np.allclose(mu, x.numpy().mean(0))


def test_kid_is_unbiased_and_separates():
    gen = torch.Generator().manual_seed(0)
    same = [kid(torch.randn(200, 8, generator=gen), torch.randn(200, 8, generator=gen), subsets=1)["kid_mean"]
            for _ in range(60)]
    shifted = kid(torch.randn(200, 8, generator=gen), torch.randn(200, 8, generator=gen) + 0.5, subsets=10)
    mean, sem = np.mean(same), np.std(same) / np.sqrt(len(same))
    assert abs(mean) < 3 * sem + 1e-4  # centred on 0: unbiased (a biased estimate would be > 0)
    assert min(same) < 0  # the unbiased estimate goes negative sometimes
    assert shifted["kid_mean"] > 20 * abs(mean) and shifted["kid_subsets"] == 10


def test_precision_and_recall_each_drop_alone():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(1000, 2, generator=gen)
    # Collapsed onto a small part of the real support: precision stays high, recall drops.
    narrow = 0.2 * torch.randn(1000, 2, generator=gen)
    pr = precision_recall(real, narrow)
    assert pr["precision"] > 0.9 and pr["recall"] < 0.3
    # Spread far wider than the real data: recall stays high, precision drops.
    wide = 4 * torch.randn(1000, 2, generator=gen)
    pr = precision_recall(real, wide)
    assert pr["recall"] > 0.9 and pr["precision"] < 0.5
    dc = density_coverage(real, narrow)
    assert dc["coverage"] < 0.4  # samples pile up in a small part of the real support
    assert density_coverage(real, wide)["density"] < 0.5  # most samples far from real data
    dc = density_coverage(real, torch.randn(1000, 2, generator=gen))
    assert dc["coverage"] > 0.9 and 0.7 < dc["density"] < 1.3


@pytest.mark.parametrize("k", [3, 5])
def test_copies_of_the_reals_read_density_and_coverage_1(k):
    """Naeem et al.'s balls are open (<): a copy of the real point k-th nearest to x_j lies on x_j's
    ball's edge and is not counted, so copies of the reals read density 1, not (k+1)/k."""
    real = torch.randn(500, 8, generator=torch.Generator().manual_seed(1))
    dc = density_coverage(real, real.clone(), k=k)
    assert dc["density"] == pytest.approx(1.0, abs=1e-12) and dc["coverage"] == 1.0


def test_inception_score_uses_the_originals_split_bounds():
    from gankit.metrics.inception_score import inception_score

    # 20 one-hot samples alternating between 2 classes, 10 splits of 2: p(y) = (1/2, 1/2) in each,
    # every KL(p(y|x) || p(y)) = log 2, so IS = 2 in every split.
    probs = torch.eye(2).repeat(10, 1)
    out = inception_score(probs, splits=10)
    assert out["is_splits"] == 10 and out["is_mean"] == pytest.approx(2.0) and out["is_std"] == pytest.approx(0.0)
    # N = 11: still 10 splits (sizes 1, ..., 1, 2), where chunk() gave 6; a split of one sample reads IS 1.
    out = inception_score(torch.eye(2).repeat(6, 1)[:11], splits=10)
    assert out["is_splits"] == 10
    assert out["is_mean"] == pytest.approx((9 * 1.0 + 2.0) / 10)


def test_inception_probabilities_leave_out_the_fc_bias():
    from gankit.metrics.inception import FIDInception

    net = FIDInception().eval()
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        feats, probs = net(x)
        net.fc.bias.fill_(5.0)
        net.fc.bias[0] = 50.0  # a bias that would dominate the softmax
        _, probs_biased = net(x)
    torch.testing.assert_close(probs, (feats @ net.fc.weight.T).softmax(1))
    torch.testing.assert_close(probs_biased, probs)


def test_stacked_modes_and_kl():
    every = torch.stack(torch.meshgrid(torch.arange(10), torch.arange(10), torch.arange(10), indexing="ij"), -1)
    r = stacked_modes(every.reshape(-1, 3))
    assert r["modes"] == 1000 and r["kl_uniform"] == pytest.approx(0, abs=1e-12)
    one = stacked_modes(torch.tensor([[1, 2, 3]] * 50))
    assert one["modes"] == 1 and one["kl_uniform"] == pytest.approx(np.log(1000))


def _blur(x, sigma=1.0):
    r = torch.arange(-4, 5, dtype=torch.float32)
    k = torch.exp(-r ** 2 / (2 * sigma ** 2))
    k = (k / k.sum())
    x = F.conv2d(F.pad(x, (4, 4, 0, 0), mode="replicate"), k.view(1, 1, 1, 9))
    return F.conv2d(F.pad(x, (0, 0, 4, 4), mode="replicate"), k.view(1, 1, 9, 1))


@pytest.fixture(scope="session")
def mnist_eval():
    from gankit.metrics.domain import DomainExtractor, mnist_split
    train_x, _, held_x, _ = mnist_split()
    ext = DomainExtractor()
    gen = torch.Generator().manual_seed(0)
    sets = {
        "real": held_x,
        "blurred": _blur(held_x),
        "collapsed": train_x[:1].repeat(len(held_x), 1, 1, 1),
        "noise": torch.rand(held_x.shape, generator=gen) * 2 - 1,
    }
    reference = train_x[:2000]  # half the training digits: enough, and twice as fast
    return {k: calc_metrics(None, EvalContext(v, reference, ext)) for k, v in sets.items()}


def test_ordering_real_blurred_collapsed_noise(mnist_eval):
    r = mnist_eval
    checked = []
    for name, metric in METRICS.items():
        for key, better in metric.better.items():
            if key not in r["real"] or key == "memorised":
                continue
            sign = 1 if better == "max" else -1
            score = {k: sign * r[k][key] for k in r}
            if key == "classes_covered":  # a count that both reach in full (10 of 10)
                assert score["real"] >= score["blurred"]
            else:
                assert score["real"] > score["blurred"], (key, r["real"][key], r["blurred"][key])
            # Precision and density measure fidelity alone: copies of one real digit are perfectly
            # faithful, so only recall-type values must rank them below blurred digits.
            for bad in ("noise",) if key in ("precision", "density") else ("collapsed", "noise"):
                # ">=": a bounded metric can tie at its worst value (precision 0 for noise).
                assert score["blurred"] >= score[bad], (key, bad, r["blurred"][key], r[bad][key])
            checked.append(key)
    assert {"fd", "kid_mean", "is_mean", "precision", "recall", "density", "coverage", "class_kl",
            "classes_covered"} <= set(checked)
    assert r["real"]["fd"] * 10 < r["blurred"]["fd"]  # "far better"
    assert r["real"]["n_fake"] == 1000 and r["real"]["n_real"] == 2000


def test_memorisation_flags_copies(mnist_eval):
    assert mnist_eval["collapsed"]["memorised"] == 1.0  # a copy of one training digit
    assert mnist_eval["real"]["memorised"] < 0.05
    assert mnist_eval["noise"]["memorised"] == 0.0


def test_neighbour_distances_of_close_points_are_exact():
    """Points on a unit ring 1e-4 apart: the matrix-product form of cdist rounded such distances to 0;
    neighbours.distances matches float64 differences, and the memorisation check on fresh ring data
    flags about its 1% quantile instead of every sample that rounded onto a training point."""
    from gankit.metrics.memorisation import memorisation
    from gankit.metrics.neighbours import pairwise_min_k

    g = torch.Generator().manual_seed(0)
    def ring(n):
        x = torch.randn(n, 2, generator=g)
        return x / x.norm(dim=1, keepdim=True) + 1e-4 * torch.randn(n, 2, generator=g)

    train = ring(5000)
    got = pairwise_min_k(train[:300], train, 1, exclude_self=True)
    want = torch.cdist(train[:300].double(), train.double()).topk(2, largest=False).values[:, 1]
    torch.testing.assert_close(got.double(), want, rtol=1e-3, atol=1e-7)
    assert got.min() > 0
    m = memorisation(train, ring(2000))
    assert m["memorisation_threshold"] > 0 and m["memorised"] < 0.03


def test_direction_names():
    assert direction("fd") == "min" and direction("recall") == "max"


def test_stacked_mnist_modes_from_held_out_digits():
    from gankit.metrics.domain import DomainExtractor, mnist_split
    _, _, held_x, held_y = mnist_split()
    gen = torch.Generator().manual_seed(0)
    idx = torch.randint(0, len(held_x), (3000, 3), generator=gen)
    stacked = torch.cat([held_x[idx[:, c]] for c in range(3)], 1)  # (3000, 3, 28, 28)
    ctx = EvalContext(stacked, stacked[:500], DomainExtractor())
    assert ctx.is_stacked and not ctx.has_probs
    r = calc_metrics(["stacked", "fd"], ctx)
    truth = stacked_modes(held_y[idx])  # the modes of the true digit labels
    assert abs(r["modes"] - truth["modes"]) <= 30 and r["modes"] > 900
    assert r["kl_uniform"] < truth["kl_uniform"] + 0.1
    collapsed = calc_metrics(["stacked"], EvalContext(stacked[:1].repeat(500, 1, 1, 1), stacked[:2], DomainExtractor()))
    assert collapsed["modes"] == 1 and collapsed["kl_uniform"] == pytest.approx(np.log(1000))
