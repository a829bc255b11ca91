"""StyleGAN2's nets and recipe against hand cases: the modulated convolution, demodulation,
equalised learning rate, shapes, the path-length penalty, style mixing, the EMA's half-life and an
exact resume."""

import math

import pytest
import torch
import torch.nn.functional as F

import gankit
from gankit.configure import load_config
from gankit.data import Dataset
from gankit.nets.stylegan2 import (EqualConv2d, EqualLinear, MappingNetwork, StyleGAN2Discriminator,
                                   StyleGAN2Generator, blur, downsample2d, modulated_conv2d, upsample2d)
from gankit.recipes import build_recipe
from gankit.train.checkpoint import load_checkpoint

TINY = ["model.z_dim=8", "stylegan2.w_dim=8", "stylegan2.mapping_layers=2", "stylegan2.channel_base=64",
        "stylegan2.channel_max=8", "optim.batch_size=8", "data.limit=64", "train.device=cpu"]


def test_modulated_conv_equals_a_per_sample_conv_with_scaled_weights():
    torch.manual_seed(0)
    x, weight, styles = torch.randn(3, 4, 6, 6), torch.randn(5, 4, 3, 3), torch.rand(3, 4) + 0.5
    got = modulated_conv2d(x, weight, styles, demodulate=False, grouped=True)
    assert torch.allclose(got, modulated_conv2d(x, weight, styles, demodulate=False, grouped=False), atol=1e-5)
    for i in range(3):
        w = weight * styles[i].view(1, 4, 1, 1)
        assert torch.allclose(got[i], F.conv2d(x[i:i + 1], w, padding=1)[0], atol=1e-5)
    got = modulated_conv2d(x, weight, styles, demodulate=True, grouped=True)
    assert torch.allclose(got, modulated_conv2d(x, weight, styles, demodulate=True, grouped=False), atol=1e-5)
    for i in range(3):
        w = weight * styles[i].view(1, 4, 1, 1)
        w = w / w.pow(2).sum(dim=(1, 2, 3), keepdim=True).sqrt()  # unit L2 norm per output channel
        assert torch.allclose(got[i], F.conv2d(x[i:i + 1], w, padding=1)[0], atol=1e-5)


def test_demodulation_gives_unit_output_variance_for_unit_input():
    torch.manual_seed(0)
    x = torch.randn(16, 32, 16, 16)
    y = modulated_conv2d(x, torch.randn(32, 32, 3, 3), torch.rand(16, 32) * 3 + 0.1)
    assert abs(y[..., 1:-1, 1:-1].var().item() - 1.0) < 0.05  # away from the zero padding
    y = modulated_conv2d(x, torch.randn(32, 32, 3, 3), torch.rand(16, 32) * 3 + 0.1, demodulate=False)
    assert y.var().item() > 5  # without demodulation the styles' scale passes through


def test_equalised_lr_scales_by_hes_constant_and_the_lr_multiplier():
    fc = EqualLinear(50, 7, bias_init=1.0, lr_mul=0.01)
    assert fc.scale == pytest.approx(0.01 / math.sqrt(50))
    assert fc.weight.std().item() == pytest.approx(100.0, rel=0.15)  # stored as N(0, 1 / lr_mul^2)
    x = torch.randn(4, 50)
    assert torch.allclose(fc(x), x @ (fc.weight * 0.01 / math.sqrt(50)).T + 1.0, atol=1e-5)
    conv = EqualConv2d(6, 3, 3, activation=False)
    assert conv.scale == pytest.approx(1 / math.sqrt(6 * 9))
    x = torch.randn(2, 6, 5, 5)
    assert torch.allclose(conv(x), F.conv2d(x, conv.weight / math.sqrt(54), conv.bias, padding=1), atol=1e-5)
    # equalised: effective weights have He's variance 1/fan_in whatever the layer's size
    assert (conv.weight * conv.scale).var().item() == pytest.approx(1 / 54, rel=0.5)


