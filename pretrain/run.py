"""Self-supervised pretraining.

    python pretrain/run.py --method halp                      # synthetic data, CPU-sized config
    python pretrain/run.py --config configs/ntu60_xsub/halp.yaml data.path=/data/ntu60/xsub
    python pretrain/run.py --method moco optim.epochs=20 run.seed=1
    python pretrain/run.py --resume runs/20261122-101500-halp  # continue exactly where it stopped

Without --config, configs/synthetic/<method>.yaml is used. Trailing KEY=VALUE arguments
override config entries (values are read as YAML). Writes runs/<time>-<method>/.

An error you can fix (config, data file, checkpoint, path) prints one line, `error: WHERE: FIELD:
expected ..., got ...`, and exits with 2; --debug (or SSLSKEL_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from sslskel.common.cli import run_cli  # noqa: E402
from sslskel.engine.config import load_config  # noqa: E402
from sslskel.engine.pretrain import run_pretraining  # noqa: E402
from sslskel.errors import UserError  # noqa: E402
from sslskel.methods import METHODS  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=sorted(METHODS), help="pretraining method (default: the config's)")
    parser.add_argument("--config", type=Path, help="YAML config (default: configs/synthetic/<method>.yaml)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue this run from its last checkpoint")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    return parser


def load_run_config(args, parser: argparse.ArgumentParser):
    """The config of the run to start or resume; every check before anything is written."""
    if not args.resume:
        method = args.method or "moco"
        path = args.config or REPO / "configs" / "synthetic" / f"{method}.yaml"
        overrides = ([f"method={args.method}"] if args.method else []) + args.overrides
        return load_config(path, overrides)
    if args.config:
        parser.error("--resume reads the run's own config.yaml; drop --config")
    if not (args.resume / "checkpoints" / "last.pt").is_file():
        raise UserError(args.resume, "--resume", "a run directory holding checkpoints/last.pt",
                        "no checkpoints/last.pt to resume from")
    cfg = load_config(args.resume / "config.yaml", args.overrides)
    if args.method and args.method != cfg.method:
        parser.error(f"--method {args.method} differs from the run's method {cfg.method}")
    return cfg


def run(args, parser: argparse.ArgumentParser) -> int:
    cfg = load_run_config(args, parser)
    run_dir, summary = run_pretraining(cfg, resume_dir=args.resume)
    print(f"run directory: {run_dir}")
    print(json.dumps(summary, indent=2))
    return 0


def main(argv=None) -> int:
    """Exit code 0, or 2 with one `error:` line for a bad config, data file, checkpoint or path."""
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
