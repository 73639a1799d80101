"""Evaluate a pretrained encoder: linear probe, kNN and representation diagnostics; CV-MIM's
single-shot and disentanglement protocols; the posterior's uncertainty of variational runs.

    python linear_eval/run.py                          # the newest run under runs/
    python linear_eval/run.py --run runs/20261122-101500-halp
    python linear_eval/run.py --checkpoint runs/X/checkpoints/epoch_0200.pt
    python linear_eval/run.py --protocols knn          # kNN only (seconds)
    python linear_eval/run.py --protocol diagnostics   # effective rank, alignment, uniformity, MI bound
    python linear_eval/run.py --protocol single-shot   # train on one camera x replication, test on all
    python linear_eval/run.py --protocol disentangle   # CV-MIM runs: camera / action probes on z_v, z_p
    python linear_eval/run.py --protocol uncertainty   # VSimCLR / VMoCo runs: error AUROC, corruption rho
    python linear_eval/run.py --protocol uncertainty  # + OOD AUROC when pretrained with data.exclude_classes=[3,7]
    python linear_eval/run.py --random-init            # same encoder, random weights: the baseline
    python linear_eval/run.py linear.optim.epochs=30 data.path=/data/ntu60/xsub

Prints a table and writes eval_linear.json / eval_knn.json / eval_diagnostics.json /
eval_single_shot.json / eval_disentangle.json / eval_uncertainty.json, one per protocol run (eval_*_random.json with
--random-init, eval_*_<checkpoint>.json for a checkpoint other than last.pt) into the run
directory; the diagnostics also draw RUN/plots/spectrum_<tag>.png (tag: last, random,
<checkpoint>, random_<checkpoint>; needs matplotlib). Linear, kNN and diagnostics run by default. Trailing KEY=VALUE arguments override the run's config (e.g. the linear section).

An error you can fix (config, data file, checkpoint, path) prints one line, `error: WHERE: FIELD:
expected ..., got ...`, and exits with 2; --debug (or SSLSKEL_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from sslskel.common.cli import run_cli  # noqa: E402
from sslskel.common.io import atomic_write_json  # noqa: E402
from sslskel.eval.diagnostics import plot_spectrum  # noqa: E402
from sslskel.eval.protocols import (DEFAULT_PROTOCOLS, PROTOCOLS, evaluate, find_newest_run,  # noqa: E402
                                    format_table, load_run_model)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--run", type=Path, metavar="RUN_DIR", help="run directory (default: newest under --runs)")
    source.add_argument("--checkpoint", type=Path, metavar="FILE", help="a checkpoint file of a run")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="where to look for the newest run")
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
    run_dir = args.run or (args.checkpoint.parent.parent if args.checkpoint else find_newest_run(args.runs))
    cfg, model, checkpoint = load_run_model(run_dir=run_dir, checkpoint=args.checkpoint,
                                            overrides=args.overrides, random_init=args.random_init)
    results = evaluate(cfg, model, protocols=args.protocols, progress=not args.quiet, ood_classes=args.ood_classes)

    suffix = "_random" if args.random_init else ""
    if checkpoint.name != "last.pt":
        suffix += f"_{checkpoint.stem}"
    title = f"{run_dir} ({'random init' if args.random_init else checkpoint.name})"
    print(format_table(results, title=title))
    common = {"run": str(run_dir), "checkpoint": str(checkpoint), "random_init": args.random_init}
    if "linear" in results:
        atomic_write_json(run_dir / f"eval_linear{suffix}.json",
                          {**common, **results["linear"], "seconds": results["linear_seconds"]})
    knn = {k: v for k, v in results.items() if k.startswith("knn_k")}
    if knn:
        atomic_write_json(run_dir / f"eval_knn{suffix}.json", {**common, **knn, "seconds": results["knn_seconds"]})
    if "diagnostics" in results:
        tag = suffix[1:] or checkpoint.stem
        plot = plot_spectrum(results["diagnostics"]["spectrum"], run_dir / "plots" / f"spectrum_{tag}.png",
                             title=f"{run_dir.name} ({tag})")
        results["diagnostics"]["spectrum_plot"] = str(plot) if plot else None
    for protocol in ("diagnostics", "single-shot", "disentangle", "uncertainty"):
        if protocol in results:
            atomic_write_json(run_dir / f"eval_{protocol.replace('-', '_')}{suffix}.json",
                              {**common, **results[protocol], "seconds": results[f"{protocol}_seconds"]})
    return 0


def main(argv=None) -> int:
    """Exit code 0, or 2 with one `error:` line for a bad config, data file, checkpoint or path."""
    return run_cli(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
