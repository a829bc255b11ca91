"""The semi-supervised GAN: the K+1-class loss by hand, feature matching's gradient, the label split,
the recipe's phases and `gankit classify`."""

import csv
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gankit.cli import main
from gankit.config import DataConfig
from gankit.configure import load_config
from gankit.data import load_dataset
from gankit.data.split import UNLABELLED, drop_labels
from gankit.errors import UserError
from gankit.nets import ConvSSGANDiscriminator, SSGANDiscriminator
from gankit.objectives import (class_entropy, consistency_loss, feature_matching_loss, real_probability, supervised_loss,
                               unsupervised_loss)
from gankit.recipes import Batch, build_recipe

TINY = ["model.g_width=16", "model.d_width=64", "model.z_dim=8", "optim.batch_size=32", "data.limit=1000",
        "data.held_out=200", "data.labelled=50", "train.log_every=10", "train.sample_every=1000",
        "train.checkpoint_every=1000", "train.grid_size=16",
        "ssgan.d_ema=0",  # D itself classifies: an average over a few tiny steps would still be near D's start
        "ssgan.shift=0", "ssgan.consistency_weight=0"]  # the paper's terms alone; the extras are tested one by one


# ---- the loss ---------------------------------------------------------------------------------

def test_k_plus_one_loss_by_hand():
    # Two classes. Real logits (0, 0): Z = 2, D(x) = 2/3. Fake logits (ln 1/2, ln 1/2): Z = 1, D = 1/2.
    real = torch.tensor([[0.0, 0.0]])
    fake = torch.tensor([[math.log(0.5), math.log(0.5)]])
    torch.testing.assert_close(real_probability(real), torch.tensor([2 / 3]))
    torch.testing.assert_close(real_probability(fake), torch.tensor([0.5]))
    expected = 0.5 * -math.log(2 / 3) + 0.5 * -math.log(1 - 0.5)
    assert unsupervised_loss(real, fake).item() == pytest.approx(expected, rel=1e-6)
    # Labelled (ln 3, 0) with label 0: p(0 | real) = 3 / (3 + 1), the fake class playing no part.
    assert supervised_loss(torch.tensor([[math.log(3.0), 0.0]]), torch.tensor([0])).item() == pytest.approx(-math.log(0.75))


def test_k_plus_one_loss_is_a_k_plus_1_softmax_with_the_fake_logit_at_zero():
    torch.manual_seed(0)
    real, fake, labels = 3 * torch.randn(6, 10), 3 * torch.randn(6, 10), torch.randint(0, 10, (6,))
    p_real = torch.softmax(torch.cat([real, torch.zeros(6, 1)], 1), 1)  # class 10 = fake
    p_fake = torch.softmax(torch.cat([fake, torch.zeros(6, 1)], 1), 1)
    torch.testing.assert_close(real_probability(real), 1 - p_real[:, 10])
    expected = -0.5 * torch.log(1 - p_real[:, 10]).mean() - 0.5 * torch.log(p_fake[:, 10]).mean()
    torch.testing.assert_close(unsupervised_loss(real, fake), expected)
    conditional = p_real[:, :10] / (1 - p_real[:, 10:])  # p(y | x, real)
    torch.testing.assert_close(supervised_loss(real, labels), -torch.log(conditional[torch.arange(6), labels]).mean())
    # Confident logits stay finite (logsumexp and softplus, never log of a ratio).
    assert torch.isfinite(unsupervised_loss(torch.full((2, 3), -200.0), torch.full((2, 3), 200.0)))


def test_feature_matching_by_hand():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # mean (2, 3)
    fake = torch.tensor([[0.0, 0.0], [2.0, 2.0]])  # mean (1, 1)
    assert feature_matching_loss(real, fake).item() == pytest.approx((1 + 4) / 2)  # the paper's squared norm
    assert feature_matching_loss(real, fake, "squared").item() == pytest.approx((1 + 4) / 2)
    assert feature_matching_loss(real, fake, "abs").item() == pytest.approx((1 + 2) / 2)  # the authors' code
    with pytest.raises(ValueError, match="abs or squared"):
        feature_matching_loss(real, fake, "l1")


