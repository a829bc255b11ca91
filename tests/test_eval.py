"""gankit eval, evaluation during training, and the image feature extractors."""

import json

import numpy as np
import pytest
import torch

from gankit.cli import main
from gankit.configure import load_config
from gankit.errors import UserError
from gankit.metrics.inception import FIDInception, load_inception, load_torchscript


def test_fid_inception_layout_matches_the_weights_file(tmp_path):
    net = FIDInception()
    sd = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    # Key names and shapes of pytorch-fid's pt_inception-2015-12-05 file (torchvision layout,
    # 1,008 classes, no auxiliary head).
    expect = {
        "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3), "Conv2d_1a_3x3.bn.running_var": (32,),
        "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3), "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
        "Mixed_5d.branch5x5_2.conv.weight": (64, 48, 5, 5), "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
        "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7), "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
        "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3), "Mixed_7b.branch3x3_2b.conv.weight": (384, 384, 3, 1),
        "Mixed_7c.branch3x3dbl_1.conv.weight": (448, 2048, 1, 1), "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
        "fc.weight": (1008, 2048), "fc.bias": (1008,),
    }
    for key, shape in expect.items():
        assert tuple(sd[key].shape) == shape, key
    assert not any(k.startswith("AuxLogits") for k in sd)
    assert len([k for k in sd if k.endswith(".conv.weight")]) == 94  # torchvision's 94 convolutions
    with torch.no_grad():
        feats, probs = net.eval()(torch.zeros(1, 3, 32, 32))
    assert feats.shape == (1, 2048) and probs.shape == (1, 1008)
    # A file with these keys loads with weights_only; anything else is a UserError.
    torch.save(net.state_dict(), tmp_path / "w.pth")
    assert torch.equal(load_inception(tmp_path / "w.pth").fc.weight, net.fc.weight)
    torch.save({"fc.weight": torch.zeros(3)}, tmp_path / "bad.pth")
    with pytest.raises(UserError):
        load_inception(tmp_path / "bad.pth")


class _Tiny(torch.nn.Module):
    def forward(self, x):
        return torch.cat([x.mean((2, 3)), x.std((2, 3))], 1)


def _points_cfg(tmp_path, steps=40, **extra):
    y = tmp_path / "ring.yaml"
    y.write_text("name: ring-test\ndata: {source: ring}\nmodel: {arch: mlp, z_dim: 2, g_width: 32, d_width: 32}\n"
                 f"optim: {{batch_size: 64, lr_g: 0.001, lr_d: 0.001}}\ntrain: {{steps: {steps}, log_every: 10, sample_every: 1000, "
                 "checkpoint_every: 1000, grid_size: 16}\n")
    return y


def test_eval_during_training_keeps_best(tmp_path):
    from gankit.train.checkpoint import load_checkpoint
    from gankit.train.loop import train
    cfg = load_config(str(_points_cfg(tmp_path)), ["evaluation.every=10", "evaluation.metrics=fd,pr",
                                                     "evaluation.best_metric=fd", "evaluation.num_samples=300"])
    run = train(cfg, tmp_path / "run", progress=False)
    evals = [json.loads(l) for l in (run.dir / "metrics.jsonl").read_text().splitlines() if '"eval"' in l]
    assert [e["step"] for e in evals] == [10, 20, 30, 40]
    assert all(e["eval"]["n_fake"] == 300 and "precision" in e["eval"] for e in evals)
    best_fd = min(e["eval"]["fd"] for e in evals)
    _, meta = load_checkpoint(run.dir / "checkpoints" / "best.safetensors")
    assert meta["best"]["value"] == pytest.approx(best_fd) and meta["best"]["metric"] == "fd"
    assert evals[-1]["best"]["value"] == pytest.approx(best_fd)
    # The CLI evaluates the run and its best checkpoint; a bad metric name is exit code 2.
    assert main(["eval", str(run.dir / "checkpoints" / "best.safetensors"), "-n", "300", "--metrics", "fd,kid",
                 "--repeats", "2", "--json", str(tmp_path / "e.json")]) == 0
    res = json.loads((tmp_path / "e.json").read_text())
    assert res["repeats"] == 2 and res["n_fake"] == 300 and "fd_std_repeats" in res and res["against"] == "ring"
    assert main(["eval", str(run.dir), "--metrics", "nope"]) == 2
    with pytest.raises(UserError):
        load_config(str(_points_cfg(tmp_path)), ["evaluation.every=5", "evaluation.best_metric=recall",
                                                 "evaluation.metrics=fd"])


def test_eval_of_a_run_compares_with_the_examples_it_trained_on(tmp_path):
    """Without --against the reference is the run's training split (data.limit and data.held_out
    applied), as during training, not the whole source set."""
    from gankit.train.loop import train
    cfg = load_config(str(_points_cfg(tmp_path, steps=10)), ["data.limit=300", "data.held_out=100"])
    run = train(cfg, tmp_path / "run", progress=False)
    assert main(["eval", str(run.dir), "-n", "200", "--metrics", "fd,memorisation",
                 "--json", str(tmp_path / "own.json")]) == 0
    own = json.loads((tmp_path / "own.json").read_text())
    assert own["n_real"] == 300 and own["memorisation_train"] == 300 and own["against"] == "ring"
    assert main(["eval", str(run.dir), "-n", "200", "--metrics", "fd", "--against", "ring",
                 "--json", str(tmp_path / "whole.json")]) == 0
    whole = json.loads((tmp_path / "whole.json").read_text())
    assert whole["n_real"] > 400 and whole["fd"] != own["fd"]


def test_eval_npz_with_torchscript_extractor(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "s.npz", images=rng.integers(0, 256, (200, 8, 8, 1), dtype=np.uint8))
    torch.jit.script(_Tiny()).save(str(tmp_path / "ext.pt"))
    assert main(["eval", str(tmp_path / "s.npz"), "--against", "digits", "--extractor", str(tmp_path / "ext.pt"),
                 "--metrics", "fd,kid,pr", "--json", str(tmp_path / "r.json")]) == 0
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["features"] == "torchscript:ext.pt" and res["n_fake"] == 200 and res["n_real"] == 1797
    assert res["fd"] > 0 and res["precision"] < 0.5  # uniform noise is far from 8x8 digits
    assert load_torchscript(tmp_path / "ext.pt")(torch.zeros(2, 1, 8, 8))[0].shape == (2, 6)
    # No extractor fits 8x8 images by default; an npz needs --against.
    assert main(["eval", str(tmp_path / "s.npz"), "--against", "digits"]) == 2
    assert main(["eval", str(tmp_path / "s.npz")]) == 2


def test_domain_metrics_take_digits_at_another_size_resized_to_the_classifier_s():
    # A StyleGAN2 run draws 32x32 digits: reference and samples both go through the same resize to 28x28.
    from gankit.config import DataConfig
    from gankit.data import load_dataset
    from gankit.metrics.evaluate import evaluate_samples

    digits = load_dataset(DataConfig(source="mnist", resolution=32, channels=1)).floats()
    assert digits.shape[1:] == (1, 32, 32)
    same = evaluate_samples(digits[torch.randperm(5000, generator=torch.Generator().manual_seed(1))[:2000]], "mnist", ["fd"])
    blurred = torch.nn.functional.avg_pool2d(digits[:2000], 5, 1, 2)
    assert same["fd"] < 0.1 * evaluate_samples(blurred, "mnist", ["fd"])["fd"]
