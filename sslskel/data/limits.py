"""Bounds on what one input may make the process hold in memory.

A reader or setting that would allocate from a number the user or a file gives is bounded
here, before the allocation:

- `MAX_FRAMES` frames per clip (`data.frames`, a clip file's length or declared length,
  `check_clip_length`);
- `MAX_LINE_BYTES` bytes per line of a text skeleton file (MSR Action3D, PKU-MMD, raw NTU,
  `read_lines`): a line is read at most that far, so 1 GB with no newline costs 64 KiB, not
  5 GB (a PKU-MMD split file, one line of video ids, may take `MAX_LIST_LINE_BYTES`);
- `require_memory`: an allocation (an estimate of it) larger than the memory this machine
  has available (`MemAvailable` of /proc/meminfo, else `os.sysconf`) is refused with the
  estimate, naming what asked for it.

Example:
    >>> format_bytes(3 * 2**30 + 2**29)
    '3.5 GiB'
    >>> require_memory(2**20, "x.npy", "data")  # 1 MiB: fine on any machine
    >>> require_memory(2**70, "x.npy", "data", "the samples of the split")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sslskel.data.errors.DataFormatError: x.npy: data: expected the samples of the split to fit in the ... of memory available, got an estimated 1.0 ZiB
"""

from __future__ import annotations

import itertools
import math
import os

import numpy as np

from .errors import DataFormatError

# 10,000 frames = 5.5 minutes at 30 fps; NTU's longest clip is 300 frames, PKU-MMD's actions
# are cut to 300
MAX_FRAMES = 10_000
# PKU-MMD's lines (150 numbers) are ~2 KB, MSR Action3D's ~40 bytes
MAX_LINE_BYTES = 64 * 2**10
MAX_LIST_LINE_BYTES = 2**20

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    unit = 0
    while n >= 1024 and unit < len(_UNITS) - 1:
        n, unit = n / 1024, unit + 1
    return f"{n:.0f} {_UNITS[unit]}" if unit == 0 else f"{n:.1f} {_UNITS[unit]}"


def available_memory() -> int | None:
    """Bytes this machine can still give a process (MemAvailable), None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def require_memory(nbytes: float, where, field: str, what: str = "the data") -> None:
    """DataFormatError `WHERE: FIELD: expected WHAT to fit ..., got an estimated N GiB` when
    `nbytes` exceed the memory available now (nothing is checked where that is unknown)."""
    available = available_memory()
    if available is not None and nbytes > available:
        raise DataFormatError(where, field, f"{what} to fit in the {format_bytes(available)} of memory available",
                              f"an estimated {format_bytes(nbytes)}")


def check_clip_length(frames: int, where, field: str = "frames") -> None:
    """A clip of a dataset of clips (MSR Action3D, UTD-MHAD, NW-UCLA) holds at most `MAX_FRAMES`
    frames: one of 2,000,000 would pad every clip of its split to that length."""
    if frames > MAX_FRAMES:
        raise DataFormatError(where, field, f"a clip of at most {MAX_FRAMES} frames", f"{frames} frames")


def padded_zeros(shape: tuple[int, ...], where, what: str) -> np.ndarray:
    """np.zeros(shape, float32) for a split padded to its longest sample, refused first (naming
    `where` and the shape) when it would not fit: one long file among many short ones pads
    them all."""
    require_memory(4 * math.prod(shape), where, "samples", f"{what} {tuple(shape)} (padded to the longest)")
    return np.zeros(shape, np.float32)


def read_lines(path, encoding: str = "utf-8", limit: int = MAX_LINE_BYTES) -> list[str]:
    """The lines of text file `path` without their line ends, each read at most `limit` bytes
    far (`read_bounded_line`), after checking that they fit in memory."""
    require_memory(3 * os.path.getsize(path), path, "file", "its lines")  # str objects: ~3x the text
    lines = []
    with open(path, "rb") as f:
        for line_no in itertools.count(1):
            raw = read_bounded_line(f, path, line_no, limit)
            if not raw:
                return lines
            lines.append(raw.decode(encoding, errors="replace").rstrip("\r\n"))


def read_bounded_line(f, where, line_no: int, limit: int = MAX_LINE_BYTES) -> bytes:
    """The next line of binary file `f` (b'' at the end); DataFormatError when it runs past
    `limit` bytes without a newline (only `limit` + 1 bytes are read)."""
    line = f.readline(limit + 1)
    if len(line) > limit and not line.endswith(b"\n"):
        raise DataFormatError(where, f"line {line_no}", f"a line of at most {limit} bytes",
                              f"more than {limit} bytes without a newline")
    return line
