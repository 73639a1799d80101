"""Progress off a terminal (sslskel.common.progress): plain lines, few of them, with an ETA."""

import io

import pytest

from sslskel.common import progress
from sslskel.common.progress import LineProgress, Quiet, format_duration, progress_bar


class Clock:
    def __init__(self, step: float):
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture(autouse=True)
def no_recent_line(monkeypatch):
    monkeypatch.setattr(progress, "_last_line", [float("-inf")])


def run_epoch(desc: str, steps: int, clock: Clock, stream: io.StringIO, **kw) -> None:
    bar = LineProgress(range(steps), desc, stream=stream, clock=clock, **kw)
    for _ in bar:
        bar.set_postfix(loss="1.000")


def test_one_line_per_epoch_with_rate_and_run_eta():
    out = io.StringIO()
    run_epoch("epoch 1/4", 10, Clock(1.0), out)  # each clock read advances 1 s: 10 steps ~ 10 s
    (line,) = out.getvalue().splitlines()
    assert line.startswith("epoch 1/4: 10/10 steps, ")
    assert "loss 1.000" in line
    seconds = float(line.split(", ")[1].split()[0])
    eta = line.rsplit("ETA ", 1)[1]
    assert format_duration(3 * seconds) == eta  # three more epochs at this pace


def test_long_epochs_print_every_minute():
    out = io.StringIO()
    run_epoch("epoch 1/1", 200, Clock(1.0), out)  # ~200 s
    lines = out.getvalue().splitlines()
    assert len(lines) == 4  # at ~60, ~120, ~180 s and at the end
    assert lines[0].startswith("epoch 1/1: 30/200 steps") or "/200 steps" in lines[0]
    assert lines[-1].startswith("epoch 1/1: 200/200 steps")


def test_short_epochs_are_thinned_but_the_last_one_prints():
    out = io.StringIO()
    clock = Clock(0.01)
    for epoch in range(1, 101):  # 100 epochs of 5 steps, ~0.1 s each
        run_epoch(f"linear epoch {epoch}/100", 5, clock, out)
    lines = out.getvalue().splitlines()
    assert 1 <= len(lines) <= 3  # the first, maybe one more after 10 s, and the last
    assert lines[-1].startswith("linear epoch 100/100: 5/5 steps")


def test_quiet_and_terminal_choices():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert isinstance(progress_bar([1], "x", enabled=False), Quiet)
    assert isinstance(progress_bar([1], "x", stream=io.StringIO()), LineProgress)
    assert type(progress_bar([1], "x", stream=Terminal())).__name__ == "tqdm"


def test_unknown_length_has_no_eta():
    out = io.StringIO()
    run_epoch_iter = LineProgress(iter(range(3)), "warm-up", stream=out, clock=Clock(1.0))
    assert list(run_epoch_iter) == [0, 1, 2]
    assert out.getvalue().startswith("warm-up: 3/? steps") and "ETA" not in out.getvalue()
