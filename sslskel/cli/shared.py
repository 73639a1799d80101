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

REPO = Path(__file__).resolve().parents[2]  # the checkout (an editable install points here)
CONFIG_DIR = REPO / "configs"


def shell_path(path: str | Path) -> str:
    """`path` quoted for a shell when it needs quoting, so a printed next step can be pasted."""
    return shlex.quote(str(path))


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
