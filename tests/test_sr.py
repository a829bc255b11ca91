"""SRGAN: shapes for odd sizes, seamless tiling, PSNR/SSIM against hand-computed values, the upscale CLI."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.configure import load_config
from gankit.nets.srresnet import SRResNet
from gankit.sr import psnr, ssim, upscale_tiled


def _tiny_sr(scale=4, skip=True):
    torch.manual_seed(0)
    net = SRResNet(channels=3, scale=scale, width=8, blocks=1, bicubic_skip=skip)
    for p in net.tail.parameters():  # a non-zero correction, so the net is more than bicubic
        torch.nn.init.normal_(p, 0, 0.05)
    return net.eval()


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("skip", [True, False])
def test_srresnet_output_shape_for_odd_sizes(scale, skip):
    net = _tiny_sr(scale, skip)
    with torch.no_grad():
        for h, w in [(7, 9), (1, 1), (13, 5)]:
            assert net(torch.randn(2, 3, h, w)).shape == (2, 3, h * scale, w * scale)


def test_tiled_upscaling_matches_untiled_away_from_borders():
    net = _tiny_sr()
    lr = torch.rand(1, 3, 41, 53) * 2 - 1
    with torch.no_grad():
        whole = net(lr)
    assert net.context <= 16
    tiled = upscale_tiled(net, lr, 4, tile=16, overlap=net.context)
    assert tiled.shape == whole.shape
    # The overlap covers the receptive field: the tiles agree with the whole image everywhere.
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)
    # Without overlap the tiles' own borders show as seams: the check above can fail.
    seamed = upscale_tiled(net, lr, 4, tile=16, overlap=0)
    assert (seamed - whole).abs().max() > 1e-3


def test_psnr_hand_computed():
    ref = np.zeros((8, 8, 3), np.uint8)
    test = np.full((8, 8, 3), 5, np.uint8)
    assert psnr(test, ref) == pytest.approx(10 * math.log10(255**2 / 25))
    # Errors only in a 1-pixel border vanish with shave=1.
    test2 = ref.copy()
    test2[0] = 50
    assert psnr(test2, ref, shave=0) == pytest.approx(10 * math.log10(255**2 / (50**2 / 8)))
    assert psnr(test2 + 0, ref, shave=1) == math.inf


def test_ssim_hand_computed():
    # Constant images: no variance, so SSIM is the luminance term (2ab + C1) / (a^2 + b^2 + C1).
    a, b = 100.0, 120.0
    c1 = (0.01 * 255) ** 2
    x = np.full((16, 16, 3), a, np.uint8)
    y = np.full((16, 16, 3), b, np.uint8)
    assert ssim(y, x) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-6)
    rng = np.random.default_rng(0)
    z = rng.integers(0, 256, (32, 32), dtype=np.uint8)
    assert ssim(z, z) == pytest.approx(1.0)
    assert ssim(255 - z, z) < 0  # anti-correlated structure


def test_srgan_trains_and_upscale_cli(tmp_path):
    from gankit.train.loop import train

    cfg = load_config("srgan", ["model.g_width=8", "model.d_width=8", "srgan.blocks=1", "optim.batch_size=4",
                                "data.resolution=16", "train.steps=3", "train.log_every=1", "train.sample_every=3",
                                "train.checkpoint_every=3", "train.grid_size=4", "srgan.warmup_steps=2"])
    run = train(cfg, tmp_path / "run", progress=False)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    # Two warm-up steps on the content loss alone, then the adversarial and feature-matching terms.
    assert len(lines) == 3 and "loss_content" in lines[0] and "loss_adv" not in lines[1]
    assert "loss_adv" in lines[2] and "loss_fm" in lines[2]
    assert int(run.recipe.G.updates) == 3
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (29, 37, 3), dtype=np.uint8)).save(tmp_path / "in.png")
    assert main(["upscale", str(run.dir), str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--tile", "16"]) == 0
    out = Image.open(tmp_path / "out.png")
    assert out.mode == "RGB" and out.size == (37 * 4, 29 * 4)
    Image.fromarray(rng.integers(0, 256, (11, 9), dtype=np.uint8)).save(tmp_path / "gray.png")
    assert main(["upscale", str(run.dir), str(tmp_path / "gray.png"), str(tmp_path / "gray_out.png")]) == 0
    out = Image.open(tmp_path / "gray_out.png")
    assert out.mode == "L" and out.size == (36, 44)
    assert main(["upscale", str(run.dir), str(tmp_path / "missing.png"), str(tmp_path / "x.png")]) == 2
    # A finished run has no pool of LR patches: sampling and latent walks refuse it instead of upscaling blanks.
    for command in (["sample", str(run.dir), "-n", "4", "--out", str(tmp_path / "s.png")],
                    ["interpolate", str(run.dir), "--out", str(tmp_path / "i.png")]):
        assert main(command) == 2
    assert not (tmp_path / "s.png").exists() and not (tmp_path / "i.png").exists()


def test_vgg_weights_file_is_checked(tmp_path):
    from safetensors.torch import save_file

    from gankit.errors import UserError
    from gankit.recipes.srgan import VGGFeatures

    state = {f"features.{k}": v for k, v in VGGFeatures().features.state_dict().items()}
    save_file(state, str(tmp_path / "vgg.safetensors"))
    net = VGGFeatures.from_file(str(tmp_path / "vgg.safetensors"))
    assert net(torch.zeros(1, 3, 16, 16)).shape == (1, 512, 1, 1)
    save_file({"x": torch.zeros(1)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(UserError, match="not a VGG19"):
        VGGFeatures.from_file(str(tmp_path / "bad.safetensors"))