# ---- the nets ---------------------------------------------------------------------------------

def test_data_init_gives_unit_pre_activations():
    torch.manual_seed(0)
    D = SSGANDiscriminator((1, 4, 4), (8, 6), 3, input_noise=0.0, hidden_noise=0.0)
    x = torch.rand(64, 1, 4, 4) * 2 - 1
    D.data_init(x)
    h = (x.flatten(1) + 1) / 2
    for layer in [*D.hidden, D.head]:
        pre = layer(h)
        torch.testing.assert_close(pre.mean(0), torch.zeros(pre.shape[1]), atol=1e-5, rtol=0)
        torch.testing.assert_close(pre.std(0, unbiased=False), torch.ones(pre.shape[1]), atol=1e-4, rtol=0)
        h = F.relu(pre)
    # Hidden layers keep the scale the initialisation set (a buffer); the last layer trains its own.
    assert "hidden.0.parametrizations.weight.0.scale" in dict(D.named_buffers())
    assert "head.parametrizations.weight.0.scale" in dict(D.named_parameters())
    # Noise acts while training only.
    D2 = SSGANDiscriminator((1, 4, 4), (8,), 3, input_noise=0.3, hidden_noise=0.5)
    assert not torch.equal(D2(x), D2(x))
    D2.eval()
    assert torch.equal(D2(x), D2(x))
    # What G matches is the last hidden layer before its own noise: with no noise below it, it is exact.
    D3 = SSGANDiscriminator((1, 4, 4), (8,), 3, input_noise=0.0, hidden_noise=0.5)
    torch.testing.assert_close(D3.features(x), F.relu(D3.hidden[0]((x.flatten(1) + 1) / 2)))
    assert not torch.equal(D3(x), D3(x))  # while its noise still reaches the logits


def test_conv_d_data_init_and_weight_norm():
    torch.manual_seed(0)
    D = ConvSSGANDiscriminator((1, 12, 12), 4, 3, input_noise=0.0, hidden_noise=0.0)
    x = torch.rand(64, 1, 12, 12) * 2 - 1
    D.data_init(x)
    h = (x + 1) / 2
    for stage in D.stages:
        for layer in stage:  # each convolution's outputs: zero mean, unit variance per channel
            pre = layer(h)
            torch.testing.assert_close(pre.mean((0, 2, 3)), torch.zeros(pre.shape[1]), atol=1e-5, rtol=0)
            torch.testing.assert_close(pre.std((0, 2, 3), unbiased=False), torch.ones(pre.shape[1]), atol=1e-4, rtol=0)
            # w = g v / ||v||: each output channel's filter has the norm g
            scale = layer.parametrizations.weight[0].scale.flatten()
            torch.testing.assert_close(layer.weight.flatten(1).norm(dim=1), scale)
            h = F.leaky_relu(pre, 0.2)
    assert h.shape == (64, 8, 1, 1)  # 12 -> 6 -> 3 -> unpadded 3x3 -> 1
    features = h.mean((2, 3))
    torch.testing.assert_close(D.features(x), features)
    pre = D.head(features)
    torch.testing.assert_close(pre.std(0, unbiased=False), torch.ones(3), atol=1e-4, rtol=0)
    assert "stages.0.0.parametrizations.weight.0.scale" in dict(D.named_buffers())  # hidden scales fixed
    assert "head.parametrizations.weight.0.scale" in dict(D.named_parameters())
    D2 = ConvSSGANDiscriminator((1, 12, 12), 4, 3, input_noise=0.3, hidden_noise=0.5)
    assert not torch.equal(D2(x), D2(x))
    D2.eval()
    assert torch.equal(D2(x), D2(x))


