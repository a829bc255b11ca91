"""Do VAE-GAN reconstructions of held-out digits keep their identity?

An independent classifier (scikit-learn SVC, RBF kernel) is fitted on the run's own training digits
(the bundled MNIST subset the preset keeps with data.limit), then reads the 5,000 - limit held-out
digits and their reconstructions G(E(x)) (latent means). Prints its accuracy on the real held-out
digits (its ceiling), on their reconstructions, and how often it reads a reconstruction as the same
digit as the original. Writes a PNG of originals (top rows) over reconstructions when given OUT.

    python benchmarks/vaegan_classifier.py RUN_DIR [OUT.png]
"""

import sys

import numpy as np
import torch
from sklearn.svm import SVC

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.model import load
from gankit.report.grid import image_grid, to_uint8


def main(run_dir, out=None):
    model = load(run_dir)
    cfg = model.config.data
    full = load_dataset(DataConfig(source=cfg.source, resolution=cfg.resolution, channels=cfg.channels, limit=0))
    n = len(full)
    keep = torch.randperm(n, generator=torch.Generator().manual_seed(0))[: cfg.limit].sort().values  # as load_dataset
    held = torch.ones(n, dtype=torch.bool)
    held[keep] = False
    x = full.floats()
    x_tr, y_tr = x[~held], full.labels[~held]
    x_te, y_te = x[held], full.labels[held]
    clf = SVC(gamma="scale").fit(x_tr.flatten(1).numpy(), y_tr.numpy())
    with torch.no_grad():
        recon = model.recipe.reconstruct(x_te).clamp(-1, 1)
    p_real = clf.predict(x_te.flatten(1).numpy())
    p_recon = clf.predict(recon.flatten(1).numpy())
    y = y_te.numpy()
    print(f"held-out digits: {len(y)} (trained on {len(y_tr)}); classifier: SVC(rbf) on the training digits")
    print(f"classifier accuracy on real held-out digits:        {np.mean(p_real == y):.3f}")
    print(f"classifier accuracy on their reconstructions:        {np.mean(p_recon == y):.3f}")
    print(f"reconstruction read as the same digit as original:   {np.mean(p_recon == p_real):.3f}")
    if out:
        pick = np.concatenate([np.flatnonzero(y == d)[:4] for d in range(10)])
        grid = np.concatenate([to_uint8(x_te[pick]), to_uint8(recon[pick])])
        image_grid(grid, columns=20).save(out)
        print(f"originals (rows 1-2) over reconstructions (rows 3-4): {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
