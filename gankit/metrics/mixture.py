"""Mode coverage on the 2-D mixtures, PacGAN protocol (Lin et al. 2018, section 5; repo fjxmlzn/PacGAN).

A sample is high quality when its Euclidean distance to the nearest mode's mean is within 3 std; a
mode is captured when at least one high-quality sample sits on it; reverse KL is KL(p_gen || p_data)
over the modes' histogram of high-quality samples, p_data uniform. The protocol draws 2,500 samples.
"""

from __future__ import annotations

import numpy as np

from ..data.toy import MIXTURES


def mixture_stats(points: np.ndarray, mixture: str) -> dict[str, float]:
    """{'modes': captured modes, 'hq': share of high-quality samples in [0, 1], 'reverse_kl': nats,
    'num_modes': K} for `points` (N, D) against mixture `mixture` ('ring', 'grid', 'gauss1d')."""
    means, std = MIXTURES[mixture]
    points = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    dist = np.linalg.norm(points[:, None, :] - means[None, :, :], axis=2)  # (N, K)
    nearest = dist.argmin(1)
    hq = dist[np.arange(len(points)), nearest] <= 3 * std
    counts = np.bincount(nearest[hq], minlength=len(means)).astype(np.float64)
    captured = int((counts > 0).sum())
    if counts.sum() > 0:
        p = counts / counts.sum()
        q = 1.0 / len(means)
        nz = p > 0
        reverse_kl = float((p[nz] * np.log(p[nz] / q)).sum())
    else:
        reverse_kl = float("inf")  # no sample on any mode
    return {"modes": captured, "hq": float(hq.mean()), "reverse_kl": reverse_kl, "num_modes": len(means)}
