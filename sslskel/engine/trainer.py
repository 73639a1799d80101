"""One run's lifecycle, shared by pretraining, fine-tuning and the linear probe.

A `Trainer` subclass says what its state is and what one epoch does:

    kind, label, required_keys    the checkpoint's `kind` (pretraining checkpoints have none),
                                  what it is called in errors, the keys a checkpoint must hold
    checkpoint_parts()            {key: value} of its modules and plain values
    load_parts(state, path)       the reverse, checking what it reads
    run_epoch() -> dict           one epoch, trained through `run_loader`
    after_epoch(record)           what follows once `epoch` counts it (online kNN, val accuracy)
    result() -> dict              what `fit` returns

The base owns the rest, the same for every kind of run:

* with a `run_dir`: the run's lock (`run_lock`, one writer) and the removal of temporaries a
  killed write left; `metrics.jsonl` / TensorBoard (`RunLogger`); after every epoch the
  checkpoint `checkpoints/last.pt`, plus `epoch_NNNN.pt` every `run.checkpoint_every`
  epochs, written atomically by rank 0 while every process waits (`save`);
* `resume`: last.pt, or when it is missing or unreadable the newest periodic checkpoint that
  loads (`sslskel.engine.resume.find_resume_checkpoint`, with a warning); each process gets
  back its own RNG state (`restore_process_rng`), so a resume under torchrun is exact too;
* Ctrl-C prints which checkpoint holds which epoch; a non-finite loss is one error naming
  the last good checkpoint (`sslskel.engine.diverged`);
* under torchrun: the device of this process and the step through DDP (`parallel`).

Without a `run_dir` the trainer keeps everything in memory (the linear probe; a fine-tune
nobody will resume): nothing is written, and nothing can be resumed.

What makes a resume exact: the learning rate is a pure function of the epoch; the data order
and augmentations are seeded by (seed, epoch, index); modules keep their queues, banks and
counters in buffers; and the checkpoint holds the weights, every optimiser, the epoch / step
counters and every process's RNG state.

Example (a subclass: `sslskel.engine.finetune.FineTuner`; the smallest is the probe's,
`sslskel.eval.linear.LinearProbe`):
    tuner = FineTuner(cfg, encoder, train, val, run_dir="runs/tune")
    tuner.fit()                # runs/tune/checkpoints/last.pt after every epoch
    tuner.fit(resume=True)     # continues from it (or from the newest epoch_NNNN.pt that loads)
"""

from __future__ import annotations

import contextlib
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .. import distributed
from ..common.checkpoint import (
    FORMAT_VERSION,
    capture_rng_state,
    load_checkpoint,
    require_keys,
    restore_rng_state,
    save_checkpoint,
    seed_everything,
)
from ..common.device import resolve_device
from ..common.io import remove_orphan_temporaries
from ..common.run_lock import run_lock
from ..errors import CheckpointError, UserError
from .config import to_dict
from .diverged import TrainingDivergedError, diverged
from .loop import EpochResult, LoopSettings, StepFn, train_epoch
from .parallel import ParallelStep
from .resume import find_resume_checkpoint, periodic_checkpoints
from .run_log import RunLogger, truncate_metrics


def process_device(run_device: str) -> torch.device:
    """This process's device for `run.device` (under torchrun: the process group joined)."""
    return distributed.init_distributed(resolve_device(run_device))


def process_seed(seed: int, rank: int, step: int = 0) -> int:
    """The global-RNG seed of process `rank` (rank 0: the run seed itself)."""
    return seed if rank == 0 and step == 0 else (seed + 1_000_003 * rank + 7 * step) % (2**31 - 1)


def restore_process_rng(state: dict, path, seed: int) -> None:
    """Restore this process's RNG state from a checkpoint: its own when as many processes wrote
    it; otherwise rank 0 takes rank 0's and the others reseed from (run seed, rank, step)."""
    per_process = state.get("rng_per_process")
    n, r = distributed.world_size(), distributed.rank()
    if per_process is not None and len(per_process) == n:
        restore_rng_state(per_process[r])
        return
    written = len(per_process) if per_process is not None else 1
    if written != n and distributed.is_main():
        warnings.warn(f"{path}: written by {written} process(es), resumed by {n}: data order, weights and "
                      f"method state continue exactly; the global RNG of processes > 0 is reseeded", stacklevel=3)
    restore_rng_state(state["rng"])
    if r > 0:
        seed_everything(process_seed(seed, r, int(state["step"])))


