"""Temporary files and folders for the data writers that respect the umask.

`tempfile.mkstemp` makes files 0600 and `mkdtemp` folders 0700 whatever the umask, so a
dataset written through them and renamed into place could not be read by the other users
of a shared machine. The data writers (`prepare`, `ntu_raw`, the synthetic cache) take their
temporary paths from here, which then get the mode a plain `open()` / `mkdir()` would give.
(The data layer may not import `sslskel.common.io`, which does the same for run files.)

Example:
    >>> import os, tempfile
    >>> from pathlib import Path
    >>> final = Path(tempfile.mkdtemp()) / "x.npy"
    >>> tmp = temp_file_beside(final)
    >>> oct(os.stat(tmp).st_mode & 0o777) == oct(0o666 & ~current_umask()), tmp.name.startswith(".x.npy.")
    (True, True)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def current_umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_file_beside(final: str | os.PathLike) -> Path:
    """An empty temporary file in `final`'s folder, mode 0666 minus the umask."""
    final = Path(final)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~current_umask())
    return Path(tmp)


def temp_dir_beside(final: str | os.PathLike) -> Path:
    """An empty temporary folder in `final`'s parent, mode 0777 minus the umask."""
    final = Path(final)
    tmp = tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    os.chmod(tmp, 0o777 & ~current_umask())
    return Path(tmp)
