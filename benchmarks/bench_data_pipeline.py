"""Can the data pipeline feed the training step? Both as samples/s, measured in one run.

The pipeline is what one DataLoader worker does per sample: read it from the (memory-mapped)
training split and make two augmented views with the config's preset. The step is a full
MoCo training step on a batch of such views. The ratio pipeline / step says how many
samples one worker produces while the step consumes one; above 1 / num_workers it keeps up.

    python benchmarks/bench_data_pipeline.py [--config configs/synthetic/moco.yaml] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import median, system_info, time_call  # noqa: E402

from sslskel.common.device import autocast, resolve_device  # noqa: E402
from sslskel.data.batch import collate  # noqa: E402
from sslskel.data.build import build_transform, load_data  # noqa: E402
from sslskel.data.dataset import SkeletonDataset  # noqa: E402
from sslskel.engine.config import load_config, resolved_config  # noqa: E402
from sslskel.methods import build_method  # noqa: E402
from sslskel.methods.base import Progress  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=REPO / "configs/synthetic/moco.yaml")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = resolve_device(args.device)
    cfg = load_config(args.config, [f"run.device={device}"])
    train = load_data(cfg.data, "train")
    cfg = resolved_config(cfg, train)  # the method is built for the data's layout
    dataset = SkeletonDataset(train, build_transform(cfg.data, train=True, layout=train.layout), num_views=2)
    batch_size = cfg.optim.batch_size

    torch.manual_seed(0)
    method = build_method(cfg).to(device).train()
    optimizer = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    batch = collate([dataset[i] for i in range(batch_size)]).to(device)

    def step():
        with autocast(device, cfg.run.amp):
            loss = method.training_step(batch, Progress(0, 0))[0]["main"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def pipeline():
        for i in range(batch_size):
            dataset[(start + i) % len(dataset)]

    pipe_times, step_times, start = [], [], 0
    step()  # warm-up
    for r in range(args.repeats):
        start = r * batch_size
        t0 = time.perf_counter()
        pipeline()
        pipe_times.append(time.perf_counter() - t0)
        step_times.append(time_call(step, device))
    pipe_rate = batch_size / median(pipe_times)
    step_rate = batch_size / median(step_times)
    print(json.dumps({
        "system": system_info(device),
        "config": str(args.config.relative_to(REPO)) if args.config.is_relative_to(REPO) else str(args.config),
        "pipeline_samples_per_s_per_worker": pipe_rate,
        "step_samples_per_s": step_rate,
        "pipeline_over_step": pipe_rate / step_rate,
        "workers_needed": step_rate / pipe_rate,
        "num_workers_configured": cfg.data.num_workers,
    }, indent=2))


if __name__ == "__main__":
    main()