def test_lowpass_resampling_equals_depthwise_convolutions_with_the_binomial_filter():
    f = torch.tensor([1.0, 3.0, 3.0, 1.0])
    f = (torch.outer(f, f) / 64).expand(5, 1, 4, 4)  # the 4x4 [1, 3, 3, 1] filter, summing to 1
    x = torch.randn(3, 5, 8, 8)
    assert torch.allclose(upsample2d(x), F.conv_transpose2d(x, f * 4, stride=2, padding=1, groups=5), atol=1e-6)
    assert torch.allclose(downsample2d(x), F.conv2d(x, f, stride=2, padding=1, groups=5), atol=1e-6)
    assert torch.allclose(blur(x, 2), F.conv2d(F.pad(x, (2, 2, 2, 2)), f, groups=5), atol=1e-6)
    y = upsample2d(torch.full((1, 2, 4, 4), 3.0))
    assert y.shape == (1, 2, 8, 8)
    assert torch.allclose(y[..., 1:-1, 1:-1], torch.full_like(y[..., 1:-1, 1:-1], 3.0))  # a constant stays constant


@pytest.mark.parametrize("res,channels,num_ws", [(28, 1, 8), (32, 3, 8), (64, 1, 10), (256, 3, 14)])
def test_shapes_at_each_resolution(res, channels, num_ws):
    G = StyleGAN2Generator(8, res, channels, w_dim=8, mapping_layers=2, channel_base=256, channel_max=8)
    D = StyleGAN2Discriminator(res, channels, channel_base=256, channel_max=8)
    x = G(torch.randn(2, 8))
    assert x.shape == (2, channels, res, res) and G.num_ws == num_ws
    assert D(x).shape == (2,)


def test_conditional_nets_take_labels():
    G = StyleGAN2Generator(8, 32, 1, w_dim=8, mapping_layers=2, channel_base=64, channel_max=8, num_classes=3)
    D = StyleGAN2Discriminator(32, 1, channel_base=64, channel_max=8, num_classes=3)
    z, x = torch.randn(2, 8), torch.randn(2, 1, 32, 32)
    a, b = G(z, torch.tensor([0, 0])), G(z, torch.tensor([1, 1]))
    assert not torch.allclose(a, b)
    assert not torch.allclose(D(x, torch.tensor([0, 0])), D(x, torch.tensor([2, 2])))


def test_mapping_normalises_z_tracks_w_avg_and_truncates_towards_it():
    torch.manual_seed(0)
    m = MappingNetwork(8, 8, num_ws=4, layers=2)
    z = torch.randn(5, 8)
    assert torch.allclose(m(z), m(z * 7.0), atol=1e-5)  # z normalised to unit second moment
    w = m(z, update_w_avg=True)
    assert torch.allclose(m.w_avg, w[:, 0].mean(0) * (1 - 0.995), atol=1e-6)  # lerp from 0 by 1 - beta
    w_avg = m.w_avg.clone()
    assert torch.allclose(m(z, truncation=0.7), w_avg + 0.7 * (w - w_avg), atol=1e-5)
    assert torch.allclose(m(z, truncation=0.0), w_avg.expand_as(w), atol=1e-6)


def _recipe(overrides=()):
    cfg = load_config("stylegan2-mnist", TINY + list(overrides))
    torch.manual_seed(0)
    data = Dataset(pixels=torch.rand(8, 1, 32, 32) * 2 - 1, labels=None, num_classes=0, name="hand", resolution=32, channels=1)
    return build_recipe(cfg, data)


def test_style_mixing_crosses_over_at_one_layer_per_batch():
    recipe = _recipe(["stylegan2.style_mixing=1.0"])
    torch.manual_seed(1)
    z = torch.randn(4, 8)
    ws = recipe.mixed_ws(recipe.G, z, None)
    first = recipe.G.mapping(z)
    from_first = torch.isclose(ws, first).all(dim=2).all(dim=0)  # (num_ws,) layers that kept z's w
    cutoff = int(from_first.sum())
    assert 1 <= cutoff < ws.shape[1]
    assert from_first[:cutoff].all() and not from_first[cutoff:].any()
    recipe = _recipe(["stylegan2.style_mixing=0.0"])
    assert torch.equal(recipe.mixed_ws(recipe.G, z, None), recipe.G.mapping(z))


