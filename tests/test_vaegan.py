"""VAE-GAN: the KL term against the closed form, encoder shapes, training, the reconstruct CLI."""

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.configure import load_config
from gankit.recipes.vaegan import kl_normal


def test_kl_matches_closed_form():
    # One dimension by hand: KL(N(mu, s^2) || N(0, 1)) = (mu^2 + s^2 - 1)/2 - log s.
    mu, s = 1.5, 0.5
    expected = (mu**2 + s**2 - 1) / 2 - np.log(s)
    got = kl_normal(torch.tensor([[mu]]), torch.tensor([[2 * np.log(s)]]))
    assert got.item() == pytest.approx(expected, rel=1e-6)
    # Many dimensions: summed over latents, averaged over the batch, as torch.distributions says.
    torch.manual_seed(0)
    mean, logvar = torch.randn(5, 7), torch.randn(5, 7)
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mean, (0.5 * logvar).exp()),
                                            torch.distributions.Normal(0.0, 1.0)).sum(1).mean()
    torch.testing.assert_close(kl_normal(mean, logvar), ref)
    assert kl_normal(torch.zeros(3, 4), torch.zeros(3, 4)).item() == 0.0


@pytest.fixture(scope="module")
def vaegan_run(tmp_path_factory):
    """A tiny VAE-GAN trained 30 steps, shared by the tests below (loading MNIST dominates)."""
    from gankit.train.loop import train

    cfg = load_config("vaegan-mnist", ["model.g_width=8", "model.d_width=8", "model.z_dim=8", "optim.batch_size=32",
                                       "data.limit=256", "train.steps=30", "train.log_every=5",
                                       "train.sample_every=100", "train.checkpoint_every=100", "train.grid_size=16"])
    return train(cfg, tmp_path_factory.mktemp("vaegan") / "run", progress=False)


def test_vaegan_trains_its_encoder_and_reconstruction_error_falls(vaegan_run):
    import json

    recipe = vaegan_run.recipe
    assert "E" in recipe.modules()
    assert {id(p) for p in recipe.E.parameters()} <= {id(p) for p in recipe.g_parameters()}
    assert recipe.encode(torch.zeros(5, 1, 28, 28)).shape == (5, 8)
    log = [json.loads(line) for line in (vaegan_run.dir / "metrics.jsonl").read_text().splitlines()]
    assert {"loss_kl", "loss_feature", "loss_pixel", "loss_adv"} <= set(log[0])
    # The encoder and decoder learn: the pixel reconstruction error falls.
    assert log[-1]["loss_pixel"] < 0.85 * log[0]["loss_pixel"]


def test_reconstruct_cli_keeps_kind_and_order(vaegan_run, tmp_path):
    run = vaegan_run
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28, 1), dtype=np.uint8)
    labels = np.arange(5, dtype=np.int64)
    np.savez(tmp_path / "in.npz", images=images, labels=labels)
    assert main(["reconstruct", str(run.dir), str(tmp_path / "in.npz"), "--out", str(tmp_path / "out.npz")]) == 0
    with np.load(tmp_path / "out.npz") as out:
        assert out["images"].shape == (5, 28, 28, 1) and out["images"].dtype == np.uint8
        assert (out["labels"] == labels).all()
        # Same order: each output is the reconstruction of the input at the same position.
        from gankit.model import load

        model = load(run.dir)
        with torch.no_grad():
            one = model.recipe.reconstruct(torch.tensor(images[3:4]).permute(0, 3, 1, 2).float() / 127.5 - 1)
        assert np.abs(((one[0, 0].clamp(-1, 1) + 1) * 127.5).round().numpy() - out["images"][3, :, :, 0]).max() <= 1
    Image.fromarray(images[0, :, :, 0]).save(tmp_path / "in.png")
    assert main(["reconstruct", str(run.dir), str(tmp_path / "in.png"), "--out", str(tmp_path / "out.png")]) == 0
    assert Image.open(tmp_path / "out.png").size == (28, 28)
    assert main(["reconstruct", str(run.dir), str(tmp_path / "in.png"), "--out", str(tmp_path / "out.npz")]) == 2