class Trainer:
    """The lifecycle of one run (see the module docstring); subclasses set `optimizers`."""

    kind: str | None = None  # the checkpoint's "kind"; None: pretraining's, which has no such key
    label = "training"  # what its checkpoint is called in errors ("a {label} checkpoint")
    required_keys: tuple[str, ...] = ("epoch", "step", "rng")

    def __init__(self, cfg, run_dir: str | Path | None, loop: LoopSettings, *, epochs: int,
                 epochs_key: str, seed: int, name: str = ""):
        """`loop`: the epoch loop's settings (its logger is set while `fit` runs); `epochs_key`:
        the setting `epochs` comes from, for errors; `name`: shown before "epoch" in progress."""
        self.cfg = cfg
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.loop = loop
        self.device = loop.device
        self.epochs, self.epochs_key, self.seed, self.name = epochs, epochs_key, seed, name
        self.epoch = 0  # epochs completed
        self.step = 0  # optimiser steps completed
        self.saved: tuple[Path, int] | None = None  # (checkpoint on disk, the epoch it holds)
        self.discard_unsaved_run_dir = False  # a new run's directory: removed if it diverges before a save
        self._writing = False

    # -- what a subclass says ---------------------------------------------------------------
    def checkpoint_parts(self) -> dict:
        raise NotImplementedError

    def load_parts(self, state: dict, path: Path) -> None:
        raise NotImplementedError

    def run_epoch(self) -> dict:
        raise NotImplementedError

    def after_epoch(self, record: dict) -> None:
        """After `epoch` counts the epoch just trained, before its checkpoint (default: nothing)."""

    def before_training(self) -> None:
        """Once `fit` holds the run directory, before the first epoch still to do (default: nothing)."""

    def result(self) -> dict:
        raise NotImplementedError

    def continue_hint(self) -> str:
        """How to continue an interrupted run, for the Ctrl-C message ("" says nothing)."""
        return ""

    # -- the epoch machinery ----------------------------------------------------------------
    def parallel(self, module: nn.Module, fn: Callable, separate_backward: bool = False) -> ParallelStep:
        """`fn` (using `module`'s parameters) as the step: through DDP under torchrun, its
        gradient averaging hooked into the loop."""
        step = ParallelStep(module, fn, self.device, separate_backward=separate_backward)
        self.loop.after_backward = step.after_backward
        return step

    def run_loader(self, loader, step_fn: StepFn) -> EpochResult:
        """Epoch `epoch` of `loader` through the shared loop; `step` moves on."""
        result = train_epoch(loader, step_fn, self.optimizers, self.loop, epoch=self.epoch, step=self.step,
                             desc=f"{self.name} epoch {self.epoch + 1}/{self.epochs}".lstrip(),
                             failure_hint=self.last_good())
        self.step = result.steps
        return result

    def log(self, record: dict, epoch: int) -> None:
        if self.loop.logger is not None:
            self.loop.logger.log(record, step=self.step, epoch=epoch)

    # -- checkpoints ------------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def checkpoint_path(self) -> Path:
        return self.checkpoint_dir / "last.pt"

    def has_checkpoint(self) -> bool:
        """Whether `run_dir` holds a checkpoint `resume` could start from."""
        return self.run_dir is not None and (self.checkpoint_path.is_file()
                                             or bool(periodic_checkpoints(self.checkpoint_dir)))

    def state(self) -> dict:
        """The checkpoint; under torchrun (called on every process) it also holds every
        process's RNG state, so each resumes its own."""
        rng = capture_rng_state()
        state = {"version": FORMAT_VERSION, **({"kind": self.kind} if self.kind else {}),
                 **self.checkpoint_parts(), "optimizers": self.optimizers.state_dict(),
                 "epoch": self.epoch, "step": self.step, "rng": rng, "config": to_dict(self.cfg)}
        if distributed.world_size() > 1:
            state["rng_per_process"] = distributed.all_gather_objects(rng)
        return state

    def save(self) -> None:
        """Rank 0 writes (atomically, `save_checkpoint`); every process waits for it, so none
        runs ahead of the checkpoint a crash would resume from."""
        state = self.state()
        save_checkpoint(self.checkpoint_path, state)
        every = self.cfg.run.checkpoint_every
        if every and self.epoch % every == 0:
            save_checkpoint(self.checkpoint_dir / f"epoch_{self.epoch:04d}.pt", state)
        distributed.barrier()
        self.saved = (self.checkpoint_path, self.epoch)

    def load(self, path: str | Path, state: dict | None = None) -> None:
        """Continue from the checkpoint at `path` (`state`: its contents, when already read)."""
        path = Path(path)
        state = load_checkpoint(path, map_location=self.device) if state is None else state
        if self.kind is not None and state.get("kind") != self.kind:
            raise CheckpointError(path, "kind", f"a {self.label} checkpoint ('kind: {self.kind}')",
                                  f"{state.get('kind', 'a pretraining checkpoint')!r}")
        require_keys(state, path, self.required_keys, self.label)
        self.load_parts(state, path)
        # version 1 pretraining checkpoints had one optimiser, the "main" group's
        optimizers = state["optimizers"] if "optimizers" in state else {"main": state.get("optimizer")}
        try:
            self.optimizers.load_state_dict(optimizers, source=str(path))
        except (ValueError, KeyError, TypeError) as e:
            raise CheckpointError(path, "optimizers", "the optimiser state of this config's groups",
                                  f"another ({e})") from None
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        restore_process_rng(state, path, self.seed)
        if distributed.is_main():
            truncate_metrics(self.run_dir, self.step)
        distributed.barrier()
        self.saved = (path, self.epoch)

    def resume(self) -> Path:
        """Load checkpoints/last.pt or, if it is missing or cannot be read, the newest periodic
        checkpoint that can (with a warning naming both); returns the checkpoint used. A
        checkpoint holding more epochs than this run has is refused before anything changes."""
        path, state = find_resume_checkpoint(self.run_dir, map_location=self.device)
        if int(state.get("epoch", 0)) > self.epochs:
            raise UserError(self.run_dir, self.epochs_key, f"at least {state['epoch']}, the epochs {path} holds "
                            "(a resume cannot shorten a run)", str(self.epochs))
        self.load(path, state)
        return path

    def last_good(self) -> str:
        """For the non-finite-loss error: the checkpoint on disk, if there is one."""
        if self.run_dir is None:
            return "no checkpoint is kept without a run directory"
        if self.saved is None:
            return "no checkpoint was written yet"
        return f"last good checkpoint: {self.saved[0]} (epoch {self.saved[1]})"

    def interrupted_message(self) -> str:
        hint = self.continue_hint()
        if self.saved is None:
            return ("interrupted: no checkpoint was written yet (the first epoch did not finish)"
                    + (f"; {hint}" if hint else ""))
        path, epoch = self.saved
        return f"interrupted: {path} holds epoch {epoch}" + (f"; {hint}" if hint else "")

    def diverged(self, error: FloatingPointError) -> TrainingDivergedError:
        """The one-line error of a non-finite loss; a new run's directory with no checkpoint in
        it yet (`discard_unsaved_run_dir`) is removed: nothing in it is worth keeping."""
        if self.discard_unsaved_run_dir and self.saved is None and distributed.is_main():
            shutil.rmtree(self.run_dir, ignore_errors=True)
            error = FloatingPointError(f"{error}; the new run directory was removed")
        return diverged(error, self.run_dir)

    # -- the run ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self, lock: bool = True):
        """Hold `run_dir` for writing: its lock (`lock=False`: the caller already holds it) and
        the temporaries of killed writes removed (none can be a live writer's now). Inside
        another `writing` of this trainer it does nothing."""
        if self._writing:
            yield
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with run_lock(self.run_dir) if lock else contextlib.nullcontext():
            if distributed.is_main():
                remove_orphan_temporaries(self.run_dir, self.checkpoint_dir)
            self._writing = True
            try:
                yield
            finally:
                self._writing = False

    def fit(self, resume: bool = False) -> dict:
        """Train to `epochs`; `resume=True` first loads run_dir's checkpoint (`resume`). With a
        run_dir everything happens holding its lock: a second writer is refused."""
        if self.run_dir is None:
            if resume:
                raise ValueError("resume needs the run_dir holding checkpoints/last.pt")
            return self.train_epochs()
        with self.writing():
            if resume:
                self.resume()
            return self.train_epochs()

    def train_epochs(self) -> dict:
        """The epochs still to do, each followed by `after_epoch` and (with a run_dir) logged
        and checkpointed."""
        logging = RunLogger(self.run_dir, enabled=distributed.is_main()) if self.run_dir else contextlib.nullcontext()
        with logging as logger:
            self.loop.logger = logger
            try:
                self.before_training()
                while self.epoch < self.epochs:
                    record = self.run_epoch()
                    self.epoch += 1
                    self.after_epoch(record)
                    if self.run_dir is not None:
                        self.save()
            except KeyboardInterrupt:
                if self.run_dir is not None:
                    print("\n" + self.interrupted_message())
                raise
            except FloatingPointError as error:
                raise self.diverged(error) from None
            finally:
                self.loop.logger = None
        return self.result()