def test_path_length_penalty_on_a_linear_synthesis_is_the_hand_value():
    """A synthesis img = A w (one layer): J^T y = A^T y, so lengths and a are known in closed form."""
    recipe = _recipe(["stylegan2.style_mixing=0.0", "stylegan2.pl_batch_shrink=1"])
    A = torch.randn(1 * 4 * 4, 8)

    class Linear(torch.nn.Module):
        def forward(self, ws, noise_mode="random"):
            return (ws[:, 0] @ A.T).view(-1, 1, 4, 4)

    recipe.G.synthesis = Linear()
    torch.manual_seed(3)
    z = torch.randn(4, 8)
    torch.manual_seed(5)
    pl = recipe.path_length_penalty(z, None)
    torch.manual_seed(5)
    y = torch.randn(4, 1, 4, 4) / 4.0  # / sqrt(H W)
    # only layer 0's w is read: its gradient is A^T y, the others' 0; the length is the root of the
    # squared norms' mean over the num_ws layers
    lengths = ((y.view(4, -1) @ A).square().sum(1) / recipe.G.num_ws).sqrt()
    a = 0.01 * lengths.mean()  # lerp from a = 0 by pl_decay
    assert recipe.pl_mean.item() == pytest.approx(a.item(), rel=1e-5)
    assert pl.item() == pytest.approx((lengths - a).square().mean().item(), rel=1e-4)


def _ema_after_one_step(overrides: list[str]) -> float:
    """G_ema's value after one G step from G_ema = 0 towards G = 1."""
    recipe = _recipe(overrides)
    with torch.no_grad():
        for p_ema, p in zip(recipe.G_ema.parameters(), recipe.G.parameters()):
            p_ema.zero_()
            p.fill_(1.0)
    recipe.d_updates = 1
    recipe.after_g_step()
    return next(recipe.G_ema.parameters()).mean().item()


def test_ema_half_life_in_images_with_ramp_up():
    # half-life 16 images = 2 batches of 8
    assert _ema_after_one_step(["stylegan2.ema_kimg=0.016", "stylegan2.ema_rampup=0"]) == pytest.approx(1 - 0.5 ** 0.5, rel=1e-5)
    # ramp: half-life 0.5 x 8 images
    assert _ema_after_one_step(["stylegan2.ema_kimg=10", "stylegan2.ema_rampup=0.5"]) == pytest.approx(1 - 0.5 ** 2, rel=1e-5)


def test_a_resumed_run_equals_an_uninterrupted_one_ada_p_included(tmp_path):
    common = TINY + ["remedies.ada=true", "remedies.ada_kimg=0.5", "penalty.r1_every=2", "stylegan2.pl_every=2",
                     "train.log_every=2", "train.sample_every=100", "train.checkpoint_every=3", "train.grid_size=4"]
    whole = gankit.train(load_config("stylegan2-mnist", common + ["train.steps=6"]), tmp_path / "a", progress=False)
    gankit.train(load_config("stylegan2-mnist", common + ["train.steps=3"]), tmp_path / "b", progress=False)
    from gankit.train.loop import resume
    resumed = resume(tmp_path / "b", progress=False, steps=6)
    ta, _ = load_checkpoint(whole.last_checkpoint)
    tb, _ = load_checkpoint(resumed.last_checkpoint)
    assert ta.keys() == tb.keys() and "recipe.ada.p" in ta and "recipe.pl_mean" in ta
    for k in ta:
        if not k.startswith("rng.python") and not k.startswith("rng.numpy"):
            assert torch.equal(ta[k], tb[k]), k
    ra = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    rb = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    import json
    # the first leg logged its short last window at step 3; the records after the resume are the same
    strip = lambda line: {k: v for k, v in json.loads(line).items() if k not in ("time", "images_per_s")}
    assert strip(ra[-1]) == strip(rb[-1])
    assert "rt" in json.loads(ra[-1]) and "pl" in json.loads(ra[0])
    assert ta["recipe.ada.updates"].item() == 6  # the controller's count went on from 3, not from 0


@pytest.fixture(scope="module")
def style_run(tmp_path_factory):
    cfg = load_config("stylegan2-mnist", TINY + ["train.steps=2", "train.sample_every=100", "train.checkpoint_every=100",
                                                 "train.grid_size=4"])
    return gankit.train(cfg, tmp_path_factory.mktemp("sg") / "run", progress=False).dir


def test_truncation_pulls_samples_towards_the_mean_image(style_run):
    model = gankit.load(style_run)
    x1, _ = model.generate(16, seed=3)
    x0, _ = model.generate(16, seed=3, truncation=1e-6)  # every w at w_avg: one image
    assert (x0 - x0[:1]).abs().max() < 1e-3 and (x1 - x1[:1]).abs().max() > 1e-2
    xh, _ = model.generate(16, seed=3, truncation=0.5)
    assert (xh - x0).abs().mean() < (x1 - x0).abs().mean()


