from .grid import image_grid, save_samples
from .plots import save_loss_plot

__all__ = ["image_grid", "save_samples", "save_loss_plot"]
