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
import warnings
from pathlib import Path

from .. import distributed
from ..common.io import atomic_write_text
from ..errors import UserError


class RunLogger:
    def __init__(self, run_dir: str | Path, tensorboard: bool = True, enabled: bool = True):
        """`enabled=False` (processes other than rank 0 under torchrun): log nothing, open nothing."""
        self.enabled = enabled
        self.run_dir = Path(run_dir)
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._jsonl = open(self.run_dir / "metrics.jsonl", "a")
        self._writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.run_dir / "tensorboard"))

    def log(self, scalars: dict, step: int, epoch: int | None = None) -> None:
        if not self.enabled:
            return
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
        if not self.enabled:
            return
        self._jsonl.close()
        if self._writer is not None:
            self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def numeric_leaves(tree: dict, prefix: str) -> dict[str, float]:
    """{"prefix/a/b": number} for the numbers of a nested result (lists and flags left out).

    >>> numeric_leaves({"final_top1": 78.5, "k": {"top1": 70.0}, "history": [1], "ok": True}, "eval/linear")
    {'eval/linear/final_top1': 78.5, 'eval/linear/k/top1': 70.0}
    """
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(numeric_leaves(value, f"{prefix}/{key}"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[f"{prefix}/{key}"] = float(value)
    return out


def log_results_to_tensorboard(run_dir: str | Path, prefix: str, results: dict, step: int = 0) -> None:
    """An evaluation's numbers as scalars in RUN/tensorboard beside the pretraining curves
    (metrics.jsonl stays the pretraining's own record); rank 0 alone writes."""
    if not distributed.is_main():
        return
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(Path(run_dir) / "tensorboard")) as writer:
        for key, value in numeric_leaves(results, prefix).items():
            writer.add_scalar(key, value, step)


def parse_metrics(path: Path, text: str) -> list[dict]:
    """The records of a metrics.jsonl text. A last line that is not JSON is what a run killed
    mid-write leaves: it is dropped with a warning. A bad line before it is a UserError."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    records = []
    for i, (n, line) in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i < len(lines) - 1:
                raise UserError(path, f"line {n}", "one JSON object per line",
                                f"{line[:60]!r}; fix or delete that line") from None
            warnings.warn(f"{path}: line {n}: dropped a partial last line (the run was killed while "
                          "writing it)", stacklevel=3)
    return records


def read_metrics(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    return parse_metrics(path, path.read_text())


def truncate_metrics(run_dir: str | Path, step: int) -> None:
    """On resume: drop records logged after `step` (an epoch cut short by a crash)."""
    path = Path(run_dir) / "metrics.jsonl"
    if path.exists():
        kept = [r for r in read_metrics(run_dir) if r["step"] <= step]
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
