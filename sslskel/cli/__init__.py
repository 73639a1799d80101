"""The `sslskel` command: one dispatcher over the entry points.

    sslskel pretrain --method halp            # train; ends with `next: sslskel eval --run runs/...`
    sslskel eval                              # linear probe, kNN, diagnostics of the newest run
    sslskel semi --fractions 0.01,0.1         # semi-supervised fine-tuning
    sslskel supervised --config configs/synthetic/supervised_ctrgcn.yaml
    sslskel report                            # plots of the newest run into RUN/plots/
    sslskel compare runs/A runs/B             # several runs side by side
    sslskel pretrain --help                   # a command's own flags

pretrain/run.py, linear_eval/run.py, semi_sup/run.py and supervised/run.py call the same
`main(argv)` functions, so both spellings take the same flags.

Example:
    >>> main(["--help"])  # doctest: +ELLIPSIS
    usage: sslskel COMMAND [ARGS...]
    ...
    0
    >>> main(["nonsense"])  # stderr: error: sslskel: command: expected one of pretrain, ..., got 'nonsense'
    2
"""

from __future__ import annotations

import importlib
import sys

# command: (module with main(argv), one line of help). Modules are imported only when their
# command runs: `sslskel --help` stays instant and `compare` may be absent from an older install.
COMMANDS = {
    "pretrain": ("sslskel.cli.pretrain", "self-supervised pretraining (new run or --resume)"),
    "eval": ("sslskel.cli.evaluate", "linear probe, kNN, diagnostics and other protocols of a run"),
    "semi": ("sslskel.cli.semi", "semi-supervised fine-tuning with a fraction of the labels"),
    "supervised": ("sslskel.cli.supervised", "supervised training with all labels"),
    "report": ("sslskel.report", "plots of a run's metrics into RUN_DIR/plots/"),
    "compare": ("sslskel.compare", "several runs side by side"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: sslskel COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "`sslskel COMMAND --help` lists a command's flags."]
    return "\n".join(lines)


def load_command(name: str):
    """The main(argv) of a command, or None when its module (or its main) is not there yet."""
    module_name = COMMANDS[name][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is None or not module_name.startswith(error.name):
            raise  # a dependency of the command is missing: a real traceback
        return None
    return getattr(module, "main", None)


def main(argv: list[str] | None = None) -> int:
    """Run `sslskel COMMAND ARGS...`; the command's exit code, or 2 for an unknown command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: sslskel: command: expected one of {', '.join(COMMANDS)}, got {name!r}", file=sys.stderr)
        return 2
    command = load_command(name)
    if command is None:
        print(f"error: sslskel {name}: module: expected {COMMANDS[name][0]}.main, got none in this install "
              "(update the checkout and `pip install -e .`)", file=sys.stderr)
        return 2
    if name == "compare":
        return command(rest)
    return command(rest, prog=f"sslskel {name}")
