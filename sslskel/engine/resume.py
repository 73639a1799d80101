"""What a pretraining resume may do, decided before anything in the run is touched.

`plan_resume` reads the checkpoint to continue from and checks the resumed config against the
one the run was trained with (the checkpoint's own copy):

* the checkpoint is `checkpoints/last.pt` or, when that file is missing or cannot be read,
  the newest periodic `checkpoints/epoch_NNNN.pt` that loads (a warning names both files);
* settings that change what the run means (the method, the data, the encoder, the batch size,
  the schedule, the seed...) are refused; only `RESUMABLE_KEYS` may differ: the length of the
  run and how it is run, logged and checkpointed; and `data.path`, with a warning (the same
  data, moved); `data.layout` / `data.normalize` may be `auto`, and the resume then reads the
  data as the run did (`ResumePlan.as_trained`);
* `optim.epochs` below the epochs the checkpoint holds is refused (a resume cannot undo
  training), and `optim.epochs` equal to them is a resume with nothing to do: the run is
  finished, and `finished_summary` reads its summary without writing anything.

Example:
    >>> changed_keys({"optim": {"epochs": 2, "lr": 0.1}}, {"optim": {"epochs": 4, "lr": 0.2}})
    ['optim.lr']
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..common.checkpoint import load_checkpoint
from ..errors import CheckpointError, UserError
from .config_tree import flatten
from .run_log import read_metrics

# keys a resume may change: the run's length, and settings that change neither the weights nor
# the data order (that is seeded by (seed, epoch, index), not by the loader's workers)
RESUMABLE_KEYS = ("optim.epochs", "data.num_workers", "run.threads", "run.progress", "run.device",
                  "run.log_every", "run.knn_every", "run.checkpoint_every", "run.out_dir")
MOVABLE_KEY = "data.path"  # may change too (the same data, moved), with a warning
# may be `auto` in the resumed config: the run's value (what the data was read as) is kept
AUTO_KEYS = ("data.layout", "data.normalize")


@dataclass
class ResumePlan:
    run_dir: Path
    checkpoint: Path  # the file to continue from
    state: dict  # its contents
    stamp: tuple  # (inode, size, mtime) of `checkpoint` when read: re-read if it changed since

    @property
    def epochs_done(self) -> int:
        return int(self.state["epoch"])

    def reread_if_changed(self, resumed_config: dict, epochs: int) -> "ResumePlan":
        """This plan, or a new one if its checkpoint changed since it was read (a writer that
        finished between the plan and the lock)."""
        try:
            unchanged = file_stamp(self.checkpoint) == self.stamp
        except FileNotFoundError:
            unchanged = False
        return self if unchanged else plan_resume(self.run_dir, resumed_config, epochs)

    def as_trained(self, cfg):
        """A copy of `cfg` whose AUTO_KEYS left `auto` hold the run's values: the resume reads its
        data the way the run did."""
        trained = flatten(self.state.get("config") or {})
        settled = {key.split(".")[1]: trained[key] for key in AUTO_KEYS
                   if key in trained and getattr(cfg.data, key.split(".")[1]) == "auto"}
        return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, **settled)) if settled else cfg


def periodic_checkpoints(checkpoint_dir: Path) -> list[Path]:
    """checkpoint_dir/epoch_NNNN.pt, newest epoch first."""
    found = [(int(m.group(1)), p) for p in checkpoint_dir.glob("epoch_*.pt")
             if (m := re.fullmatch(r"epoch_(\d+)\.pt", p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def find_resume_checkpoint(run_dir: str | os.PathLike, map_location="cpu") -> tuple[Path, dict]:
    """(path, state) of checkpoints/last.pt or, if it is missing or unreadable, of the newest
    periodic checkpoint that loads, with a warning naming both; CheckpointError if none does."""
    checkpoint_dir = Path(run_dir) / "checkpoints"
    last = checkpoint_dir / "last.pt"
    try:
        return last, load_checkpoint(last, map_location=map_location)
    except CheckpointError as error:
        candidates = periodic_checkpoints(checkpoint_dir)
        for path in candidates:
            try:
                state = load_checkpoint(path, map_location=map_location)
            except CheckpointError:
                continue
            warnings.warn(f"{error}; resuming from the newest periodic checkpoint that loads: {path} "
                          f"(epoch {state.get('epoch')})", stacklevel=2)
            return path, state
        raise CheckpointError(error.where, error.field, error.expected,
                              f"{error.got}; and no periodic checkpoint {checkpoint_dir}/epoch_NNNN.pt "
                              f"could be loaded ({len(candidates)} found)") from None


def file_stamp(path: Path) -> tuple:
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def changed_keys(trained: dict, resumed: dict) -> list[str]:
    """Keys whose value differs between two config dicts, except RESUMABLE_KEYS. A key the
    trained config lacks (added to sslskel since) is not compared: it could not have differed."""
    old, new = flatten(trained), flatten(resumed)
    return [key for key in new if key in old and old[key] != new[key]
            and key not in (*RESUMABLE_KEYS, MOVABLE_KEY) and not (key in AUTO_KEYS and new[key] == "auto")]


def check_resumed_config(trained: dict, resumed: dict, run_dir: Path) -> None:
    """UserError naming the first setting the resume would change that changes what the run means."""
    changed = sorted(changed_keys(trained, resumed), key=lambda k: k != "method")  # the cause first
    old, new = flatten(trained), flatten(resumed)
    if old.get(MOVABLE_KEY) != new.get(MOVABLE_KEY):
        warnings.warn(f"{run_dir}: {MOVABLE_KEY}: {old.get(MOVABLE_KEY)} -> {new.get(MOVABLE_KEY)}: the run "
                      "continues on the data at the new path, which must be the same data moved",
                      stacklevel=3)
    if changed:
        key = changed[0]
        more = f" (and {len(changed) - 1} more: {', '.join(changed[1:4])})" if len(changed) > 1 else ""
        raise UserError(run_dir, key, f"{old[key]!r}, the value the run was trained with (a resume may "
                                      f"change only {', '.join(RESUMABLE_KEYS)}; start a new run to change "
                                      f"the rest)", f"{new[key]!r}{more}")


def plan_resume(run_dir: str | os.PathLike, resumed_config: dict, epochs: int) -> ResumePlan:
    """Read-only checks of a resume to `epochs` epochs with `resumed_config` (a config dict);
    raises UserError / CheckpointError before anything in `run_dir` changes."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(run_dir, "--resume", "an existing run directory", "no such directory")
    checkpoint_dir = run_dir / "checkpoints"
    if not (checkpoint_dir / "last.pt").exists() and not periodic_checkpoints(checkpoint_dir):
        raise CheckpointError(run_dir, "--resume", "a run directory holding checkpoints/last.pt or "
                              "checkpoints/epoch_NNNN.pt", "no checkpoints/last.pt to resume from, "
                              "and no periodic checkpoint")
    path, state = find_resume_checkpoint(run_dir)
    plan = ResumePlan(run_dir, path, state, file_stamp(path))
    if "epoch" not in state:
        raise CheckpointError(path, "epoch", "a pretraining checkpoint (with epoch)", "no such key")
    if isinstance(state.get("config"), dict):
        check_resumed_config(state["config"], resumed_config, run_dir)
    if epochs < plan.epochs_done:
        raise UserError(run_dir, "optim.epochs", f"at least {plan.epochs_done}, the epochs {path.name} already "
                        "holds (a resume continues a run; it cannot shorten it)", str(epochs))
    return plan


def finished_summary(plan: ResumePlan) -> tuple[dict, bool]:
    """(summary, found) of a run whose checkpoint holds every epoch: summary.json when it is
    there, else (a kill between the last checkpoint and summary.json) rebuilt from the records
    metrics.jsonl holds at the checkpoint's step, the same keys the finished run writes."""
    path = plan.run_dir / "summary.json"
    step = int(plan.state["step"])
    if path.is_file():
        try:
            summary = json.loads(path.read_text())
            if summary.get("steps") == step:
                return summary, True
        except (json.JSONDecodeError, AttributeError):
            pass
    summary = {"epochs": plan.epochs_done, "steps": step}
    for record in read_metrics(plan.run_dir) if (plan.run_dir / "metrics.jsonl").is_file() else []:
        if record.get("step") == step:
            summary.update({k: v for k, v in record.items() if k.startswith(("epoch/", "knn/"))})
    return summary, False
