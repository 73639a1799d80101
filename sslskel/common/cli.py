"""One error style at every entry point: `run_cli` runs a script's main and turns a user's
error into one line.

Every entry point (pretrain/run.py, linear_eval/run.py, semi_sup/run.py, supervised/run.py,
`python -m sslskel.report`) is `main(argv) = run_cli(run, parser, argv)`:

* a `UserError` (a config key, a data file, a checkpoint) and an OS error on a path the user
  gave (missing, not a directory, a directory, no permission, already there) print one line on
  stderr, `error: WHERE: FIELD: expected ..., got ...`, and the exit code is 2;
* `--debug` (added to every parser here) or `SSLSKEL_DEBUG=1` prints the full traceback
  instead of that line; the exit code stays 2;
* Ctrl-C exits with 130 and no traceback (the engine has said where the run stands);
* anything else is a bug: it propagates with its traceback (exit code 1);
* argparse's usage errors keep argparse's own exit code 2;
* warnings raised by sslskel's own code print as `warning: <message>`;
* under torchrun a user error prints once, on rank 0; `python -m sslskel.common.launch` (torchrun
  with this error style) also exits with 2 instead of torchrun's traceback and 1.

Example:
    >>> import argparse
    >>> from sslskel.errors import UserError
    >>> def run(args, parser):
    ...     raise UserError("cfg.yaml", "optim.lr", "a number > 0", "-1")
    >>> run_cli(run, argparse.ArgumentParser(), [])  # stderr: error: cfg.yaml: optim.lr: expected ...
    2
    >>> print(user_error_message(FileNotFoundError(2, "No such file or directory", "data/x.pkl")))
    data/x.pkl: path: expected an existing file or directory, got no such file or directory
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import Callable

import torch

from .. import distributed
from ..errors import UserError
from .launch import record_user_error

DEBUG_ENV = "SSLSKEL_DEBUG"
INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C

# OS errors that mean "the path the user gave is wrong", with what was expected of the path
PATH_ERRORS = {
    FileNotFoundError: "an existing file or directory",
    NotADirectoryError: "a directory",
    IsADirectoryError: "a file, not a directory",
    PermissionError: "a path this user may access",
    FileExistsError: "a path that does not exist yet",
}

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1]) + os.sep


def run_cli(run: Callable[[argparse.Namespace, argparse.ArgumentParser], int],
            parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse `argv` with `parser` (plus --debug; positionals and options in any order), call
    `run(args, parser)`, return the exit code."""
    with contextlib.suppress(argparse.ArgumentError):  # a parser used twice has it already
        parser.add_argument("--debug", action="store_true",
                            help=f"show the full traceback of an error (also: {DEBUG_ENV}=1)")
    # KEY=VALUE overrides may come before, between and after the options
    args = parser.parse_intermixed_args(argv)
    debug = args.debug or debug_from_env()
    # under torchrun, processes other than rank 0 keep stderr (errors) but print nothing else
    quiet = open(os.devnull, "w") if int(os.environ.get("RANK", "0")) > 0 else None
    if distributed.launched_distributed():  # torchrun: join the group before anything is written
        distributed.init_distributed(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    clean_end = False
    try:
        with sslskel_warnings_as_lines(enabled=not debug), \
                (contextlib.redirect_stdout(quiet) if quiet else contextlib.nullcontext()):
            code = run(args, parser)
        clean_end = True
        return code
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        return INTERRUPTED
    except (UserError, *PATH_ERRORS) as error:
        line = f"error: {user_error_message(error)}"
        printed = not debug and distributed.rank() == 0  # every process raises it: rank 0 says it once
        if debug:
            traceback.print_exc()
        elif printed:
            print(line, file=sys.stderr, flush=True)
        record_user_error(line, printed)  # under torchrun, for sslskel.common.launch
        return 2
    finally:  # after an error another process may be mid-collective: leave without waiting for it
        distributed.shutdown(wait_for_all=clean_end)
        if quiet:
            quiet.close()


def debug_from_env() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def user_error_message(error: BaseException) -> str:
    """The error as one line; an OS error from the system reads `PATH: path: expected ..., got ...`."""
    expected = next((text for kind, text in PATH_ERRORS.items() if isinstance(error, kind)), None)
    if isinstance(error, OSError) and error.filename is not None and expected is not None:
        got = (error.strerror or type(error).__name__)
        message = f"{error.filename}: path: expected {expected}, got {got[:1].lower()}{got[1:]}"
    else:
        message = str(error)
    # a multi-line message (a YAML parser's, say) still makes one line
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


@contextlib.contextmanager
def sslskel_warnings_as_lines(enabled: bool = True):
    """While running, a warning raised in sslskel's code prints as `warning: <message>`
    (not Python's file:line: Category: form); other warnings keep the standard form."""
    if not enabled:
        yield
        return
    original = warnings.formatwarning

    def format_warning(message, category, filename, lineno, line=None):
        if str(filename).startswith(_PACKAGE_DIR):
            return f"warning: {message}\n"
        return original(message, category, filename, lineno, line)

    warnings.formatwarning = format_warning
    try:
        yield
    finally:
        warnings.formatwarning = original
