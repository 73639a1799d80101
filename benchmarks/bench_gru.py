"""Time the one-call bidirectional GRU against the authors' frame-by-frame GRU.

The CMD / HaLP code called `nn.GRU(bidirectional=True)` once per frame, passing the hidden
state along: 64 sequential calls per clip, and the "backward" direction, seeing one frame
at a time, also ran forward in time. `BiGRUEncoder` runs the whole sequence in one call.
Both models here have the same size and both start with the input BatchNorm; each timed
step is a forward and a backward pass of `representation.square().sum()` on one batch.
Repeats are interleaved (the order alternates) and medians are reported with the ratio
frame_by_frame / one_call.

Usage:
    PYTHONPATH=. python benchmarks/bench_gru.py                 # CPU default config
    PYTHONPATH=. python benchmarks/bench_gru.py --paper --paper-repeats 2
    PYTHONPATH=. python benchmarks/bench_gru.py --device cuda --paper

Example (tiny, for a smoke test):
    PYTHONPATH=. python benchmarks/bench_gru.py --hidden 8 --layers 1 --batch 2 --frames 4 --repeats 1 --warmup 0
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch
from torch import nn

from sslskel.models.gru import BiGRUEncoder


class FrameByFrameGRU(nn.Module):
    """The authors' usage: the same bidirectional GRU, called on one frame at a time."""

    def __init__(self, in_features: int, hidden_size: int, num_layers: int):
        super().__init__()
        self.input_norm = nn.BatchNorm1d(in_features)
        self.gru = nn.GRU(in_features, hidden_size, num_layers, batch_first=True,
                          bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v, m = x.shape
        frames = x.permute(0, 2, 4, 3, 1).reshape(n, t, m * v * c)
        frames = self.input_norm(frames.reshape(n * t, -1)).view(n, t, -1)
        hidden = None
        for step in range(t):
            output, hidden = self.gru(frames[:, step:step + 1], hidden)
        return output[:, 0]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_step(model: nn.Module, x: torch.Tensor) -> float:
    """Seconds for one forward + backward pass."""
    model.zero_grad(set_to_none=True)
    synchronize(x.device)
    start = time.perf_counter()
    model(x).square().sum().backward()
    synchronize(x.device)
    return time.perf_counter() - start


def compare(hidden: int, layers: int, batch: int, frames: int, repeats: int, warmup: int,
            device: torch.device) -> dict:
    torch.manual_seed(0)
    one_call = BiGRUEncoder(hidden_size=hidden, num_layers=layers).to(device).train()
    frame_by_frame = FrameByFrameGRU(one_call.gru.input_size, hidden, layers).to(device).train()
    x = torch.randn(batch, 3, frames, 25, 2, device=device)
    models = {"one_call": one_call, "frame_by_frame": frame_by_frame}
    for _ in range(warmup):
        for model in models.values():
            timed_step(model, x)
    times: dict[str, list[float]] = {name: [] for name in models}
    for repeat in range(repeats):
        order = list(models) if repeat % 2 == 0 else list(models)[::-1]
        for name in order:
            times[name].append(timed_step(models[name], x))
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "config": {"hidden": hidden, "layers": layers, "batch": batch, "frames": frames,
                   "repeats": repeats, "warmup": warmup},
        "params": sum(p.numel() for p in one_call.gru.parameters()),
        "median_s": medians,
        "all_s": times,
        "ratio_frame_by_frame_over_one_call": medians["frame_by_frame"] / medians["one_call"],
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--paper", action="store_true",
                        help="also time the paper size (hidden 1024, 3 layers)")
    parser.add_argument("--paper-repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (torch)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but CUDA is not available")
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    results = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
        or platform.machine(),
        "torch": torch.__version__,
        "threads": args.threads,
        "runs": [compare(args.hidden, args.layers, args.batch, args.frames, args.repeats,
                         args.warmup, device)],
    }
    if args.paper:
        results["runs"].append(compare(1024, 3, args.batch, args.frames, args.paper_repeats,
                                       min(args.warmup, 1), device))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
