"""Held-out evaluation of a super-resolution run against bicubic upscaling.

Protocol: each held-out photo is cropped to a multiple of the scale, downsampled by bicubic with
antialiasing (the training degradation), then upscaled by the model (tiled) and by plain bicubic.
PSNR and SSIM on RGB uint8, `scale` border pixels shaved. Side-by-side PNGs (bicubic | SR | HR crop)
are written when `out_dir` is given, so a person can look.

    python -m gankit.sr.evaluate RUN_DIR [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from ..data.photos import HELD_OUT_PHOTOS, photo
from ..model import load
from ..nets.srresnet import bicubic, downsample
from .quality import psnr, ssim
from ..tiles import upscale_tiled


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1).float().div(127.5).sub(1)[None]


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return ((x[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


@torch.no_grad()
def evaluate(model, out_dir: Path | None = None) -> list[dict]:
    recipe, s = model.recipe, model.recipe.scale
    rows = []
    for name in HELD_OUT_PHOTOS:
        hr = photo(name)
        hr = hr[: hr.shape[0] // s * s, : hr.shape[1] // s * s]
        lr = downsample(_to_tensor(hr), s)
        bic = _to_uint8(bicubic(lr, s))
        sr = _to_uint8(upscale_tiled(recipe.upscale, lr.to(model.device), s, overlap=recipe.G.context).cpu())
        rows.append({"image": name, "size": f"{hr.shape[1]}x{hr.shape[0]}",
                     "psnr_bicubic": psnr(bic, hr, s), "psnr_sr": psnr(sr, hr, s),
                     "ssim_bicubic": ssim(bic, hr, s), "ssim_sr": ssim(sr, hr, s)})
        if out_dir is not None:
            from PIL import Image

            h, w = hr.shape[:2]
            t, l = h // 2 - 64, w // 2 - 64  # a 128x128 centre crop, enlarged 2x (nearest) to see pixels
            crops = [a[t : t + 128, l : l + 128] for a in (bic, sr, hr)]
            strip = np.concatenate([np.pad(c, ((0, 0), (0, 4), (0, 0)), constant_values=255) for c in crops], 1)
            Image.fromarray(strip.repeat(2, 0).repeat(2, 1)).save(out_dir / f"{name}_bicubic_sr_hr.png")
            Image.fromarray(sr).save(out_dir / f"{name}_sr.png")
    return rows


def main(argv: list[str]) -> None:
    model = load(argv[0])
    out_dir = Path(argv[1]) if len(argv) > 1 else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    rows = evaluate(model, out_dir)
    print(f"x{model.recipe.scale}, RGB, {model.recipe.scale}-pixel border shaved")
    print(f"{'image':<10} {'size':>8} {'PSNR bicubic':>12} {'PSNR SR':>8} {'SSIM bicubic':>12} {'SSIM SR':>8}")
    for r in rows:
        print(f"{r['image']:<10} {r['size']:>8} {r['psnr_bicubic']:12.2f} {r['psnr_sr']:8.2f} {r['ssim_bicubic']:12.4f} {r['ssim_sr']:8.4f}")
    mean = {k: np.mean([r[k] for r in rows]) for k in ("psnr_bicubic", "psnr_sr", "ssim_bicubic", "ssim_sr")}
    print(f"{'mean':<10} {'':>8} {mean['psnr_bicubic']:12.2f} {mean['psnr_sr']:8.2f} {mean['ssim_bicubic']:12.4f} {mean['ssim_sr']:8.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
