"""Adaptive discriminator augmentation: each transformation on hand images, p = 0 as the identity,
gradients through the pipeline, the r_t controller, and ADA as a remedy of every image recipe."""

import json
import math

import pytest
import torch

import gankit
from gankit import ada
from gankit.configure import load_config


def _image(n=2, c=1, size=8):
    return torch.arange(n * c * size * size, dtype=torch.float32).view(n, c, size, size) / (n * c * size * size) * 2 - 1


def _only(kind, x, p=1.0):
    """The pipeline with one kind, at probability p."""
    return ada.augment(x, torch.tensor(p), (kind,))


def test_x_flip_and_rotate90_are_exact_permutations_of_the_pixels():
    torch.manual_seed(0)
    x = _image(64)
    y = _only("xflip", x)
    flipped = torch.isclose(y, x.flip(-1), atol=1e-5).flatten(1).all(1)
    kept = torch.isclose(y, x, atol=1e-5).flatten(1).all(1)
    assert (flipped | kept).all() and flipped.any() and kept.any()  # each image: a coin flip
    y = _only("rotate90", x)
    turns = torch.stack([torch.isclose(y, torch.rot90(x, k, dims=(-2, -1)), atol=1e-5).flatten(1).all(1) for k in range(4)])
    assert turns.any(0).all() and turns.any(1).all()  # every image one of the 4 quarter turns, each turn seen


def test_integer_translation_is_an_exact_shift_with_mirrored_border():
    torch.manual_seed(0)
    size = 16
    x = _image(32, size=size)
    y = _only("xint", x)
    pad = 2  # TRANSLATE_INT x 16 pixels
    idx = torch.arange(-pad, size + pad)  # mirrored about the border: pixel -1 is pixel 0, as grid_sample reflects
    idx = torch.where(idx < 0, -idx - 1, torch.where(idx >= size, 2 * size - idx - 1, idx))
    padded = x[:, :, idx][:, :, :, idx]
    for i in range(len(x)):
        matches = [(dy, dx) for dy in range(-pad, pad + 1) for dx in range(-pad, pad + 1)
                   if torch.allclose(y[i], padded[i, :, pad + dy:pad + dy + size, pad + dx:pad + dx + size], atol=1e-5)]
        assert matches, f"image {i} is no whole-pixel shift of its input"


def test_p_zero_is_the_identity_and_p_one_changes_every_image():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 16, 16) * 2 - 1
    assert torch.allclose(ada.augment(x, 0.0), x, atol=1e-5)
    y = ada.augment(x, 1.0)
    assert not torch.isclose(y, x, atol=1e-3).flatten(1).all(1).any()


@pytest.mark.parametrize("kind", ada.GEOMETRIC + ada.COLOUR)
def test_each_transformation_is_differentiable_and_does_something(kind):
    torch.manual_seed(0)
    x = (torch.rand(8, 3, 16, 16) * 2 - 1).requires_grad_(True)
    y = _only(kind, x)
    assert y.shape == x.shape
    (grad,) = torch.autograd.grad(y.square().sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert not torch.allclose(y, x, atol=1e-4)


@pytest.mark.parametrize("kind", ada.GEOMETRIC)
def test_geometric_transformations_keep_the_image_in_range(kind):
    torch.manual_seed(0)
    x = torch.rand(8, 1, 16, 16) * 2 - 1
    y = _only(kind, x)
    assert y.min() >= x.min() - 1e-5 and y.max() <= x.max() + 1e-5  # bilinear: convex sums of input pixels


def test_colour_on_grey_images_hue_and_saturation_are_identity_and_luma_flip_negates():
    torch.manual_seed(0)
    x = torch.rand(32, 1, 4, 4) * 2 - 1
    assert torch.allclose(_only("hue", x), x, atol=1e-5)
    assert torch.allclose(_only("saturation", x), x, atol=1e-5)
    y = _only("lumaflip", x)
    assert (torch.isclose(y, -x, atol=1e-5).flatten(1).all(1) | torch.isclose(y, x, atol=1e-5).flatten(1).all(1)).all()
    rgb = x.expand(-1, 3, -1, -1)  # a grey RGB image gets the same treatment per channel
    torch.manual_seed(1)
    a = _only("brightness", x)
    torch.manual_seed(1)
    b = _only("brightness", rgb.contiguous())
    assert torch.allclose(a.expand_as(b), b, atol=1e-5)


def test_luma_flip_and_hue_on_rgb_keep_the_luma():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 4, 4) * 2 - 1
    for kind in ("hue", "saturation"):
        y = _only(kind, x)
        assert torch.allclose(y.mean(1), x.mean(1), atol=1e-5)  # moves within the plane of equal luma


def test_the_controller_steps_p_by_the_hand_amount():
    c = ada.AdaptiveP(target=0.6, kimg=1.0, interval=4)
    for _ in range(4):  # r_t = 1 > 0.6: p rises by 4 x 50 / 1000
        c.observe(torch.ones(50))
        c.step(50)
    assert c.p.item() == pytest.approx(0.2)
    for _ in range(3):  # mid-interval: no change yet
        c.observe(-torch.ones(50))
        c.step(50)
    assert c.p.item() == pytest.approx(0.2)
    c.observe(-torch.ones(50))
    c.step(50)  # r_t = -1 < 0.6: p falls back
    assert c.p.item() == pytest.approx(0.0, abs=1e-7)
    c.observe(-torch.ones(50))
    for _ in range(4):
        c.step(50)
    assert c.p.item() == 0.0  # never below 0


def test_p_can_go_from_0_to_1_within_kimg_thousand_images():
    c = ada.AdaptiveP(target=0.6, kimg=500.0, interval=4)
    steps = 0
    while c.p.item() < 1.0:
        c.observe(torch.ones(64))
        c.step(64)
        steps += 1
    assert steps * 64 <= 500_000 + 4 * 64


def test_remedies_ada_trains_dcgan_logs_p_and_checkpoints_it(tmp_path):
    small = ["train.device=cpu", "model.g_width=8", "model.d_width=8", "optim.batch_size=16", "data.limit=64",
             "train.log_every=4", "train.sample_every=100", "train.checkpoint_every=100", "remedies.ada=true",
             "remedies.ada_kimg=0.2", "remedies.ada_target=0.0", "train.grid_size=4", "train.steps=8"]
    from gankit.train.checkpoint import load_checkpoint
    run = gankit.train(load_config("dcgan-mnist", small), tmp_path / "a", progress=False)
    tensors, _ = load_checkpoint(run.last_checkpoint)
    records = [json.loads(l) for l in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert all("rt" in r and "ada_p" in r for r in records)
    from gankit.report.html import metric_keys
    assert not {"rt", "ada_p"} & set(metric_keys(records))  # plotted with training, not as evaluation metrics
    # 8 D updates = 2 intervals of 4, each moving p by 4 x 16 / 200 up or down
    assert tensors["recipe.ada.p"].item() in [pytest.approx(v) for v in (0.0, 0.32, 0.64)]
    assert tensors["recipe.ada.updates"].item() == 8
