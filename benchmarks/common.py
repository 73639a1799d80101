"""Helpers shared by the benchmark scripts: timing, medians, system facts."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_call(fn, device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def median(values) -> float:
    return float(statistics.median(values))


def system_info(device: torch.device) -> dict:
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
            "machine": platform.machine(), "device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def per_method_main(doc: str, methods: tuple[str, ...], bench_method, config_dir, system: dict) -> None:
    """The command line of a per-method step benchmark (bench_amp, bench_two_views): --methods,
    --config-dir, --chunks, --chunk and KEY=VALUE overrides; prints one JSON object, and each
    method's line to stderr as it finishes."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default=",".join(methods))
    parser.add_argument("--config-dir", type=Path, default=config_dir)
    parser.add_argument("--chunks", type=int, default=4, help="timed chunks per arm")
    parser.add_argument("--chunk", type=int, default=4, help="batches per chunk")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_intermixed_args()
    result = {"system": system, "config_dir": str(args.config_dir), "overrides": args.overrides, "methods": {}}
    for method in args.methods.split(","):
        result["methods"][method] = bench_method(args.config_dir / f"{method}.yaml", args.overrides,
                                                 args.chunks, args.chunk)
        print(json.dumps({method: result["methods"][method]}), file=sys.stderr, flush=True)
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result, indent=2))
