"""SkeletonGCL's training-time overhead on CTR-GCN, as a ratio measured in one run.

Two fine-tuners (the same CTR-GCN config, with and without `--gcl`) take interleaved steps on
the same batches of the training split, so machine noise hits both alike; the banks are
filled first (a warm-up of `--warmup` steps), so the contrast runs at full size. Inference
costs nothing extra: the banks and the projection head are not used by `encoder(x)`.
The paper reports +2.6 % training time (NTU60, GPU, full-size CTR-GCN).

    python benchmarks/bench_gcl_overhead.py                               # synthetic CTR-GCN config
    python benchmarks/bench_gcl_overhead.py --config configs/ntu60_xsub/supervised_ctrgcn.yaml --device cuda
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
from sslskel.data.build import load_data  # noqa: E402
from sslskel.engine.config import load_config, resolved_config  # noqa: E402
from sslskel.engine.finetune import FineTuner  # noqa: E402
from sslskel.methods.base import build_method_encoder  # noqa: E402
from sslskel.methods.gcl import build_graph_contrast  # noqa: E402


def make_tuner(cfg, train, val, with_gcl: bool) -> FineTuner:
    torch.manual_seed(0)
    channels, _, _, persons = train.shape
    encoder = build_method_encoder(cfg, channels, persons)
    aux = [build_graph_contrast(cfg.gcl, encoder, train, seed=cfg.run.seed)] if with_gcl else []
    return FineTuner(cfg, encoder, train, val, aux_losses=aux, progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=REPO / "configs/synthetic/supervised_ctrgcn.yaml")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    device = resolve_device(args.device)
    cfg = load_config(args.config, [f"run.device={device}", "data.num_workers=0", *args.overrides])
    train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
    cfg = resolved_config(cfg, train)  # the encoder is built for the data's layout
    tuners = {"plain": make_tuner(cfg, train, val, False), "gcl": make_tuner(cfg, train, val, True)}
    batches = iter(tuners["plain"].loader)

    def step(tuner, batch):
        batch = batch.to(device)
        with autocast(device, cfg.run.amp):
            loss = tuner.losses(batch)["loss"]
        tuner.optimizers.step({"main": loss})

    times = {name: [] for name in tuners}
    for i in range(args.warmup + args.steps):
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(tuners["plain"].loader)
            batch = next(batches)
        for name, tuner in tuners.items():
            elapsed = time_call(lambda: step(tuner, batch), device)
            if i >= args.warmup:
                times[name].append(elapsed)
    plain, gcl = median(times["plain"]), median(times["gcl"])
    bank = tuners["gcl"].aux_losses[0].instance_bank
    print(json.dumps({
        "system": system_info(device), "config": str(args.config), "overrides": args.overrides,
        "batch_size": cfg.finetune.optim.batch_size, "steps": args.steps,
        "median_step_s": {"plain": plain, "gcl": gcl}, "gcl_over_plain_step_time": gcl / plain,
        "bank_filled_per_class_min": int(bank.fill_count.min()) if hasattr(bank, "fill_count") else None,
        "cap_message": tuners["gcl"].aux_losses[0].setup_message,
    }, indent=2))


if __name__ == "__main__":
    main()
