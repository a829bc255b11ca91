"""Super-resolution helpers: image quality against a reference (PSNR/SSIM), tiled upscaling, a user's image upscaled."""

from .quality import colourfulness, gradient_energy, psnr, ssim
from ..tiles import upscale_tiled
from .upscale import read_rgb_or_gray, upscale_image

__all__ = ["psnr", "ssim", "colourfulness", "gradient_energy", "read_rgb_or_gray", "upscale_image", "upscale_tiled"]
