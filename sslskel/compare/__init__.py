"""`sslskel compare`: methods x seeds x protocols on one dataset, with floors, a random encoder,
the supervised ceiling, paired statistics and a report (see `sslskel.compare.cli`).

    sslskel compare --data ../shared/data/msr_action3d --methods moco,halp --seeds 0,1,2
    python -m sslskel.compare --methods moco --seeds 0 optim.epochs=2

Example (what the console script and `python -m` call):
    exit_code = main(["--methods", "moco", "--seeds", "0", "--out", "runs/compare/try", "optim.epochs=1"])
"""

from .cli import main

__all__ = ["main"]
