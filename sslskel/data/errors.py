"""Errors raised for bad input data.

Every message names the file, the field (or line / sample) and what was expected, so a
user with a 7 GB file can find the problem without a debugger.

Example:
    >>> raise DataFormatError("train_label.pkl", "labels", "8 entries to match data (N=8)", "7")
    Traceback (most recent call last):
    ...
    sslskel.data.errors.DataFormatError: train_label.pkl: labels: expected 8 entries to match data (N=8), got 7
"""

from __future__ import annotations

import os

from ..errors import UserError


class DataFormatError(UserError):
    """A data file does not have the form its reader expects (sslskel.errors: one error style)."""

    def __init__(self, path: str | os.PathLike, field: str, expected: str, got: str | None = None):
        super().__init__(path, field, expected, got)
        self.path = str(path)