def test_conv_d_and_shift_in_the_recipe():
    torch.manual_seed(0)
    cfg = load_config("ssgan-mnist", TINY + ["ssgan.d_arch=conv", "model.d_width=4", "ssgan.shift=2"])
    recipe = build_recipe(cfg, load_dataset(cfg.data))
    assert isinstance(recipe.D, ConvSSGANDiscriminator)
    batch = _batch(recipe)
    seen = []
    hook = recipe.D.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    try:
        recipe.d_backward(batch)
        recipe.g_backward(batch)
    finally:
        hook.remove()
    # D's step sees the labelled, real and fake batches, shifted (G's step calls D.features, not the hook)
    lab_unl_fake = seen[0]
    assert lab_unl_fake.shape[0] == 3 * len(batch.real)
    shifted_real = lab_unl_fake[len(batch.real):2 * len(batch.real)]
    assert not torch.equal(shifted_real, batch.real)
    # each is the real image moved by whole pixels (at most 2 each way), the background filling in
    for got, real in zip(shifted_real, batch.real):
        padded = F.pad(real, (2, 2, 2, 2), value=-1.0)
        assert any(torch.equal(got, padded[:, 2 - dy:30 - dy, 2 - dx:30 - dx])
                   for dy in range(-2, 3) for dx in range(-2, 3))
    small = load_config("ssgan-mnist", TINY + ["ssgan.d_arch=conv", "data.resolution=8"])
    with pytest.raises(UserError, match="ssgan.d_arch.*at least 9 pixels.*8x8"):
        build_recipe(small, load_dataset(small.data))
    with pytest.raises(UserError, match="ssgan.d_arch.*dense or conv"):
        load_config("ssgan-mnist", ["ssgan.d_arch=resnet"])
    with pytest.raises(UserError, match="ssgan.shift"):
        load_config("ssgan-mnist", ["ssgan.shift=-1"])


# ---- the split --------------------------------------------------------------------------------

def test_split_sizes_balance_and_seed():
    labels = np.repeat(np.arange(10), 50)
    kept = drop_labels(labels, 30, seed=1)
    assert (kept != UNLABELLED).sum() == 30 and np.bincount(kept[kept != UNLABELLED]).tolist() == [3] * 10
    assert np.array_equal(kept[kept != UNLABELLED], labels[kept != UNLABELLED])  # kept labels are the true ones
    assert np.array_equal(drop_labels(labels, 30, seed=1), kept)  # the same seed draws the same examples
    assert not np.array_equal(drop_labels(labels, 30, seed=2), kept)
    with pytest.raises(UserError, match="data.labelled.*multiple of 10"):
        drop_labels(labels, 35, seed=0)


def test_bundled_digits_split():
    cfg = DataConfig(held_out=1000, labelled=100, label_seed=0)
    train, test = load_dataset(cfg), load_dataset(cfg, held_out=True)
    assert (len(train), len(test)) == (4000, 1000)
    assert test.labels.min() >= 0 and len(torch.unique(test.labels)) == 10  # every test digit keeps its label
    known = train.labels >= 0
    assert int(known.sum()) == 100 and np.bincount(train.labels[known].numpy()).tolist() == [10] * 10
    # No test digit is trained on, and the test set is the same whatever the label seed.
    train_rows = {row.numpy().tobytes() for row in train.floats().flatten(1)}
    assert not any(row.numpy().tobytes() in train_rows for row in test.floats().flatten(1))
    other = load_dataset(DataConfig(held_out=1000, labelled=100, label_seed=1), held_out=True)
    assert torch.equal(other.floats(), test.floats())
    assert not torch.equal(load_dataset(DataConfig(held_out=1000, labelled=100, label_seed=1)).labels, train.labels)


def test_split_errors_name_their_key():
    with pytest.raises(UserError, match="data.labelled.*no class labels"):
        load_dataset(DataConfig(source="faces", resolution=25, labelled=10))
    with pytest.raises(UserError, match="data.held_out.*no test examples"):
        load_dataset(DataConfig(), held_out=True)
    cfg = load_config("dcgan-mnist", ["data.labelled=100"])
    with pytest.raises(UserError, match="data.labelled.*recipe gan cannot learn from unlabelled"):
        build_recipe(cfg, load_dataset(cfg.data))


# ---- the recipe -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_recipe():
    torch.manual_seed(0)
    cfg = load_config("ssgan-mnist", TINY)
    return build_recipe(cfg, load_dataset(cfg.data))


def _batch(recipe, n=16):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 28, 28, generator=gen) * 2 - 1
    return Batch(real=x, labels=None, z=recipe.sample_z(n, gen), fake_labels=None)


