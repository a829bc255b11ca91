"""Whole-step A/B of gankit.accel's kernel choice tables on this machine: the same trainer timed with
`accel.CHOICES["onednn-wider"]` (every fast path on) and with `accel.CHOICES["same-width"]` (the linear
layers on MKL), in 12-step blocks, 8 interleaved pairs. Prints, per preset, the median ratio of step
times (every path on over the same-width table; above 1: the same-width table is faster), and the
table gankit picks here. Run it on the AVX2 path too:

    python benchmarks/kernel_tables.py vanilla-mnist dcgan-mnist wgangp-mnist
    ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 python benchmarks/kernel_tables.py vanilla-mnist ...
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

from gankit.accel import cpu_isa, kernel_table, mkl_isa, use_cpu_kernels
from gankit.configure import load_config
from gankit.train.loop import Trainer


def step_seconds(trainer: Trainer, table: str, steps: int) -> float:
    use_cpu_kernels(list(trainer.recipe.modules().values()), table=table)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return (time.perf_counter() - t0) / steps


def main(presets: list[str], pairs: int = 8, steps: int = 12) -> None:
    print(f"oneDNN ISA here: {cpu_isa()}, MKL ISA {mkl_isa()}: gankit picks table {kernel_table()}")
    for preset in presets:
        with tempfile.TemporaryDirectory() as tmp:
            trainer = Trainer(load_config(preset, ["train.device=cpu"]), Path(tmp), progress=False)
            for table in ("same-width", "onednn-wider"):  # warm-up
                step_seconds(trainer, table, 4)
            ratios = []
            for i in range(pairs):
                order = ("same-width", "onednn-wider") if i % 2 else ("onednn-wider", "same-width")
                seconds = {table: step_seconds(trainer, table, steps) for table in order}
                ratios.append(seconds["onednn-wider"] / seconds["same-width"])
        print(f"{preset}: every path on / same-width table: median {statistics.median(ratios):.3f}, "
              f"range {min(ratios):.3f}-{max(ratios):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["vanilla-mnist", "dcgan-mnist", "wgangp-mnist"])
