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

import numpy as np

from ..data.build import load_data
from ..methods import build_method
from ..common.checkpoint import seed_everything
from .. import distributed
from ..common.device import apply_run_settings, resolve_device
from ..common.io import atomic_write_json, remove_orphan_temporaries
from ..data.checks import check_held_out_classes
from ..errors import CheckpointError
from .config import save_config
from .trainer import PretrainTrainer, process_seed


def new_run_dir(out_dir: str | Path, method: str) -> Path:
    """A new `out_dir/<time>-<method>` directory; under torchrun rank 0 makes it and every
    process gets its name."""
    if distributed.world_size() > 1:
        made = _new_run_dir(out_dir, method) if distributed.is_main() else None
        return Path(distributed.broadcast_object(None if made is None else str(made)))
    return _new_run_dir(out_dir, method)


def _new_run_dir(out_dir: str | Path, method: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(out_dir) / f"{stamp}-{method}"
    run_dir, n = base, 1
    while True:
        try:
            run_dir.mkdir(parents=True)
            return run_dir
        except FileExistsError:  # another run started in the same second
            n += 1
            run_dir = base.with_name(f"{base.name}-{n}")


def load_splits(cfg):
    """(train, val): both are loaded, so a bad val file fails now, not after an epoch of
    training when the online kNN would first read it (reading it costs no feature extraction)."""
    requested = {"layout": cfg.data.layout, "normalize": cfg.data.normalize}
    train = load_data(cfg.data, "train")  # resolves `auto` settings in cfg.data
    val = load_data(cfg.data, "val")
    for key, value in requested.items():
        if getattr(cfg.data, key) != value:
            print(f"data.{key}: {value} -> {getattr(cfg.data, key)} ({train.file_format} data)")
    if cfg.data.exclude_classes:
        train, val = exclude_classes(train, cfg.data.exclude_classes), exclude_classes(val, cfg.data.exclude_classes)
        print(f"data.exclude_classes: {sorted(set(cfg.data.exclude_classes))} left out of pretraining "
              f"({len(train)} train / {len(val)} val clips remain)")
    return train, val


def exclude_classes(data, classes):
    """`data` without the samples of `classes` (data.exclude_classes): pretraining never sees
    them, so the uncertainty protocol can score them as unseen (its --ood-classes)."""
    classes = check_held_out_classes(classes, data.num_classes, data.labels, "data.exclude_classes",
                                     "to pretrain on", source=str(data.source))
    return data.subset(~np.isin(np.asarray(data.labels), classes))


def run_pretraining(cfg, run_dir: str | Path | None = None, resume_dir: str | Path | None = None):
    """Train `cfg.method`; returns (run_dir, summary). With `resume_dir`, continue that run.

    Nothing is written until the data is loaded, the method built and (on resume) the
    checkpoint loaded into it: a start that fails leaves no empty run directory, and a
    resume that fails (an override the checkpoint does not fit, say) leaves config.yaml as
    it was, so the run can still be resumed.
    """
    if resume_dir is not None:
        run_dir = Path(resume_dir)
        last = run_dir / "checkpoints" / "last.pt"
        if not last.is_file():
            raise CheckpointError(last, "file", "a checkpoint to resume from", "no such file")
    if run_dir is not None and distributed.is_main():  # temporary files a killed write left behind
        remove_orphan_temporaries(run_dir, Path(run_dir) / "checkpoints")
    apply_run_settings(cfg.run)
    distributed.init_distributed(resolve_device(cfg.run.device))
    distributed.local_batch_size(cfg.optim.batch_size)  # refused now if it does not split
    seed_everything(cfg.run.seed)  # the same on every process: the same initial weights

    train, val = load_splits(cfg)
    channels, _, _, persons = train.shape
    method = build_method(cfg, in_channels=channels, num_persons=persons)
    trainer = PretrainTrainer(cfg, method, train, run_dir,
                              knn_data=(train, val) if cfg.run.knn_every else None)
    if resume_dir is not None:
        trainer.resume()
    else:
        seed_everything(process_seed(cfg.run.seed, distributed.rank()))  # dropout etc. differ per process
        if run_dir is None:
            trainer.run_dir = new_run_dir(cfg.run.out_dir, cfg.method)
    save_config(cfg, trainer.run_dir / "config.yaml")  # rank 0 alone writes (atomic_path)

    summary = trainer.fit()
    summary = {"epochs": trainer.epoch, "steps": trainer.step, **summary}
    atomic_write_json(trainer.run_dir / "summary.json", summary)
    return trainer.run_dir, summary
