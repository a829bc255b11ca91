"""`gankit score`: a trained D ranks real digits above noise."""

import numpy as np

from gankit.cli import main
from gankit.configure import load_config


def test_score_ranks_real_digits_above_noise(tmp_path, capsys):
    from gankit.data import load_dataset
    from gankit.report.grid import to_uint8
    from gankit.train.loop import train

    cfg = load_config("dcgan-mnist", ["model.g_width=8", "model.d_width=8", "model.z_dim=16", "optim.batch_size=32",
                                      "data.limit=512", "train.steps=40", "train.log_every=20",
                                      "train.sample_every=100", "train.checkpoint_every=100", "train.grid_size=16"])
    run = train(cfg, tmp_path / "run", progress=False)
    real = to_uint8(load_dataset(cfg.data).floats()[:20])
    noise = np.random.default_rng(0).integers(0, 256, (20, 28, 28, 1), dtype=np.uint8)
    np.savez(tmp_path / "real.npz", images=real)
    np.savez(tmp_path / "noise.npz", images=noise)
    capsys.readouterr()
    assert main(["score", str(run.dir), str(tmp_path / "real.npz"), str(tmp_path / "noise.npz")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("P(real)") and len(lines) == 41
    scores = np.array([float(line.split()[0]) for line in lines[1:]])
    assert ((scores >= 0) & (scores <= 1)).all()
    real_s, noise_s = scores[:20], scores[20:]
    # Ranking: the fraction of (real, noise) pairs ordered correctly (the AUC).
    auc = (real_s[:, None] > noise_s[None, :]).mean()
    assert auc > 0.95, (real_s, noise_s)


def test_score_user_errors(tmp_path):
    assert main(["score", str(tmp_path / "nope"), "x.png"]) == 2
