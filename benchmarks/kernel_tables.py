"""Whole-step A/B of gankit.accel's kernel choice tables on this machine: the same trainer timed with
`accel.CHOICES["avx512"]` (every fast path on) and with `accel.CHOICES["avx2"]`, in 12-step blocks,
8 interleaved pairs. Prints, per preset, the median ratio of step times (every path on over the AVX2
table; above 1: the AVX2 table is faster). Run it on the AVX2 path too:

    python benchmarks/kernel_tables.py vanilla-mnist dcgan-mnist wgangp-mnist
    ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 python benchmarks/kernel_tables.py vanilla-mnist ...
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

from gankit.accel import cpu_isa, use_cpu_kernels
from gankit.configure import load_config
from gankit.train.loop import Trainer


def step_seconds(trainer: Trainer, isa: str, steps: int) -> float:
    use_cpu_kernels(list(trainer.recipe.modules().values()), isa=isa)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return (time.perf_counter() - t0) / steps


def main(presets: list[str], pairs: int = 8, steps: int = 12) -> None:
    print(f"oneDNN ISA here: {cpu_isa()}")
    for preset in presets:
        with tempfile.TemporaryDirectory() as tmp:
            trainer = Trainer(load_config(preset, ["train.device=cpu"]), Path(tmp), progress=False)
            for isa in ("avx2", "avx512"):  # warm-up
                step_seconds(trainer, isa, 4)
            ratios = []
            for i in range(pairs):
                order = ("avx2", "avx512") if i % 2 else ("avx512", "avx2")
                seconds = {isa: step_seconds(trainer, isa, steps) for isa in order}
                ratios.append(seconds["avx512"] / seconds["avx2"])
        print(f"{preset}: every path on / AVX2 table: median {statistics.median(ratios):.3f}, "
              f"range {min(ratios):.3f}-{max(ratios):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["vanilla-mnist", "dcgan-mnist", "wgangp-mnist"])
