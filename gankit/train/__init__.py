from .loop import Run, Trainer, train

__all__ = ["Run", "Trainer", "train"]
