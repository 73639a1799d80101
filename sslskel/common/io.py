"""Atomic file writes: a reader never sees a half-written file.

Each writer writes to a temporary file in the destination's folder, flushes it to disk,
then renames it over the destination (`os.replace` is atomic on POSIX and Windows). If
anything fails or the process is interrupted, the old file is untouched and the temporary
one is removed. A process killed outright (`kill -9`) cannot remove it: such orphans
(`.NAME.XXXXXXXX.tmp`) are removed by `remove_orphan_temporaries` when a run starts or resumes.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.json"
    >>> atomic_write_json(p, {"top1": 0.5}); p.read_text()
    '{\\n  "top1": 0.5\\n}\\n'
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from .. import distributed


def current_umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temporary_prefix(name: str) -> str:
    """The name prefix of `atomic_path`'s temporary files for destination file `name`."""
    return f".{name}."


TEMPORARY_SUFFIX = ".tmp"


def remove_orphan_temporaries(*folders: str | os.PathLike) -> list[Path]:
    """Delete the temporary files killed atomic writes left in `folders` (those that exist).

    Only one process writes a run directory, so at its start every such file is an orphan.
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
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")
