import math

import torch

from gankit.objectives import LOSSES, g_loss_lsgan, g_loss_minimax, g_loss_nonsat, g_loss_wasserstein

d_loss_bce, d_loss_wasserstein, d_loss_hinge, d_loss_lsgan = (LOSSES[k].d for k in ("nonsat", "wasserstein", "hinge", "lsgan"))

REAL = torch.tensor([2.0, -1.0, 0.5])
FAKE = torch.tensor([-3.0, 0.0, 1.0])


def sig(v):
    return 1 / (1 + math.exp(-v))


def test_discriminator_bce_matches_the_value_function():
    # -(1/3) sum log D(x) - (1/3) sum log(1 - D(G(z))), computed with plain math
    expected = -sum(math.log(sig(v)) for v in REAL.tolist()) / 3 - sum(math.log(1 - sig(v)) for v in FAKE.tolist()) / 3
    assert abs(d_loss_bce(REAL, FAKE).item() - expected) < 1e-6


def test_minimax_generator_descends_log_one_minus_d():
    expected = sum(math.log(1 - sig(v)) for v in FAKE.tolist()) / 3
    assert abs(g_loss_minimax(FAKE).item() - expected) < 1e-6


def test_non_saturating_generator_ascends_log_d():
    expected = -sum(math.log(sig(v)) for v in FAKE.tolist()) / 3
    assert abs(g_loss_nonsat(FAKE).item() - expected) < 1e-6


def test_losses_stay_finite_and_informative_for_a_confident_discriminator():
    fake = torch.tensor([-200.0], requires_grad=True)  # D is sure the fake is fake: sigmoid underflows
    loss = g_loss_nonsat(fake)
    loss.backward()
    assert torch.isfinite(loss) and abs(loss.item() - 200.0) < 1e-3
    assert abs(fake.grad.item() + 1.0) < 1e-6  # non-saturating: gradient -1, not 0
    fake2 = torch.tensor([-200.0], requires_grad=True)
    g_loss_minimax(fake2).backward()
    assert abs(fake2.grad.item()) < 1e-6  # the minimax loss saturates exactly as the paper says
    assert torch.isfinite(d_loss_bce(torch.tensor([300.0]), torch.tensor([-300.0])))


def test_other_losses_against_their_formulas():
    assert abs(d_loss_wasserstein(REAL, FAKE).item() - ((-3 + 0 + 1) / 3 - (2 - 1 + 0.5) / 3)) < 1e-6
    assert abs(g_loss_wasserstein(FAKE).item() - 2 / 3) < 1e-6
    hinge = (max(0, 1 - 2) + max(0, 1 + 1) + max(0, 1 - 0.5)) / 3 + (max(0, 1 - 3) + max(0, 1 + 0) + max(0, 1 + 1)) / 3
    assert abs(d_loss_hinge(REAL, FAKE).item() - hinge) < 1e-6
    ls_d = 0.5 * ((2 - 1) ** 2 + (-1 - 1) ** 2 + (0.5 - 1) ** 2) / 3 + 0.5 * (9 + 0 + 1) / 3
    assert abs(d_loss_lsgan(REAL, FAKE).item() - ls_d) < 1e-6
    assert abs(g_loss_lsgan(FAKE).item() - 0.5 * (16 + 1 + 0) / 3) < 1e-6
    assert set(LOSSES) == {"nonsat", "minimax", "wasserstein", "hinge", "lsgan"}


def test_r1_weight_is_gamma_half_or_lazily_n_times_that_on_every_nth_update():
    from gankit.objectives import r1_weight

    assert [r1_weight(2.0, 1, k) for k in range(3)] == [1.0, 1.0, 1.0]
    assert [r1_weight(2.0, 4, k) for k in range(9)] == [4.0, 0, 0, 0, 4.0, 0, 0, 0, 4.0]  # mean 1.0, as above
    assert r1_weight(0.0, 4, 0) == 0.0
