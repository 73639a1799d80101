"""MoCo and HaLP training-step throughput (samples/s), and HaLP's cost as a ratio to MoCo.

Both methods run interleaved in one process on the same random clips, so machine noise hits
both alike; HaLP runs in its active phase (queue full, mu on) and its steps include the
prototype refresh every `halp.refresh_every` steps.

    python benchmarks/bench_moco_step.py                  # CPU default config
    python benchmarks/bench_moco_step.py --paper          # also the paper config (slow on CPU)
    python benchmarks/bench_moco_step.py --device cuda
    python benchmarks/bench_moco_step.py --device cuda --compare-amp   # paper config: bf16 vs fp32
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import median, system_info, time_call  # noqa: E402

from sslskel.common.device import autocast, resolve_device  # noqa: E402
from sslskel.data.batch import Batch  # noqa: E402
from sslskel.engine.config import load_config  # noqa: E402
from sslskel.methods import build_method  # noqa: E402
from sslskel.methods.base import Progress  # noqa: E402


def make_step(method, optimizer, views, lengths, device, amp):
    state = {"step": 0}

    def step():
        with autocast(device, amp):
            batch = Batch(views, lengths, torch.zeros(len(lengths), dtype=torch.long), torch.arange(len(lengths)))
            loss = method.training_step(batch, Progress(10**6, state["step"]))[0]["main"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        method.after_optimizer_step()
        state["step"] += 1

    return step


def bench_config(config_dir: Path, overrides: list[str], device, amp: str, steps: int, warmup: int,
                 methods=("moco", "halp")) -> dict:
    """Each method with its own config of `config_dir` (<method>.yaml: the same data, encoder and
    queue; HaLP's adds its section)."""
    cfg_by_method, steppers = {}, {}
    batch = None
    for name in methods:
        extra = ["halp.start_epoch=0"] if name == "halp" else []  # each method reads only its own sections
        cfg = load_config(config_dir / f"{name}.yaml", ["data.layout=ntu25", *extra, *overrides])  # no data is read
        torch.manual_seed(0)
        method = build_method(cfg).to(device).train()
        optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=cfg.optim.lr,
                                    momentum=0.9)
        if batch is None:
            g = torch.Generator().manual_seed(0)
            n, t = cfg.optim.batch_size, cfg.data.frames
            batch = ([torch.randn(n, 3, t, 25, 2, generator=g).to(device) for _ in range(2)],
                     torch.full((n, 2), t))
        with torch.no_grad():  # start in the active phase: a full queue of realistic keys
            method.enqueue(torch.nn.functional.normalize(torch.randn_like(method.queue), dim=1))
        steppers[name] = make_step(method, optimizer, *batch, device, amp)
        cfg_by_method[name] = cfg
    times = {name: [] for name in steppers}
    for i in range(warmup + steps):
        for name, step in steppers.items():  # interleaved: noise hits both
            elapsed = time_call(step, device)
            if i >= warmup:
                times[name].append(elapsed)
    batch_size = cfg_by_method["moco"].optim.batch_size
    out = {name: {"median_step_s": median(t), "samples_per_s": batch_size / median(t)} for name, t in times.items()}
    if "halp" in out:
        out["halp_over_moco_step_time"] = out["halp"]["median_step_s"] / out["moco"]["median_step_s"]
    out["steps"] = steps
    out["batch_size"] = batch_size
    out["encoder"] = cfg_by_method["moco"].encoder.args
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", default="auto")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--paper", action="store_true", help="also the paper config (GRU 3 x 1024)")
    parser.add_argument("--paper-steps", type=int, default=5)
    parser.add_argument("--paper-methods", default="moco,halp", help="comma list (a CPU step takes ~1 min)")
    parser.add_argument("--compare-amp", action="store_true",
                        help="the paper config in fp32 (amp off) and in bf16 autocast, and their ratio (a GPU check)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(max(1, torch.get_num_threads()))
    result = {"system": system_info(device)}
    result["default"] = bench_config(REPO / "configs/synthetic", [], device, args.amp,
                                     args.steps, warmup=3)
    if args.paper:
        result["paper"] = bench_config(REPO / "configs/ntu60_xsub", [], device, args.amp,
                                       args.paper_steps, warmup=1, methods=args.paper_methods.split(","))
    if args.compare_amp:
        runs = {amp: bench_config(REPO / "configs/ntu60_xsub", [], device, amp, args.paper_steps, warmup=2,
                                  methods=args.paper_methods.split(",")) for amp in ("off", "bf16")}
        result["paper_amp"] = {**runs, "bf16_speedup": {
            m: round(runs["bf16"][m]["samples_per_s"] / runs["off"][m]["samples_per_s"], 3)
            for m in args.paper_methods.split(",")}}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
