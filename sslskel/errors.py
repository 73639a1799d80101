"""The one error style: what a user can cause is a `UserError`, printed as one line.

Every error a user can cause (a config key, a data file, a checkpoint, a path) is a
`UserError`, and its message reads `WHERE: FIELD: expected ..., got ...`. The entry points
print it as `error: <message>` and exit with code 2; `--debug` or `SSLSKEL_DEBUG=1` shows the
traceback instead. Anything else is a bug and keeps its traceback.

This module imports nothing from sslskel, so every layer may use it.

Example:
    >>> str(UserError("runs/x/checkpoints/last.pt", "file", "a torch checkpoint", "a truncated zip archive"))
    'runs/x/checkpoints/last.pt: file: expected a torch checkpoint, got a truncated zip archive'
"""

from __future__ import annotations

import os


class UserError(ValueError):
    """Bad input from the user: WHERE (a file, a config key), FIELD, what was expected, what came."""

    def __init__(self, where: str | os.PathLike, field: str | None = None, expected: str | None = None,
                 got: str | None = None):
        self.where, self.field, self.expected, self.got = str(where), field, expected, got
        message = self.where
        if field:
            message += f": {field}"
        if expected is not None:
            message += f": expected {expected}"
        if got is not None:
            message += f", got {got}"
        super().__init__(message)


class CheckpointError(UserError):
    """A checkpoint file cannot be used: missing, corrupt, of another kind, or not weights-only."""
