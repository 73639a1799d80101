"""A training loss that stopped being finite, said as one `error:` line.

`sslskel.engine.loop.train_epoch` raises FloatingPointError on a non-finite loss, with the
last good checkpoint in its message. The runs turn it into a `TrainingDivergedError`, a
UserError (one line, exit code 2) that is still a FloatingPointError for callers that catch it.

Example:
    >>> e = diverged(FloatingPointError("train: loss is inf at epoch 0, step 3; no checkpoint was "
    ...                                 "written yet"), "runs/x")
    >>> str(e)  # doctest: +ELLIPSIS
    'runs/x: loss: expected a finite training loss (...), got train: loss is inf at epoch 0, step 3; ...'
"""

from __future__ import annotations

import os

from ..errors import UserError


class TrainingDivergedError(UserError, FloatingPointError):
    """A non-finite loss ended training; the message names the last good checkpoint."""


def diverged(error: FloatingPointError, where: str | os.PathLike | None) -> TrainingDivergedError:
    return TrainingDivergedError(where if where is not None else "training", "loss",
                                 "a finite training loss (a smaller learning rate, loss weight or a "
                                 "larger temperature may keep it so)", str(error))
