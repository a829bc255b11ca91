"""Super-resolution helpers: image quality against a reference (PSNR/SSIM) and tiled upscaling."""

from .quality import colourfulness, gradient_energy, psnr, ssim
from ..tiles import upscale_tiled

__all__ = ["psnr", "ssim", "colourfulness", "gradient_energy", "upscale_tiled"]
