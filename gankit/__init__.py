"""gankit: train, evaluate and serve Generative Adversarial Networks."""

from .config import Config
from .configure import load_config
from .errors import UserError
from .model import Model, load
from .train import Run, train
from .version import __version__

__all__ = ["Config", "load_config", "UserError", "Model", "load", "Run", "train", "__version__"]
