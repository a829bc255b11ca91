"""Super-resolution helpers: image quality against a reference (PSNR/SSIM) and tiled upscaling."""

from .quality import psnr, ssim
from ..tiles import upscale_tiled

__all__ = ["psnr", "ssim", "upscale_tiled"]
