"""Atomic file writes: a reader never sees a half-written file.

Each writer writes to a temporary file in the destination's folder, flushes it to disk,
then renames it over the destination (`os.replace` is atomic on POSIX and Windows). If
anything fails or the process is interrupted, the old file is untouched and the temporary
one is removed. A process killed outright (`kill -9`) cannot remove it: such orphans
(`.NAME.XXXXXXXX.tmp`) are removed by `remove_orphan_temporaries` when a run starts or resumes
(under the run's lock, `sslskel.common.run_lock`, so never a live writer's).

A full disk (or quota) during a write is a `DiskFullError` naming the file, and the old file is
kept. JSON is written strictly: a non-finite float (an overflowed loss) is written as null,
never as `Infinity` or `NaN`, which no JSON reader accepts.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.json"
    >>> atomic_write_json(p, {"top1": 0.5}); p.read_text()
    '{\\n  "top1": 0.5\\n}\\n'
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import tempfile
from pathlib import Path

from .. import distributed
from ..errors import UserError

FULL_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(UserError):
    """No space (or quota) left while writing a file; the file's previous version is kept."""


def current_umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temporary_prefix(name: str) -> str:
    """The name prefix of `atomic_path`'s temporary files for destination file `name`."""
    return f".{name}."


TEMPORARY_SUFFIX = ".tmp"


def require_writable_dir(folder: str | os.PathLike, why: str = "results are written into it") -> None:
    """UserError naming `folder` unless this user can write there: checked before any computing,
    so a read-only run directory fails at once, not at the first write, naming a temporary file."""
    folder = Path(folder)
    if folder.is_dir() and not os.access(folder, os.W_OK):  # also read-only mounts and immutable folders
        raise UserError(folder, "write access", f"a directory this user can write ({why})",
                        "a read-only directory; nothing was changed")


def remove_orphan_temporaries(*folders: str | os.PathLike) -> list[Path]:
    """Delete the temporary files killed atomic writes left in `folders` (those that exist).

    Call it holding the run's lock (`sslskel.common.run_lock.run_lock`): one process writes a
    run directory, so then every such file is an orphan, none a live writer's.
    """
    orphans = [p for folder in map(Path, folders) if folder.is_dir()
               for p in folder.glob(f"{temporary_prefix('*')}*{TEMPORARY_SUFFIX}") if p.is_file()]
    for path in orphans:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return orphans


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success it replaces `path`.

    Under torchrun only rank 0 publishes: other processes get a scratch file that is deleted,
    so every writer in the code base (results, configs, checkpoints) writes once per job."""
    path = Path(path)
    if not distributed.is_main():
        with tempfile.TemporaryDirectory(prefix="sslskel-rank") as scratch:
            yield Path(scratch) / path.name
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path.name), suffix=TEMPORARY_SUFFIX,
                               dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; a plain open() would respect the umask
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:  # make the bytes durable before the rename publishes them
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(error, OSError) and error.errno in FULL_DISK_ERRNOS:
            kept = "the previous version is kept" if path.exists() else "nothing was written"
            raise DiskFullError(path, "write", "free disk space for this file",
                                f"no space left on device ({error.strerror}); {kept}") from None
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def finite_or_null(obj):
    """`obj` with every non-finite float (inf, nan) replaced by None, in nested dicts and lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: finite_or_null(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_null(value) for value in obj]
    return obj


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    """Strict JSON: non-finite floats become null (see `finite_or_null`)."""
    atomic_write_text(path, json.dumps(finite_or_null(obj), indent=2, allow_nan=False) + "\n")
