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

import argparse
import contextlib
import itertools
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import torch  # noqa: E402

from common import median, system_info  # noqa: E402
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


def bench_method(config: Path, overrides: list[str], chunks: int, chunk: int) -> dict:
    with contextlib.redirect_stdout(sys.stderr):  # the trainer's start-up lines; stdout holds the JSON
        trainers = {amp: build_trainer(load_config(config, [*overrides, f"run.amp={amp}", "run.knn_every=0"]), None)
                    for amp in ("off", "bf16")}
    batches = list(itertools.islice(iter(trainers["off"].loader), chunk))
    epoch = trainers["off"].cfg.optim.epochs - 1  # late in the schedule: HaLP's positives are on
    times = {"off": [], "bf16": []}
    for i in range(chunks + 1):  # the first round warms up
        for amp in ("off", "bf16") if i % 2 == 0 else ("bf16", "off"):
            seconds = chunk_seconds(trainers[amp], batches, amp, epoch)
            if i:
                times[amp].append(seconds / chunk)
    off, bf16 = median(times["off"]), median(times["bf16"])
    return {"fp32_step_s": round(off, 4), "bf16_step_s": round(bf16, 4), "bf16_speedup": round(off / bf16, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--config-dir", type=Path, default=REPO / "configs" / "synthetic")
    parser.add_argument("--chunks", type=int, default=4, help="timed chunks per precision")
    parser.add_argument("--chunk", type=int, default=4, help="batches per chunk")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_intermixed_args()
    result = {"system": {**system_info(torch.device("cpu")), "native_bf16": cpu_has_native_bf16()},
              "config_dir": str(args.config_dir), "methods": {}}
    for method in args.methods.split(","):
        result["methods"][method] = bench_method(args.config_dir / f"{method}.yaml", args.overrides,
                                                 args.chunks, args.chunk)
        print(json.dumps({method: result["methods"][method]}), file=sys.stderr, flush=True)
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
