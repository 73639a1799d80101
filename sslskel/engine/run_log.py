"""Run logging: TensorBoard scalars and a `metrics.jsonl` line per record.

`metrics.jsonl` is the plain-text truth (one JSON object per line, flushed at once, easy to
read with pandas or jq); TensorBoard gets the same numbers for plotting.

Example:
    >>> import tempfile, json, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with RunLogger(d, tensorboard=False) as log:
    ...     log.log({"train/loss": 1.5}, step=10, epoch=0)
    >>> json.loads((d / "metrics.jsonl").read_text())["train/loss"]
    1.5
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from ..common.io import atomic_write_text


class RunLogger:
    def __init__(self, run_dir: str | Path, tensorboard: bool = True):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._jsonl = open(self.run_dir / "metrics.jsonl", "a")
        self._writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.run_dir / "tensorboard"))

    def log(self, scalars: dict, step: int, epoch: int | None = None) -> None:
        clean = {k: float(v) for k, v in scalars.items() if v is not None}
        record = {"step": int(step), "time": round(time.time(), 3)}
        if epoch is not None:
            record["epoch"] = int(epoch)
        record.update({k: (v if math.isfinite(v) else str(v)) for k, v in clean.items()})
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()
        if self._writer is not None:
            for key, value in clean.items():
                self._writer.add_scalar(key, value, step)

    def close(self) -> None:
        self._jsonl.close()
        if self._writer is not None:
            self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_metrics(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def truncate_metrics(run_dir: str | Path, step: int) -> None:
    """On resume: drop records logged after `step` (an epoch cut short by a crash)."""
    path = Path(run_dir) / "metrics.jsonl"
    if path.exists():
        kept = [r for r in read_metrics(run_dir) if r["step"] <= step]
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