def test_feature_matching_gradient_reaches_g_only(tiny_recipe):
    recipe = tiny_recipe
    for module in recipe.modules().values():
        module.zero_grad(set_to_none=True)
    stats = recipe.g_backward(_batch(recipe))
    assert stats["loss_g"] > 0
    assert all(p.grad is None for p in recipe.D.parameters())
    assert all(p.requires_grad for p in recipe.D.parameters())  # D unfrozen again after G's step
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in recipe.G.parameters())


@pytest.mark.parametrize("kind", ["abs", "squared"])
def test_g_matches_the_noisy_last_hidden_layer(tiny_recipe, kind):
    # G's loss is ssgan.feature_matching's distance between the batch means of D's last hidden layer
    # (before its own noise; the noise below it on) on the real batch and the fakes (the authors' MNIST code).
    recipe, batch = tiny_recipe, _batch(tiny_recipe)
    recipe.feature_matching = kind
    try:
        torch.manual_seed(5)
        loss = recipe.g_backward(batch)["loss_g"]
        torch.manual_seed(5)  # the same noise draws, in the same order: real batch, then fakes
        with torch.no_grad():
            diff = recipe.D.features(batch.real).mean(0) - recipe.D.features(recipe.G(batch.z)).mean(0)
        expected = diff.abs().mean() if kind == "abs" else diff.pow(2).mean()
        torch.testing.assert_close(loss, expected)
    finally:
        recipe.feature_matching = "squared"
    x = batch.real
    assert not torch.equal(recipe.D.features(x), recipe.D.features(x))  # noise on while training
    recipe.D.eval()
    try:
        torch.testing.assert_close(recipe.D(x), recipe.D.head(recipe.D.features(x)))  # the head reads the features (noise off)
        assert torch.equal(recipe.D.features(x), recipe.D.features(x))
    finally:
        recipe.D.train()


def test_feature_matching_kind_is_checked():
    assert load_config("ssgan-mnist").ssgan.feature_matching == "squared"
    with pytest.raises(UserError, match="ssgan.feature_matching.*abs or squared"):
        load_config("ssgan-mnist", ["ssgan.feature_matching=l2"])


def test_d_step_trains_d_only_and_logs_each_term(tiny_recipe):
    recipe = tiny_recipe
    for module in recipe.modules().values():
        module.zero_grad(set_to_none=True)
    stats = recipe.d_backward(_batch(recipe))
    assert all(p.grad is None for p in recipe.G.parameters())
    assert all(p.grad is not None for p in recipe.D.parameters())
    assert stats["loss_d"].item() == pytest.approx((stats["loss_lab"] + stats["loss_unl"]).item(), rel=1e-6)
    assert 0 < stats["d_real"] < 1 and 0 < stats["d_fake"] < 1


def test_class_entropy_by_hand():
    # Uniform over K = 4 classes: ln 4. p = (1/2, 1/4, 1/4): 1/2 ln 2 + 2 (1/4 ln 4) = 1.5 ln 2.
    assert class_entropy(torch.zeros(1, 4)).item() == pytest.approx(math.log(4))
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]])) + 7.0  # a shift changes nothing
    assert class_entropy(logits).item() == pytest.approx(1.5 * math.log(2), rel=1e-6)
    assert class_entropy(torch.tensor([[60.0, 0.0, 0.0]])).item() == pytest.approx(0.0, abs=1e-6)


def test_consistency_by_hand():
    # p = (1/2, 1/2) against p' = (3/4, 1/4): (1/4)^2 + (1/4)^2 = 1/8; a batch of it and a pair that agree: 1/16.
    a = torch.log(torch.tensor([[0.5, 0.5], [0.2, 0.8]]))
    b = torch.log(torch.tensor([[0.75, 0.25], [0.2, 0.8]])) + 3.0
    assert consistency_loss(a, b).item() == pytest.approx(1 / 16, rel=1e-6)
    assert consistency_loss(a, a).item() == 0.0


