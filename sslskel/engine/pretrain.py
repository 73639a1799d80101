"""Pretraining from a config to a finished run directory (what `pretrain/run.py` calls).

A run directory `runs/<time>-<method>/` holds:
    config.yaml                 the resolved configuration (resume reads it back)
    checkpoints/last.pt         written atomically at the end of every epoch
    checkpoints/epoch_NNNN.pt   kept every `run.checkpoint_every` epochs
    metrics.jsonl               one JSON object per logged record
    tensorboard/                TensorBoard event files
    summary.json                final loss and online kNN accuracy

Example:
    cfg = load_config("configs/synthetic/moco.yaml", ["optim.epochs=2"])
    run_dir, summary = run_pretraining(cfg)
    run_pretraining(load_config(run_dir / "config.yaml", ["optim.epochs=4"]), resume_dir=run_dir)
"""

from __future__ import annotations

import time
from pathlib import Path

from ..data.build import load_data
from ..methods import build_method
from ..common.checkpoint import seed_everything
from ..common.device import apply_run_settings
from ..common.io import atomic_write_json
from .config import save_config
from .trainer import PretrainTrainer


def new_run_dir(out_dir: str | Path, method: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(out_dir) / f"{stamp}-{method}"
    run_dir, n = base, 1
    while run_dir.exists():
        n += 1
        run_dir = base.with_name(f"{base.name}-{n}")
    run_dir.mkdir(parents=True)
    return run_dir


def run_pretraining(cfg, run_dir: str | Path | None = None, resume_dir: str | Path | None = None):
    """Train `cfg.method`; returns (run_dir, summary). With `resume_dir`, continue that run."""
    if resume_dir is not None:
        run_dir = Path(resume_dir)
        if not (run_dir / "checkpoints" / "last.pt").is_file():
            raise FileNotFoundError(f"{run_dir}: no checkpoints/last.pt to resume from")
    elif run_dir is None:
        run_dir = new_run_dir(cfg.run.out_dir, cfg.method)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    apply_run_settings(cfg.run)
    seed_everything(cfg.run.seed)

    requested = {"layout": cfg.data.layout, "normalize": cfg.data.normalize}
    train = load_data(cfg.data, "train")  # resolves `auto` settings in cfg.data
    val = load_data(cfg.data, "val") if cfg.run.knn_every else None
    for key, value in requested.items():
        if getattr(cfg.data, key) != value:
            print(f"data.{key}: {value} -> {getattr(cfg.data, key)} ({train.file_format} data)")
    channels, _, _, persons = train.shape
    method = build_method(cfg, in_channels=channels, num_persons=persons)
    save_config(cfg, run_dir / "config.yaml")

    trainer = PretrainTrainer(cfg, method, train, run_dir,
                              knn_data=(train, val) if val is not None else None)
    summary = trainer.fit(resume=resume_dir is not None)
    summary = {"epochs": trainer.epoch, "steps": trainer.step, **summary}
    atomic_write_json(run_dir / "summary.json", summary)
    return run_dir, summary