def test_mix_grid_takes_each_group_s_layers_from_the_columns(style_run):
    from gankit.styles import mixing_grid, seed_ws, style_layers
    model = gankit.load(style_run)
    n = model.recipe.sampler.num_ws
    assert [list(style_layers(n, g)) for g in ("coarse", "middle", "fine")] == [[0, 1, 2], [3, 4], [5, 6, 7]]
    grid = mixing_grid(model, [1, 2], [5, 6, 7], ("fine",))
    assert grid.shape == (3 * 4, 1, 32, 32)  # (1 group x 2 rows + header) x (3 columns + 1)
    ws = seed_ws(model, [1, 5])
    mixed = ws[:1].clone()
    mixed[:, 5:] = ws[1:, 5:]
    assert torch.allclose(grid[4 + 1], model.synthesize(mixed)[0], atol=1e-5)  # row seed 1, column seed 5
    assert torch.allclose(grid[1], model.synthesize(ws[1:])[0], atol=1e-5)  # the header: column seed 5
    assert torch.allclose(grid[4], model.synthesize(ws[:1])[0], atol=1e-5)  # the row's own image


def test_project_finds_the_w_of_a_generated_image_and_sample_w_draws_it(style_run, tmp_path, capsys):
    from gankit.cli import main
    from PIL import Image
    import numpy as np
    model = gankit.load(style_run)
    target = model.synthesize(model.recipe.sampler.mapping(torch.randn(1, 8)))  # an image G can make
    img = ((target[0, 0].clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
    Image.fromarray(img).resize((48, 48)).convert("RGB").save(tmp_path / "t.png")  # other size and channels: converted
    assert main(["project", str(style_run), str(tmp_path / "t.png"), "--out", str(tmp_path / "p"), "--steps", "60"]) == 0
    assert {p.name for p in (tmp_path / "p").iterdir()} == {"projected_w.npz", "proj.png", "proj.gif"}
    psnr = float(capsys.readouterr().out.split("PSNR ")[1].split(" dB")[0])
    from gankit.styles import project
    from gankit.data.transform import array_to_tensor
    start = project(model, array_to_tensor(img[None, :, :, None], "t", 32, 1), steps=1)
    assert psnr > start.psnr  # the optimisation reproduced the target better than its start at w_avg
    assert main(["sample", str(style_run), "--w", str(tmp_path / "p" / "projected_w.npz"), "--out", str(tmp_path / "w.npz")]) == 0
    with np.load(tmp_path / "w.npz") as f:
        assert f["images"].shape == (1, 32, 32, 1)


def test_w_plus_projection_takes_a_w_per_layer_and_reaches_a_style_mixed_target(style_run, tmp_path):
    from gankit.cli import main
    from gankit.report.grid import to_uint8
    from gankit.styles import project
    import numpy as np
    model = gankit.load(style_run)
    G = model.recipe.sampler
    torch.manual_seed(1)
    ws = G.mapping(torch.randn(2, 8))
    mixed = torch.cat([ws[:1, :G.num_ws // 2], ws[1:, G.num_ws // 2:]], 1)  # coarse styles of one, fine of another
    target = model.synthesize(mixed)  # no single w need draw it
    in_w = project(model, target, steps=80)
    in_w_plus = project(model, target, steps=80, w_plus=True)
    assert torch.equal(in_w.w, in_w.w[:, :1].expand_as(in_w.w))  # W: one w, broadcast to every layer
    assert not torch.allclose(in_w_plus.w[:, 0], in_w_plus.w[:, -1])  # W+: a w of its own per layer
    assert in_w_plus.psnr > in_w.psnr
    np.savez(tmp_path / "wp.npz", w=in_w_plus.w.numpy())
    assert main(["sample", str(style_run), "--w", str(tmp_path / "wp.npz"), "--out", str(tmp_path / "s.npz")]) == 0
    with np.load(tmp_path / "s.npz") as f:
        assert np.array_equal(f["images"], to_uint8(in_w_plus.result))  # sample --w draws the W+ latents back


def test_sample_w_draws_a_projection_with_its_optimised_noise_maps(style_run, tmp_path):
    from gankit.cli import main
    from gankit.report.grid import to_uint8
    from gankit.styles import project
    import numpy as np
    model = gankit.load(style_run)
    own = {n: m.noise_const.clone() for n, m in model.recipe.sampler.synthesis.named_modules() if hasattr(m, "noise_const")}
    target = model.synthesize(model.recipe.sampler.mapping(torch.randn(1, 8)))
    result = project(model, target, steps=5, noise=True)
    assert any(not torch.equal(result.noise[n], own[n]) for n in own)  # the maps were optimised
    np.savez(tmp_path / "p.npz", w=result.w.numpy(), **{f"noise.{k}": v.numpy() for k, v in result.noise.items()})
    assert main(["sample", str(style_run), "--w", str(tmp_path / "p.npz"), "--out", str(tmp_path / "s.npz")]) == 0
    with np.load(tmp_path / "s.npz") as f:
        assert np.array_equal(f["images"], to_uint8(result.result))  # the projection itself, noise maps included
    np.savez(tmp_path / "w_only.npz", w=result.w.numpy())
    assert main(["sample", str(style_run), "--w", str(tmp_path / "w_only.npz"), "--out", str(tmp_path / "o.npz")]) == 0
    with np.load(tmp_path / "o.npz") as f:
        assert np.array_equal(f["images"], to_uint8(model.synthesize(result.w)))  # the run's own maps
    assert torch.equal(model.synthesize(result.w, noise=result.noise), result.result)
    assert all(torch.equal(m.noise_const, own[n]) for n, m in model.recipe.sampler.synthesis.named_modules()
               if hasattr(m, "noise_const"))  # the model's own maps are back after the call


def test_bad_input_to_the_style_commands(style_run, tmp_path, capsys):
    from gankit.cli import main
    import numpy as np
    for argv, message in [
        (["sample", str(style_run), "--truncation", "0", "--out", str(tmp_path / "a.png")], "must lie in (0, 2]"),
        (["sample", str(style_run), "--truncation", "2.5", "--out", str(tmp_path / "a.png")], "must lie in (0, 2]"),
        (["interpolate", str(style_run), "--truncation", "-1", "--out", str(tmp_path / "a.png")], "must lie in (0, 2]"),
        (["mix", str(style_run), "--styles", "hair", "--out", str(tmp_path / "m.png")], "choose from coarse, middle, fine"),
        (["mix", str(style_run), "--rows", "a,b", "--out", str(tmp_path / "m.png")], "--rows 'a,b'"),
        (["sample", str(style_run), "--w", str(tmp_path / "none.npz"), "--out", str(tmp_path / "a.png")], "does not exist"),
        (["project", str(style_run), str(tmp_path / "none.png"), "--out", str(tmp_path / "p")], "does not exist"),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)
    np.savez(tmp_path / "bad.npz", w=np.zeros((2, 3, 5), np.float32))
    assert main(["sample", str(style_run), "--w", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "a.png")]) == 2
    assert "this model takes (N, 8, 8)" in capsys.readouterr().err
    np.savez(tmp_path / "bad_noise.npz", w=np.zeros((1, 8), np.float32), **{"noise.nowhere": np.zeros((4, 4), np.float32)})
    assert main(["sample", str(style_run), "--w", str(tmp_path / "bad_noise.npz"), "--out", str(tmp_path / "a.png")]) == 2
    assert "noise maps for layers this model lacks: nowhere" in capsys.readouterr().err
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "m.png").exists() and not (tmp_path / "p").exists()


def test_mix_and_project_refuse_a_run_that_is_not_stylegan2(tmp_path, capsys):
    from gankit.cli import main
    small = ["train.device=cpu", "train.steps=1", "model.g_width=8", "model.d_width=8", "optim.batch_size=16",
             "data.limit=32", "train.sample_every=100", "train.checkpoint_every=100", "train.grid_size=4"]
    run = gankit.train(load_config("dcgan-mnist", small), tmp_path / "dc", progress=False).dir
    from PIL import Image
    Image.new("L", (28, 28)).save(tmp_path / "t.png")
    for argv in (["mix", str(run), "--out", str(tmp_path / "m.png")],
                 ["project", str(run), str(tmp_path / "t.png"), "--out", str(tmp_path / "p")],
                 ["sample", str(run), "--truncation", "0.7", "--out", str(tmp_path / "s.png")]):
        assert main(argv) == 2
        assert "needs a StyleGAN2 run (recipe stylegan2" in capsys.readouterr().err