@pytest.mark.parametrize("term", ["entropy", "consistency"])
def test_unlabelled_terms_join_d_loss(tiny_recipe, term):
    recipe, key = tiny_recipe, f"{term}_weight"
    setattr(recipe, key, 0.5)
    try:
        stats = recipe.d_backward(_batch(recipe))
    finally:
        setattr(recipe, key, 0.0)
    assert 0 < stats[term] < math.log(10)  # consistency > 0: D's noise differs between its two passes
    total = stats["loss_lab"] + stats["loss_unl"] + 0.5 * stats[term]
    assert stats["loss_d"].item() == pytest.approx(total.item(), rel=1e-6)
    with pytest.raises(UserError, match=f"ssgan.{key}.*unlabelled_weight=0"):
        load_config("ssgan-mnist", [f"ssgan.{key}=1", "ssgan.unlabelled_weight=0"])


def test_labelled_batches_cycle_the_labelled_set_and_resume(tiny_recipe):
    recipe = tiny_recipe
    assert len(recipe.labelled_y) == 50
    recipe.label_queue = recipe.label_queue[:0]
    x, y = recipe.labelled_batch(50, torch.device("cpu"))  # one pass over the set: each example once
    assert np.bincount(y.numpy()).tolist() == [5] * 10
    assert len({row.numpy().tobytes() for row in x.flatten(1)}) == 50
    state = {k: v.clone() for k, v in recipe.extra_state().items()}
    expected = recipe.labelled_batch(70, torch.device("cpu"))[1]
    recipe.load_extra_state(state)
    assert torch.equal(recipe.labelled_batch(70, torch.device("cpu"))[1], expected)


# ---- training and classify ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def ssgan_run(tmp_path_factory):
    from gankit.train.loop import train

    cfg = load_config("ssgan-mnist", [*TINY, "train.steps=60"])
    return train(cfg, tmp_path_factory.mktemp("ssgan") / "run", progress=False)


def test_trained_d_classifies_held_out_digits(ssgan_run):
    from gankit import load
    from gankit.classify import classify

    model = load(ssgan_run.dir)
    test = load_dataset(model.config.data, held_out=True)
    predicted, probs = classify(model, test.floats())
    assert predicted.shape == (200,) and ((probs > 0) & (probs <= 1)).all()
    error = (predicted != test.labels.numpy()).mean()
    assert error < 0.6, error  # 50 labels, 60 steps of a tiny net (0.46 measured); chance is 0.9
    untrained = build_recipe(model.config, load_dataset(model.config.data))
    model.recipe.D.load_state_dict(untrained.D.state_dict())
    assert (classify(model, test.floats())[0] != test.labels.numpy()).mean() > error + 0.25


