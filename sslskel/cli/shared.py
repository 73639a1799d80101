"""What the commands share: the configs shipped with a checkout, a path as a user types it, and
the parser of a command that reads a run (--run, --checkpoint, or the newest under --runs).

Example:
    >>> shell_path("runs/2026 halp")
    "'runs/2026 halp'"
    >>> command_parser("sslskel eval", "Evaluate.").parse_args([]).runs
    PosixPath('runs')
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from ..engine.resume import periodic_checkpoints
from ..errors import UserError

REPO = Path(__file__).resolve().parents[2]  # the checkout (an editable install points here)
CONFIG_DIR = REPO / "configs"


def shell_path(path: str | Path) -> str:
    """`path` quoted for a shell when it needs quoting, so a printed next step can be pasted."""
    return shlex.quote(str(path))


def require_run_dir(run_dir: Path, option: str = "--run") -> None:
    """UserError unless `run_dir` is a run directory with checkpoints/last.pt (for --resume a
    periodic checkpoints/epoch_NNNN.pt also does: it stands in for a deleted last.pt)."""
    expected = "a run directory holding checkpoints/last.pt"
    if not run_dir.is_dir():
        raise UserError(run_dir, option, expected, "no such run" if not run_dir.exists() else "a file")
    checkpoints = run_dir / "checkpoints"
    if (checkpoints / "last.pt").exists() or (option == "--resume" and periodic_checkpoints(checkpoints)):
        return
    raise UserError(run_dir, option, expected, "no checkpoints/last.pt to resume from" if option == "--resume"
                    else "a directory without checkpoints/last.pt")


def command_parser(prog: str | None, description: str, run: str = "run") -> argparse.ArgumentParser:
    """A parser with the run it reads: --run RUN_DIR or --checkpoint FILE, else the newest
    under --runs (`run` names what kind of run, for the help)."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--run", type=Path, metavar="RUN_DIR", help=f"{run} directory (default: newest under --runs)")
    source.add_argument("--checkpoint", type=Path, metavar="FILE", help=f"a checkpoint file of a {run}")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="where to look for the newest run")
    return parser
