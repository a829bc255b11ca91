"""What the training loop refreshes as it goes: toy snapshots, report.html, TensorBoard scalars.

The loop holds one `LiveReport` and calls it at three moments (each logged record, each sample
step, the end), so everything a person looks at during training lives here, not in the loop.
TensorBoard is optional (`pip install gankit[tb]`): without the `tensorboard` package it is skipped.
"""

from __future__ import annotations

from pathlib import Path

from .html import write_report
from .toyfig import record_snapshot, save_toy_figures


def tensorboard_writer(run_dir: Path):
    """A SummaryWriter logging into RUN_DIR/tensorboard, or None when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # the optional extra is absent
        return None
    return SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))


class LiveReport:
    def __init__(self, run_dir: Path, source: str, unread: frozenset[str] = frozenset()):
        self.dir, self.source, self.unread = Path(run_dir), source, unread  # unread: as for write_report
        self.tb = tensorboard_writer(self.dir)

    def on_start(self, step: int, recipe, device) -> None:
        if step == 0:  # the untrained state: the first frame of the toy figures
            record_snapshot(self.dir, step, recipe, self.source, device)

    def on_log(self, record: dict) -> None:
        if self.tb is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.tb.add_scalar(key, value, record["step"])

    def on_sample(self, step: int, recipe, device, grid_path: Path | None = None) -> None:
        record_snapshot(self.dir, step, recipe, self.source, device)
        if self.tb is not None and grid_path is not None and grid_path.exists():
            import numpy as np
            from PIL import Image

            self.tb.add_image("samples", np.asarray(Image.open(grid_path).convert("RGB")), step, dataformats="HWC")
        write_report(self.dir, self.unread)

    def on_end(self) -> None:
        save_toy_figures(self.dir, self.source)
        write_report(self.dir, self.unread)
        if self.tb is not None:
            self.tb.close()
