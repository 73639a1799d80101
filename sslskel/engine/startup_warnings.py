"""Settings that are valid but silently change the run, warned about at start-up.

A method may say what changes it (`PretrainMethod.config_warnings`: a HaLP run whose term
never switches on trains plain MoCo under HaLP's name); a milestone at
or past `optim.epochs` never lowers the rate; `run.knn_every > optim.epochs` runs the online
kNN once, at the end; a `linear.knn_k` above the training clips votes with all of them (once
the data is read: pretraining and `sslskel eval` pass the count).

Example:
    >>> from sslskel.engine.config import load_config
    >>> schedule_warnings(load_config(None, ["optim.epochs=2", "optim.milestones=[1]", "run.knn_every=5"]))
    ['run.knn_every=5 > optim.epochs=2: the online kNN runs once, after the last epoch']
"""

from __future__ import annotations

import warnings

from ..methods import method_class

__all__ = ["knn_k_warnings", "schedule_warnings", "warn_schedule"]


def schedule_warnings(cfg, num_train: int | None = None) -> list[str]:
    """What in `cfg` silently changes the run: the method's own (`config_warnings`: a HaLP
    term that never switches on), a schedule step past its end, an online kNN that waits for the end, more kNN neighbours than the
    `num_train` training clips (once the data is read)."""
    epochs, found = cfg.optim.epochs, list(method_class(cfg.method).config_warnings(cfg))
    schedules = [("optim", cfg.optim.milestones), *((f"optim.groups.{group}", overrides["milestones"])
                                                    for group, overrides in cfg.optim.groups.items()
                                                    if "milestones" in overrides)]
    for name, milestones in schedules:
        late = [m for m in milestones if m >= epochs]
        if late:
            found.append(f"{name}.milestones {late} >= optim.epochs={epochs}: the learning rate never "
                         f"steps down there")
    if cfg.run.knn_every > epochs:
        found.append(f"run.knn_every={cfg.run.knn_every} > optim.epochs={epochs}: the online kNN runs once, "
                     f"after the last epoch")
    if num_train is not None and cfg.run.knn_every:
        found += knn_k_warnings(cfg.linear.knn_k, num_train)
    return found


def knn_k_warnings(knn_k, num_train: int) -> list[str]:
    """A k of `linear.knn_k` above the number of training clips votes with all of them."""
    large = [k for k in knn_k if k > num_train]
    return [f"linear.knn_k {large} > the {num_train} training clips: the kNN votes with all "
            f"{num_train}, reported as k={large[0]}"] if large else []


def warn_schedule(cfg, num_train: int | None = None) -> None:
    """Each of `schedule_warnings` as one warning, at start-up."""
    for message in schedule_warnings(cfg, num_train):
        warnings.warn(message, stacklevel=2)
