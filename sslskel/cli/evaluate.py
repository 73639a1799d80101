"""Evaluate a pretrained encoder: linear probe, kNN and representation diagnostics; CV-MIM's
single-shot and disentanglement protocols; the posterior's uncertainty of variational runs.

    sslskel eval                                 # the newest run under runs/
    sslskel eval --run runs/20261122-101500-halp
    sslskel eval --checkpoint runs/X/checkpoints/epoch_0200.pt
    sslskel eval --protocols knn                 # kNN only (seconds)
    sslskel eval --protocol diagnostics          # effective rank, alignment, uniformity, MI bound
    sslskel eval --protocol single-shot          # train on one camera x replication, test on all
    sslskel eval --protocol disentangle          # CV-MIM runs: camera / action probes on z_v, z_p
    sslskel eval --protocol uncertainty          # VSimCLR / VMoCo runs: error AUROC, corruption rho
    sslskel eval --protocol uncertainty          # + OOD AUROC when pretrained with data.exclude_classes=[3,7]
    sslskel eval --random-init                   # same encoder, random weights: the baseline
    sslskel eval linear.optim.epochs=30 data.path=/data/ntu60/xsub

(`python linear_eval/run.py ...` is the same command.) Prints a table and writes
eval_linear.json / eval_knn.json / eval_diagnostics.json / eval_single_shot.json /
eval_disentangle.json / eval_uncertainty.json, one per protocol run (eval_*_random.json with
--random-init, eval_*_<checkpoint>.json for a checkpoint other than last.pt) into the run
directory, and says which; the diagnostics also draw RUN/plots/spectrum_<tag>.png (tag: last,
random, <checkpoint>, random_<checkpoint>; needs matplotlib). Linear, kNN and diagnostics run by
default. Trailing KEY=VALUE arguments override the run's config (e.g. the linear section).

An error you can fix (config, data file, checkpoint, path) prints one line, `error: WHERE: FIELD:
expected ..., got ...`, and exits with 2; --debug (or SSLSKEL_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..common.cli import run_cli
from ..common.io import atomic_write_json, require_writable_dir
from ..engine.run_log import log_results_to_tensorboard
from ..eval.diagnostics import plot_spectrum
from ..eval.protocols import DEFAULT_PROTOCOLS, PROTOCOLS, evaluate, find_newest_run, format_table, load_run_model
from .shared import command_parser, require_run_dir, shell_path


def parse_protocols(text: str) -> tuple[str, ...]:
    protocols = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if not protocols or unknown:
        raise argparse.ArgumentTypeError(f"expected a comma list of {', '.join(PROTOCOLS)}, got {text!r}")
    return protocols


def parse_class_ids(text: str) -> list[int]:
    try:
        ids = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        ids = []
    if not ids or min(ids) < 0:
        raise argparse.ArgumentTypeError(f"expected a comma list of 0-based class ids, got {text!r}")
    return ids


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = command_parser(prog, __doc__, run="run")
    parser.add_argument("--protocols", "--protocol", dest="protocols", type=parse_protocols,
                        default=DEFAULT_PROTOCOLS,
                        help=f"comma list of {', '.join(PROTOCOLS)} (default: {','.join(DEFAULT_PROTOCOLS)})")
    parser.add_argument("--ood-classes", type=parse_class_ids, default=None, metavar="IDS",
                        help="uncertainty protocol: comma list of 0-based class ids held out of the probe and "
                             "scored as out-of-distribution (default: the run's data.exclude_classes, which "
                             "pretraining left out); ids pretraining saw are warned about")
    parser.add_argument("--random-init", action="store_true", help="evaluate a randomly initialised encoder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    return parser


def run(args, parser: argparse.ArgumentParser) -> int:
    if args.run:
        require_run_dir(args.run)
    run_dir = args.run or (args.checkpoint.parent.parent if args.checkpoint else find_newest_run(args.runs))
    require_writable_dir(run_dir, "eval_*.json are written into it")  # before any computing
    cfg, model, checkpoint = load_run_model(run_dir=run_dir, checkpoint=args.checkpoint,
                                            overrides=args.overrides, random_init=args.random_init)
    results = evaluate(cfg, model, protocols=args.protocols, progress=not args.quiet, ood_classes=args.ood_classes)

    suffix = "_random" if args.random_init else ""
    if checkpoint.name != "last.pt":
        suffix += f"_{checkpoint.stem}"
    title = f"{run_dir} ({'random init' if args.random_init else checkpoint.name})"
    print(format_table(results, title=title))
    common = {"run": str(run_dir), "checkpoint": str(checkpoint), "random_init": args.random_init}
    written = write_results(run_dir, results, common, suffix, checkpoint)
    print(f"wrote: {', '.join(str(path) for path in written)}")
    print(f"next: sslskel report {shell_path(run_dir)}   (plots), or sslskel semi --run {shell_path(run_dir)}")
    return 0


def write_results(run_dir: Path, results: dict, common: dict, suffix: str, checkpoint: Path) -> list[Path]:
    """One eval_<protocol><suffix>.json per protocol that ran (and the spectrum plot); their paths."""
    outputs = {}
    if "linear" in results:
        outputs["linear"] = {**common, **results["linear"], "seconds": results["linear_seconds"]}
    knn = {k: v for k, v in results.items() if k.startswith("knn_k")}
    if knn:
        outputs["knn"] = {**common, **knn, "seconds": results["knn_seconds"]}
    if "diagnostics" in results:
        tag = suffix[1:] or checkpoint.stem
        plot = plot_spectrum(results["diagnostics"]["spectrum"], run_dir / "plots" / f"spectrum_{tag}.png",
                             title=f"{run_dir.name} ({tag})")
        results["diagnostics"]["spectrum_plot"] = str(plot) if plot else None
    for protocol in ("diagnostics", "single-shot", "disentangle", "uncertainty"):
        if protocol in results:
            outputs[protocol.replace("-", "_")] = {**common, **results[protocol],
                                                   "seconds": results[f"{protocol}_seconds"]}
    written = []
    for name, obj in outputs.items():
        written.append(run_dir / f"eval_{name}{suffix}.json")
        atomic_write_json(written[-1], obj)
        log_results_to_tensorboard(run_dir, f"eval/{name}{suffix}", obj)
    return written


def main(argv=None, prog: str | None = None) -> int:
    """Exit code 0, or 2 with one `error:` line for a bad config, data file, checkpoint or path."""
    return run_cli(run, build_parser(prog), argv)
