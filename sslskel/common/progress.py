"""Epoch progress: a tqdm bar on a terminal, a few plain lines in a log file or a pipe.

tqdm redraws its bar with carriage returns; written to a file, every redraw is a line, and a
100-epoch linear probe filled a log with them. Off a terminal, `progress_bar` therefore prints
plain lines instead: one when an epoch ends (at most one every `min_gap` seconds, so short
epochs do not flood the log; the last epoch always), and one a minute inside long epochs,
each with throughput and an ETA. The ETA of the run comes from the description's
`epoch E/N`, the form every caller uses.

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> bar = LineProgress(range(3), "linear epoch 2/2", stream=out)
    >>> for _ in bar:
    ...     bar.set_postfix(loss="0.500")
    >>> out.getvalue().startswith("linear epoch 2/2: 3/3 steps")
    True
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterable, Iterator

from tqdm import tqdm

EPOCH_OF = re.compile(r"epoch (\d+)/(\d+)$")
_last_line = [float("-inf")]  # when any LineProgress last printed: the gap is per process


def progress_bar(iterable: Iterable, desc: str, enabled: bool = True, stream=None):
    """tqdm on a terminal, `LineProgress` elsewhere, the iterable itself when disabled."""
    stream = stream or sys.stderr
    if not enabled:
        return Quiet(iterable)
    if stream.isatty():
        return tqdm(iterable, desc=desc, leave=False, dynamic_ncols=True, file=stream)
    return LineProgress(iterable, desc, stream=stream)


class Quiet:
    """An iterable with tqdm's `set_postfix`, printing nothing."""

    def __init__(self, iterable: Iterable):
        self.iterable = iterable

    def __iter__(self) -> Iterator:
        return iter(self.iterable)

    def set_postfix(self, **values) -> None:
        pass


class LineProgress(Quiet):
    """Plain progress lines: at an epoch's end (>= `min_gap` s apart) and every `every` s inside it."""

    def __init__(self, iterable: Iterable, desc: str, stream=None, every: float = 60.0, min_gap: float = 10.0,
                 clock=time.monotonic):
        super().__init__(iterable)
        self.desc, self.stream, self.every, self.min_gap, self.clock = desc, stream or sys.stderr, every, min_gap, clock
        self.postfix: dict[str, str] = {}
        try:
            self.total: int | None = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            self.total = None

    def set_postfix(self, **values) -> None:
        self.postfix.update({key: str(value) for key, value in values.items()})

    def __iter__(self) -> Iterator:
        start = last = self.clock()
        done = 0
        for item in self.iterable:
            yield item
            done += 1
            now = self.clock()
            if now - last >= self.every:
                self._line(done, now - start, epoch_done=False)
                last = now
        epoch = EPOCH_OF.search(self.desc)
        last_epoch = epoch is not None and epoch.group(1) == epoch.group(2)
        if last_epoch or self.clock() - _last_line[0] >= self.min_gap:
            self._line(done, self.clock() - start, epoch_done=True)

    def _line(self, done: int, seconds: float, epoch_done: bool) -> None:
        parts = [f"{self.desc}: {done}/{self.total if self.total is not None else '?'} steps",
                 f"{seconds:.1f} s", f"{done / max(seconds, 1e-9):.2f} steps/s"]
        parts += [f"{key} {value}" for key, value in self.postfix.items()]
        eta = self._eta(done, seconds, epoch_done)
        if eta is not None:
            parts.append(f"ETA {format_duration(eta)}")
        print(", ".join(parts), file=self.stream, flush=True)
        _last_line[0] = self.clock()

    def _eta(self, done: int, seconds: float, epoch_done: bool) -> float | None:
        """Seconds left in the run at this pace (in the epoch, when the run's length is unknown)."""
        if not done or self.total is None:
            return None
        epoch_seconds = seconds * self.total / done
        left_in_epoch = 0.0 if epoch_done else epoch_seconds - seconds
        epoch = EPOCH_OF.search(self.desc)
        later_epochs = int(epoch.group(2)) - int(epoch.group(1)) if epoch else 0
        return left_in_epoch + later_epochs * epoch_seconds


def format_duration(seconds: float) -> str:
    """4:05 / 1:02:03

    >>> format_duration(245), format_duration(3723.4)
    ('4:05', '1:02:03')
    """
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
