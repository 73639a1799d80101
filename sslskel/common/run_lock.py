"""One writer per run directory: an advisory lock on `RUN_DIR/.lock`.

Every process that writes a run directory (a new run, a resume, a fine-tune) holds an
exclusive `fcntl.flock` on the directory's `.lock` file while it writes. A second writer is
refused at once with a `RunLockedError` naming the holder (pid, host, start time, command),
read from the file. The kernel releases the lock when its holder exits, however it exits, so
a run killed with `kill -9` leaves no stale lock: the file may stay, but the next writer takes
the lock and rewrites it. A clean release removes the file.

Under torchrun rank 0 takes the lock and tells the other processes the outcome, so every
process raises the same error (and only rank 0's is printed).

Example:
    >>> import tempfile, pathlib
    >>> run = pathlib.Path(tempfile.mkdtemp())
    >>> with run_lock(run):
    ...     (run / LOCK_NAME).is_file()
    True
    >>> (run / LOCK_NAME).exists()
    False
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import sys
import time
from pathlib import Path

from .. import distributed
from ..errors import UserError

LOCK_NAME = ".lock"


class RunLockedError(UserError):
    """Another live process holds the run directory's lock."""


def holder_line() -> str:
    """Who this process is, as the lock file records it."""
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200] if sys.argv else "?"
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"pid {os.getpid()} on host {socket.gethostname()} (since {started}: {command})"


def _refusal(run_dir: Path, lock_path: Path) -> RunLockedError:
    try:
        holder = lock_path.read_text().strip() or "a process that has not written its name yet"
    except OSError:
        holder = "a process whose name could not be read"
    return RunLockedError(run_dir, "lock", "no other process writing this run (one writer per run)",
                          f"{holder}; wait for it to finish or stop it, then retry")


def _acquire(run_dir: Path) -> int:
    """An fd holding the exclusive lock on run_dir/.lock, or RunLockedError."""
    lock_path = run_dir / LOCK_NAME
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except (PermissionError, OSError) as e:
            if not isinstance(e, PermissionError) and e.errno != errno.EROFS:
                raise
            raise UserError(run_dir, "write access", "a run directory this user can write",
                            f"{(e.strerror or 'no permission').lower()}; nothing was changed") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise _refusal(run_dir, lock_path) from None
            raise
        # a holder releasing removes the file: if ours was removed meanwhile, lock the new one
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, (holder_line() + "\n").encode())
            return fd
        os.close(fd)


def _release(run_dir: Path, fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(run_dir / LOCK_NAME)  # while still locked: no one can take the old file after this
    os.close(fd)


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike):
    """Hold `run_dir`'s writer lock for the block (rank 0 under torchrun); RunLockedError if
    another process holds it, a UserError naming `run_dir` if this user cannot write there.
    `run_dir` must exist."""
    run_dir = Path(run_dir)
    fd, refusal = None, None
    if distributed.is_main():
        try:
            fd = _acquire(run_dir)
        except UserError as e:
            refusal = e
    if distributed.world_size() > 1:
        refused = distributed.broadcast_object(None if refusal is None else str(refusal))
        if refused is not None and refusal is None:
            refusal = UserError(refused)
    if refusal is not None:
        raise refusal
    try:
        yield
    finally:
        if fd is not None:
            _release(run_dir, fd)
