"""Self-supervised pretraining.

    sslskel pretrain --method halp                      # synthetic data, CPU-sized config
    sslskel pretrain --config configs/ntu60_xsub/halp.yaml data.path=/data/ntu60/xsub
    sslskel pretrain --method moco optim.epochs=20 run.seed=1
    sslskel pretrain --resume runs/20261122-101500-halp  # continue exactly where it stopped
    sslskel pretrain --method halp --print-config       # the resolved config and where each value came from

(`python pretrain/run.py ...` is the same command.) Without --config,
configs/synthetic/<method>.yaml is used. Trailing KEY=VALUE arguments override config entries
(values are read as YAML). Writes runs/<time>-<method>/ and ends with a summary and the
command to evaluate the run.

An error you can fix (config, data file, checkpoint, path) prints one line, `error: WHERE: FIELD:
expected ..., got ...`, and exits with 2; --debug (or SSLSKEL_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..common.cli import run_cli
from ..engine.config import load_config
from ..engine.config_print import describe_config
from ..engine.pretrain import run_pretraining
from ..methods import METHODS
from .shared import CONFIG_DIR, require_run_dir, shell_path


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=sorted(METHODS), help="pretraining method (default: the config's)")
    parser.add_argument("--config", type=Path, help="YAML config (default: configs/synthetic/<method>.yaml)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue this run from its last checkpoint")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved config, each value with its source (default, file, "
                             "command line), and exit")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    return parser


def config_path_and_overrides(args) -> tuple[Path, list[str]]:
    """The config file and the overrides a new run is built from."""
    method = args.method or "moco"
    path = args.config or CONFIG_DIR / "synthetic" / f"{method}.yaml"
    return path, ([f"method={args.method}"] if args.method else []) + args.overrides


def load_run_config(args, parser: argparse.ArgumentParser):
    """The config of the run to start or resume; every check before anything is written."""
    if not args.resume:
        return load_config(*config_path_and_overrides(args))
    if args.config:
        parser.error("--resume reads the run's own config.yaml; drop --config")
    require_run_dir(args.resume, "--resume")  # a periodic checkpoint stands in for a deleted last.pt
    cfg = load_config(args.resume / "config.yaml", args.overrides)
    if args.method and args.method != cfg.method:
        parser.error(f"--method {args.method} differs from the run's method {cfg.method}")
    return cfg


def format_summary(summary: dict) -> str:
    """The run's end as a small table: epochs, steps, the last epoch's losses, online kNN.

    >>> print(format_summary({"epochs": 2, "steps": 8, "epoch/loss/infonce": 5.4321, "knn/top1_k20": 41.5}))
    epochs             2
    steps              8
    loss/infonce       5.4321
    kNN top-1 k=20 %   41.50
    """
    rows = []
    for key, value in summary.items():
        if key.startswith("knn/top1_k"):
            rows.append((f"kNN top-1 k={key[len('knn/top1_k'):]} %", f"{value:.2f}"))
        elif isinstance(value, float):
            rows.append((key.removeprefix("epoch/"), f"{value:.4f}"))
        else:
            rows.append((key, str(value)))
    width = max(len(name) for name, _ in rows) if rows else 0
    return "\n".join(f"{name:<{width}}   {value}" for name, value in rows)


def summary_stamp(run_dir: Path | None) -> int | None:
    """When run_dir/summary.json was last written (None: no such file)."""
    path = run_dir / "summary.json" if run_dir is not None else None
    return path.stat().st_mtime_ns if path is not None and path.is_file() else None


def run(args, parser: argparse.ArgumentParser) -> int:
    cfg = load_run_config(args, parser)
    if args.print_config:
        source = (args.resume / "config.yaml", args.overrides) if args.resume else config_path_and_overrides(args)
        print(describe_config(cfg, *source), end="")
        return 0
    before = summary_stamp(args.resume)
    run_dir, summary = run_pretraining(cfg, resume_dir=args.resume)
    print(format_summary(summary))
    if before is not None and summary_stamp(run_dir) == before:  # a resume with nothing to do
        print(f"unchanged: {run_dir}/")
    else:
        print(f"wrote: {run_dir}/ (summary.json, metrics.jsonl, checkpoints/last.pt)")
    print(f"next: sslskel eval --run {shell_path(run_dir)}")
    return 0


def main(argv=None, prog: str | None = None) -> int:
    """Exit code 0, or 2 with one `error:` line for a bad config, data file, checkpoint or path."""
    return run_cli(run, build_parser(prog), argv)
