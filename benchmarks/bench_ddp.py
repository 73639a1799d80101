"""Pretraining throughput with 1 vs N processes (DDP), through the real trainer.

Each process count runs the same short MoCo (or --method) pretraining on the embedded synthetic
set, started the way torchrun starts processes (RANK / WORLD_SIZE / MASTER_ADDR in the
environment; gloo on CPU, NCCL on GPUs), with the same global batch, one CPU thread per
process. Throughput is the trainer's own `train/samples_per_s` (global samples, logged every
step by rank 0), median over the steps after the first epoch. The counts alternate over
`--repeats` rounds so machine noise hits both alike; the ratio is of the medians.

    python benchmarks/bench_ddp.py                         # 1 vs 2 processes, CPU
    python benchmarks/bench_ddp.py --procs 1 2 4 --device cuda
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
from pathlib import Path

import torch
import torch.multiprocessing as mp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import median, system_info  # noqa: E402


def _worker(rank: int, world: int, port: int, overrides: list[str], run_dir: str) -> None:
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    from sslskel import distributed
    from sslskel.engine.config import load_config
    from sslskel.engine.pretrain import run_pretraining

    try:
        run_pretraining(load_config(None, overrides), run_dir=run_dir)
    except BaseException:
        distributed.shutdown(wait_for_all=False)
        raise
    distributed.shutdown()


def throughput(world: int, overrides: list[str], epochs_skipped: int = 1) -> float:
    from sslskel.engine.run_log import read_metrics

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = str(Path(tmp) / "run")
        if world == 1:
            from sslskel.engine.config import load_config
            from sslskel.engine.pretrain import run_pretraining

            run_pretraining(load_config(None, overrides), run_dir=run_dir)
        else:
            mp.start_processes(_worker, args=(world, port, overrides, run_dir), nprocs=world, start_method="spawn")
        rates = [r["train/samples_per_s"] for r in read_metrics(run_dir)
                 if "train/samples_per_s" in r and r.get("epoch", 0) >= epochs_skipped]
    return median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="moco")
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    overrides = [f"method={args.method}", f"run.device={args.device}", "run.threads=1", "run.progress=false",
                 "run.knn_every=0", "run.log_every=1", "run.checkpoint_every=0", f"optim.epochs={args.epochs}",
                 "optim.batch_size=64", "data.num_workers=0", "run.out_dir=/tmp/sslskel-bench-runs"]
    if args.method in ("moco", "halp", "vmoco"):
        overrides.append("moco.queue_size=1024")
    rates: dict[int, list[float]] = {n: [] for n in args.procs}
    for _ in range(args.repeats):
        for n in args.procs:
            rates[n].append(throughput(n, overrides))
    base = median(rates[args.procs[0]])
    print(json.dumps({
        "benchmark": "ddp_throughput", "method": args.method, "device": args.device,
        "global_batch": 64, "threads_per_process": 1, "system": system_info(torch.device(args.device)),
        "samples_per_s": {str(n): round(median(r), 1) for n, r in rates.items()},
        "runs": {str(n): [round(x, 1) for x in r] for n, r in rates.items()},
        "speedup_vs_first": {str(n): round(median(r) / base, 3) for n, r in rates.items()},
        "note": "global samples per second logged by rank 0 (train/samples_per_s), median over steps "
                "after the first epoch, then over repeats",
    }, indent=2))


if __name__ == "__main__":
    main()
