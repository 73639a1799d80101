"""torchrun, with sslskel's one error style: `python -m sslskel.common.launch` takes torchrun's
arguments and runs it, but a user error ends as one `error:` line and exit code 2.

Plain `torchrun` reports any failed process as a `ChildFailedError` traceback and exits with 1.
Under torchrun `run_cli` prints a user error on rank 0 only (every process raises the same one,
so one line says it all) and every process records its line, and whether it printed it, in the
file torchrun gives it (TORCHELASTIC_ERROR_FILE). This launcher reads those back: when processes
ended with code 2 (a user error) it prints the line once if no process did (an error only
another rank saw, or rank 0 stopped by torchrun before it could say it), keeps
torchrun's own failure log quiet, and exits with 2. Any other failure (a bug, a signal) keeps
torchrun's full report.

Example:
    python -m sslskel.common.launch --nproc_per_node 4 pretrain/run.py --method halp data.path=...
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

USER_ERROR = 2  # run_cli's exit code for a user error


def record_user_error(line: str, printed: bool) -> None:
    """In a torchrun worker: leave `line`, and whether this process `printed` it, where the
    launcher finds them (no-op outside torchrun)."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    try:
        with open(path, "w") as f:
            json.dump({"message": line, "timestamp": int(time.time()), "printed": printed}, f)
    except OSError:  # the line was printed (rank 0) or cannot be kept: nothing more to do
        pass


def user_error_exit(failures: dict) -> tuple[int, str | None] | None:
    """(exit code, line to print or None) for failures that are user errors; None otherwise."""
    errors = {rank: f for rank, f in failures.items() if f.exitcode == USER_ERROR}
    if not errors:
        return None
    if any(isinstance(f.error_file_data, dict) and f.error_file_data.get("printed") for f in failures.values()):
        return USER_ERROR, None  # rank 0 printed it (it may have been stopped after that)
    first = errors[min(errors)]
    message = first.message if isinstance(first.message, str) and first.message.startswith("error: ") else None
    return USER_ERROR, message or f"error: process {min(errors)} failed with a user error (see above)"


def main(argv: list[str] | None = None) -> int:
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    # torchrun logs a failed worker at ERROR level, several lines: the error line is enough
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    try:
        run(parse_args(argv))
    except ChildFailedError as error:
        outcome = user_error_exit(error.failures)
        if outcome is None:
            raise
        code, line = outcome
        if line:
            print(line, file=sys.stderr)
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
