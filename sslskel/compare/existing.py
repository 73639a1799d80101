"""Tabulate finished runs: `sslskel compare runs/A runs/B ...`.

One row per run directory: the config keys in which the runs differ (dotted names; the
settings a run's result does not depend on, run.out_dir / threads / progress, left out), then
every number its eval_*.json and semi_*.json files hold (the columns of a study's table).

Example:
    print(existing_runs_table([Path("runs/a"), Path("runs/b")]))
    # | run | method | optim.lr | linear | kNN k=1 |
    # | a   | moco   | 0.001    | 78.2   | 71.3    |
"""

from __future__ import annotations

from pathlib import Path

from ..engine.config import read_yaml
from ..engine.config_tree import flatten
from ..errors import UserError
from .collect import column_order, eval_columns, semi_columns
from .hashing import IGNORED_RUN_KEYS
from .report import markdown_table


def differing_keys(configs: list[dict]) -> list[str]:
    """Dotted keys whose values are not the same in every config (missing counts as different).

    >>> differing_keys([{"a": 1, "b": 2}, {"a": 1, "b": 3}, {"a": 1}])
    ['b']
    """
    keys = sorted({k for c in configs for k in c})
    ignored = {f"run.{k}" for k in IGNORED_RUN_KEYS}
    missing = object()
    return [k for k in keys if k not in ignored and len({repr(c.get(k, missing)) for c in configs}) > 1]


def run_numbers(run_dir: Path) -> dict[str, float]:
    numbers = eval_columns(run_dir)
    for summary in sorted(run_dir.glob("semi_*.json")):
        numbers.update({f"{col} ({summary.stem})" if summary.stem != "semi_class_balanced" else col: v
                        for col, v in semi_columns(run_dir, summary.stem).items()})
    return numbers


def existing_runs_table(run_dirs: list[Path]) -> str:
    """The markdown table of finished runs (a UserError for a folder that is not a run)."""
    configs, numbers = [], []
    for run_dir in run_dirs:
        if not (Path(run_dir) / "config.yaml").is_file():
            raise UserError(run_dir, "run", "a run directory holding config.yaml", "none there")
        configs.append(flatten(read_yaml(Path(run_dir) / "config.yaml")))
        numbers.append(run_numbers(Path(run_dir)))
    keys = [k for k in differing_keys(configs) if k != "method"]  # method has its own column
    columns = column_order({i: n for i, n in enumerate(numbers)})
    body = []
    for run_dir, config, values in zip(run_dirs, configs, numbers):
        body.append([Path(run_dir).name, str(config.get("method", "")), *(str(config.get(k, "")) for k in keys),
                     *(_number(values.get(c)) for c in columns)])
    table = markdown_table(["run", "method", *keys, *columns], body)
    if not keys:
        table += "\n\nThe runs' configs are the same (apart from where and how fast they ran)."
    return table


def _number(value) -> str:
    if value is None:
        return ""
    return f"{value:.1f}" if abs(value) > 1 else f"{value:.3f}"
