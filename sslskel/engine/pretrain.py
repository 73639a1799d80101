"""Pretraining from a config to a finished run directory (what `pretrain/run.py` calls).

A run directory `runs/<time>-<method>/` holds:
    .lock                       while a process writes the run (`sslskel.common.run_lock`)
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

import contextlib
import time
from pathlib import Path

import numpy as np

from .. import distributed
from ..common.checkpoint import seed_everything
from ..common.device import apply_run_settings, resolve_device
from ..common.io import atomic_write_json, require_writable_dir
from ..common.run_lock import run_lock
from ..data.build import load_data
from ..data.checks import check_held_out_classes, check_training_clips
from ..methods import build_method, method_class
from .config import resolved_config, save_config, to_dict
from .memory import check_run_memory
from .pretrain_trainer import PretrainTrainer
from .resume import ResumePlan, finished_summary, plan_resume
from .startup_warnings import warn_schedule
from .trainer import process_seed


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
    training when the online kNN would first read it (reading it costs no feature extraction).
    What `auto` settings were resolved to (on the data, not in `cfg`) is printed."""
    train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
    for key, value in {"layout": train.layout, "normalize": train.normalization}.items():
        if getattr(cfg.data, key) != value:
            print(f"data.{key}: {getattr(cfg.data, key)} -> {value} ({train.file_format} data)")
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

    Nothing is written until the data is loaded, the method built and (on resume) the resume
    checked (`plan_resume`: what it may change, how many epochs) and its checkpoint loaded: a
    start that fails leaves no empty run directory, and a resume that fails leaves the run as
    it was. A resume with nothing to do (the checkpoint holds `optim.epochs` epochs) changes
    nothing and says so. The run directory is written under its lock (`run_lock`, taken on
    resume before the data is read): a second writer is refused, naming the first. A
    non-finite loss is a `TrainingDivergedError` naming the last good checkpoint; a new run
    that ends so before its first checkpoint is removed.
    """
    plan = None
    with contextlib.ExitStack() as held:
        if resume_dir is not None:
            plan = plan_resume(resume_dir, to_dict(cfg), cfg.optim.epochs)
            cfg = plan.as_trained(cfg)  # data.layout / data.normalize: auto -> the run's
            if plan.epochs_done == cfg.optim.epochs:
                return plan.run_dir, finish_without_training(plan)
            require_writable_dir(plan.run_dir, "a resume writes into it")
            distributed.init_distributed(resolve_device(cfg.run.device))  # the lock's outcome reaches all
            held.enter_context(run_lock(plan.run_dir))  # a second writer is refused before any loading
            run_dir = plan.run_dir
        trainer = build_trainer(cfg, run_dir)
        if plan is None:
            seed_everything(process_seed(cfg.run.seed, distributed.rank()))  # dropout etc. differ per process
            trainer.discard_unsaved_run_dir = run_dir is None
            trainer.run_dir = new_run_dir(cfg.run.out_dir, cfg.method) if run_dir is None else Path(run_dir)
        with trainer.writing(lock=plan is None):  # a resume holds the lock already
            return trainer.run_dir, train_locked(trainer.cfg, trainer, plan)


def build_trainer(cfg, run_dir: Path | None) -> PretrainTrainer:
    """Settings applied, both splits loaded and checked, the method built: all before any write.
    The trainer's `cfg` is `cfg` with the data's resolved layout and normalisation
    (`resolved_config`): the method is built from it and config.yaml records it."""
    apply_run_settings(cfg.run)
    distributed.init_distributed(resolve_device(cfg.run.device))
    distributed.local_batch_size(cfg.optim.batch_size)  # refused now if it does not split
    seed_everything(cfg.run.seed)  # the same on every process: the same initial weights
    train, val = load_splits(cfg)
    cfg = resolved_config(cfg, train)
    channels, _, joints, persons = train.shape
    check_training_clips(train, cfg.optim.batch_size)
    warn_schedule(cfg, len(train))
    check_run_memory(cfg, channels, joints, persons, method_class(cfg.method).num_views)  # before building
    method = build_method(cfg, in_channels=channels, num_persons=persons)
    return PretrainTrainer(cfg, method, train, run_dir, knn_data=(train, val) if cfg.run.knn_every else None)


def train_locked(cfg, trainer: PretrainTrainer, plan: ResumePlan | None) -> dict:
    """The writes, holding the run for writing (`Trainer.writing`): the checkpoint loaded (read
    again if it changed since the plan), config.yaml (`cfg`, the resolved one: `build_trainer`),
    the epochs, summary.json."""
    if plan is not None:
        plan = plan.reread_if_changed(to_dict(cfg), cfg.optim.epochs)
        if plan.epochs_done == cfg.optim.epochs:  # another process finished it meanwhile
            return finish_without_training(plan, locked=True)
        trainer.load(plan.checkpoint, plan.state)
        print(f"resuming {trainer.run_dir} from {plan.checkpoint} (epoch {plan.epochs_done} of "
              f"{cfg.optim.epochs})")
    save_config(cfg, trainer.run_dir / "config.yaml")  # rank 0 alone writes (atomic_path)
    summary = trainer.fit()
    summary = {"epochs": trainer.epoch, "steps": trainer.step, **summary}
    atomic_write_json(trainer.run_dir / "summary.json", summary)
    return summary


def finish_without_training(plan: ResumePlan, locked: bool = False) -> dict:
    """A resume with nothing to do: the run is left as it is (summary.json is written only if a
    kill took it after the last checkpoint), and the summary returned."""
    summary, found = finished_summary(plan)
    if not found:
        with run_lock(plan.run_dir) if not locked else contextlib.nullcontext():
            atomic_write_json(plan.run_dir / "summary.json", summary)
        print(f"{plan.run_dir}: summary.json was missing; rebuilt from metrics.jsonl")
    print(f"nothing to do: {plan.checkpoint} already holds all {plan.epochs_done} epochs "
          f"(optim.epochs={plan.epochs_done}); the run was not changed. To train longer, resume with "
          f"optim.epochs=N, N > {plan.epochs_done}")
    return summary
