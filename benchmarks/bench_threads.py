"""MoCo training-step time under each thread policy, alone and beside 1 or 2 CPU-bound processes.

Each cell starts N competitors (busy Python loops, one core each), then a fresh process that
applies the policy through `apply_run_settings` (the code every run uses) and times default
MoCo steps (configs/synthetic/moco.yaml, random clips). Policies:

* old_default: run.threads=0 (torch's one thread per core) with OpenMP's default spin-waiting,
  what every run did before `auto`;
* new_default: run.threads=auto, OpenMP's default waiting;
* threads_1: run.threads=1;
* all_cores_passive: one thread per core, passive waiting (OMP_WAIT_POLICY=PASSIVE);
* auto_passive: run.threads=auto with passive waiting;
* auto_interop_1: new_default plus torch.set_num_interop_threads(1).

    python benchmarks/bench_threads.py                     # every policy x 0, 1, 2 competitors
    python benchmarks/bench_threads.py --policies old_default,new_default --competitors 0,1

Prints one JSON object: the median step time per cell, its slowdown against the same policy
alone, and the load other processes put on the machine just before each cell (a cell measured
on a busy machine says so).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

# policy -> (run.threads, OMP_WAIT_POLICY for the worker: "" = OpenMP's default, interop threads)
POLICIES = {
    "old_default": (0, "", None),
    "new_default": ("auto", "", None),
    "threads_1": (1, "", None),
    "all_cores_passive": (0, "PASSIVE", None),
    "auto_passive": ("auto", "PASSIVE", None),
    "auto_interop_1": ("auto", "", 1),
}
SPIN = "while True: pass"


def worker(threads, interop, steps: int) -> dict:
    """In a fresh process: apply the policy, time `steps` MoCo steps after one warm-up step."""
    import torch

    if interop is not None:
        torch.set_num_interop_threads(interop)
    from bench_moco_step import bench_config
    from sslskel.common.device import apply_run_settings, resolve_device
    from sslskel.engine.config import RunConfig

    choice = apply_run_settings(RunConfig(threads=threads), log=lambda line: None)
    result = bench_config(REPO / "configs" / "synthetic", [], resolve_device("cpu"), "off", steps, warmup=1,
                          methods=("moco",))
    return {"threads": choice.threads, "reason": choice.reason, "median_step_s": result["moco"]["median_step_s"]}


def measure(policy: str, competitors: int, steps: int) -> dict:
    from sslskel.common.threads import busy_cores_elsewhere

    threads, wait, interop = POLICIES[policy]
    background = busy_cores_elsewhere(0.5)  # other load on the machine, before our competitors
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(competitors)]
    try:
        time.sleep(0.5)
        env = {**os.environ, "OMP_WAIT_POLICY": wait}
        env.pop("OMP_NUM_THREADS", None)  # the policy decides
        out = subprocess.run([sys.executable, __file__, "--worker", json.dumps([threads, interop, steps])],
                             env=env, capture_output=True, text=True, check=True)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "background_busy_cores": round(background or 0, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--competitors", default="0,1,2")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*json.loads(args.worker))))
        return
    from common import system_info
    import torch

    result = {"system": system_info(torch.device("cpu")), "steps": args.steps, "cells": {}}
    for policy in args.policies.split(","):
        cells = result["cells"][policy] = {}
        for competitors in (int(c) for c in args.competitors.split(",")):
            cells[str(competitors)] = cell = measure(policy, competitors, args.steps)
            alone = cells.get("0")
            if alone:
                cell["slowdown_vs_alone"] = round(cell["median_step_s"] / alone["median_step_s"], 2)
            print(json.dumps({"policy": policy, "competitors": competitors, **cell}), file=sys.stderr, flush=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
