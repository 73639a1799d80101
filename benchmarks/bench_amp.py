"""bf16 autocast against fp32, per pretraining method: training-step time on real batches.

For each method, two trainers are built from the same config (`run.amp=off` and `run.amp=bf16`)
through the code every run uses (`build_trainer`), and the real epoch loop (`train_epoch`) runs
them on chunks of `--chunk` batches, alternating fp32 and bf16 chunks so that machine noise hits
both alike. The speed-up is the ratio of the median chunk times.

    python benchmarks/bench_amp.py                                   # the six methods, default configs
    python benchmarks/bench_amp.py --methods moco,halp --config-dir configs/ntu60_xsub \\
        data.path=null data.layout=ntu25 data.normalize=none         # paper configs on synthetic clips
Prints one JSON object.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import torch  # noqa: E402

from common import median, per_method_main, system_info  # noqa: E402
from sslskel.common.device import cpu_has_native_bf16  # noqa: E402
from sslskel.engine.config import load_config  # noqa: E402
from sslskel.engine.loop import LoopSettings, train_epoch  # noqa: E402
from sslskel.engine.pretrain import build_trainer  # noqa: E402
from sslskel.methods.base import Progress  # noqa: E402

METHODS = ("moco", "halp", "simclr", "vmoco", "vsimclr", "cvmim")


def chunk_seconds(trainer, batches: list, amp: str, epoch: int) -> float:
    start = time.perf_counter()
    loop = LoopSettings(device=trainer.device, amp=amp, progress=False,
                        after_backward=trainer.parallel_step.after_backward,
                        after_step=trainer.method.after_optimizer_step)
    train_epoch(batches, lambda batch, step: trainer.parallel_step(batch, Progress(epoch, step)),
                trainer.optimizers, loop, epoch=epoch, step=trainer.step)
    trainer.step += len(batches)
    return time.perf_counter() - start


def alternating_step_seconds(trainers: dict, amps: dict, chunks: int, chunk: int) -> list[float]:
    """Median seconds per step of each of two trainers ({arm: trainer}, run in amps[arm]) on the
    same `chunk` batches, chunks alternating (ABBA...) so that machine noise hits both alike."""
    arms = list(trainers)
    batches = list(itertools.islice(iter(trainers[arms[0]].loader), chunk))
    epoch = trainers[arms[0]].cfg.optim.epochs - 1  # late in the schedule: HaLP's positives are on
    times = {arm: [] for arm in arms}
    for i in range(chunks + 1):  # the first round warms up
        for arm in arms if i % 2 == 0 else arms[::-1]:
            seconds = chunk_seconds(trainers[arm], batches, amps[arm], epoch)
            if i:
                times[arm].append(seconds / chunk)
    return [median(times[arm]) for arm in arms]


def bench_method(config: Path, overrides: list[str], chunks: int, chunk: int) -> dict:
    with contextlib.redirect_stdout(sys.stderr):  # the trainer's start-up lines; stdout holds the JSON
        trainers = {amp: build_trainer(load_config(config, [*overrides, f"run.amp={amp}", "run.knn_every=0"]), None)
                    for amp in ("off", "bf16")}
    off, bf16 = alternating_step_seconds(trainers, {amp: amp for amp in trainers}, chunks, chunk)
    return {"fp32_step_s": round(off, 4), "bf16_step_s": round(bf16, 4), "bf16_speedup": round(off / bf16, 3)}


def main() -> None:
    per_method_main(__doc__, METHODS, bench_method, REPO / "configs" / "synthetic",
                    {**system_info(torch.device("cpu")), "native_bf16": cpu_has_native_bf16()})


if __name__ == "__main__":
    main()