def test_classify_cli(ssgan_run, tmp_path, capsys):
    run = ssgan_run.dir
    test = load_dataset(load_config("ssgan-mnist", TINY).data, held_out=True)
    images = ((test.floats()[:20, 0].numpy() + 1) * 127.5).round().astype(np.uint8)
    np.savez(tmp_path / "digits.npz", images=images, labels=test.labels[:20].numpy())
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(images[i]).save(folder / f"d{i}.png")
    assert main(["classify", str(run), str(tmp_path / "digits.npz"), str(folder), str(folder / "d0.png")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["class", "probability", "input"] and len(lines) == 1 + 24  # no error line: pngs carry no labels
    npz_line, png_line = lines[1].split(), lines[21].split()
    assert png_line[0] == npz_line[0] and png_line[2].endswith("d0.png")  # the same digit, as an npz row and a PNG
    assert main(["classify", str(run), str(tmp_path / "digits.npz"), "--out", str(tmp_path / "labels.csv")]) == 0
    rows = list(csv.reader((tmp_path / "labels.csv").open()))
    assert rows[0] == ["input", "class", "probability"] and len(rows) == 21
    assert rows[1][0].endswith("digits.npz[0]") and 0 <= int(rows[1][1]) < 10 and 0 < float(rows[1][2]) <= 1
    wrong = sum(int(r[1]) != y for r, y in zip(rows[1:], test.labels[:20].tolist()))
    assert f"error: {wrong} of 20" in capsys.readouterr().out


def test_classify_cli_errors(ssgan_run, tiny_cfg, tmp_path, capsys):
    from gankit.train.loop import train

    gan = train(tiny_cfg, tmp_path / "gan", progress=False)
    np.savez(tmp_path / "x.npz", images=np.zeros((2, 28, 28), np.uint8))
    assert main(["classify", str(gan.dir), str(tmp_path / "x.npz")]) == 2
    assert f"'{gan.dir}' is a 'gan' run, not a classifier" in capsys.readouterr().err
    assert main(["score", str(ssgan_run.dir), str(tmp_path / "x.npz")]) == 2
    assert "whose D classifies: use 'gankit classify'" in capsys.readouterr().err
    assert main(["classify", str(ssgan_run.dir), str(tmp_path / "missing.png")]) == 2
    assert "missing.png' does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["classify", str(ssgan_run.dir), str(tmp_path / "empty")]) == 2
    assert "holds no images" in capsys.readouterr().err
    assert main(["classify", str(ssgan_run.dir), str(tmp_path / "x.npz"), "--out", str(tmp_path / "l.txt")]) == 2
    assert "must end in .csv" in capsys.readouterr().err
    assert not (tmp_path / "l.txt").exists()


def test_average_of_d_classifies_when_asked(tmp_path):
    torch.manual_seed(0)
    cfg = load_config("ssgan-mnist", [*TINY, "ssgan.d_ema=0.75"])
    recipe = build_recipe(cfg, load_dataset(cfg.data))
    assert recipe.classifier is recipe.D_ema and "D_ema" in recipe.modules()
    before = [p.clone() for p in recipe.D_ema.parameters()]
    with torch.no_grad():
        for p in recipe.D.parameters():
            p.add_(1.0)
    recipe.after_d_step()  # ema <- 0.75 ema + 0.25 D
    for old, new, d in zip(before, recipe.D_ema.parameters(), recipe.D.parameters()):
        torch.testing.assert_close(new, 0.75 * old + 0.25 * d)
    assert not any(p.requires_grad for p in recipe.D_ema.parameters())
    with pytest.raises(UserError, match="ssgan.d_ema"):
        load_config("ssgan-mnist", ["ssgan.d_ema=1"])


def test_mean_teacher_consistency_targets_the_average_of_d_and_trains_d_only():
    """consistency_teacher=average: D's unlabelled predictions must agree with the averaged D's, whose
    weights get no gradient. With noise and shift off both passes are exact, so the term is the
    by-hand distance between D's and the average's softmax, 0 while the two weights are equal."""
    torch.manual_seed(0)
    cfg = load_config("ssgan-mnist", [*TINY, "ssgan.d_ema=0.9", "ssgan.consistency_weight=2",
                                      "ssgan.consistency_teacher=average", "ssgan.input_noise=0", "ssgan.hidden_noise=0"])
    recipe = build_recipe(cfg, load_dataset(cfg.data))
    batch = _batch(recipe)
    assert recipe.d_backward(batch)["consistency"].item() == pytest.approx(0.0, abs=1e-12)  # the average starts as D
    with torch.no_grad():
        for p in recipe.D.parameters():
            p.mul_(1.5)
    for module in recipe.modules().values():
        module.zero_grad(set_to_none=True)
    stats = recipe.d_backward(batch)
    with torch.no_grad():
        expected = consistency_loss(recipe.D(batch.real), recipe.D_ema(batch.real))
    assert expected > 1e-4
    torch.testing.assert_close(stats["consistency"], expected)
    assert stats["loss_d"].item() == pytest.approx((stats["loss_lab"] + stats["loss_unl"] + 2 * expected).item(), rel=1e-5)
    assert all(p.grad is None for p in recipe.D_ema.parameters())
    assert all(p.grad is not None for p in recipe.D.parameters())


def test_consistency_teacher_is_checked():
    assert load_config("ssgan-mnist").ssgan.consistency_teacher == "pass"
    with pytest.raises(UserError, match="ssgan.consistency_teacher.*pass or average"):
        load_config("ssgan-mnist", ["ssgan.consistency_teacher=teacher"])
    with pytest.raises(UserError, match="ssgan.consistency_teacher.*ssgan.d_ema=0"):
        load_config("ssgan-mnist", ["ssgan.consistency_teacher=average", "ssgan.d_ema=0"])
