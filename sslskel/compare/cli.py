"""`sslskel compare`: run a study (methods x seeds x protocols) and report it, or tabulate runs.

    sslskel compare --data ../shared/data/msr_action3d --methods moco,halp --seeds 0,1,2
    sslskel compare --methods moco,simclr --seeds 0,1 --protocols linear,knn,semi:0.05,0.1 \\
        --out runs/compare/synthetic optim.epochs=5      # KEY=VALUE: every pretraining and the ceiling
    sslskel compare --methods moco,halp optim.epochs=20 halp:halp.start_epoch=9   # METHOD:KEY=VALUE: that method only
    sslskel compare --study study.yaml                  # the same settings from a YAML file
    sslskel compare --data DIR --jobs 2                 # two processes, the cores divided between them
    sslskel compare runs/A runs/B                       # finished runs, with the keys they differ in
    sslskel compare --methods none --supervised ce,gcl \\
        --supervised-config configs/synthetic/supervised_ctrgcn.yaml   # CTR-GCN with and without SkeletonGCL

The dataset's configs are configs/<dataset>/<method>.yaml, the dataset found from the format
of --data (MSR Action3D -> configs/msr_action3d, NW-UCLA -> configs/nw_ucla, UTD-MHAD ->
configs/utd_mhad, PKU-MMD II -> configs/pku_ii; no --data: the synthetic set) or named by
--config-dir. Every (method, seed) is pretrained by pretrain/run.py, evaluated by
linear_eval/run.py (linear, knn, diagnostics, single-shot, disentangle, uncertainty) and semi_sup/run.py
(semi:FRACTIONS), each in its own process; then the floors (raw 1-NN and logistic), the
baseline method's encoder with random weights (for semi: fine-tuned from them, semi_sup/run.py
--init scratch), and the ceiling (supervised/run.py: the
baseline's encoder and input with all labels; --supervised adds SupCon, VSupCon or SkeletonGCL
runs, each paired against it). A job that finished before (same config hash)
is skipped, so a killed study continues where it stopped. The study folder (--out, default
runs/compare/<dataset>) gets report.md, results.json and plots/; logs/ holds each job's output.
A study file is YAML with the long option names as keys (data, methods, seeds, protocols,
baseline, out, jobs, overrides: [...]); options on the command line win.

Bad input (an unknown method or protocol, a protocol that does not apply, a dataset without
configs, a bad override) prints one line `error: ...` before anything runs and exits with 2;
a job that fails leaves the others running and the command exits with 1.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..common.cli import run_cli
from ..engine.config import read_yaml
from ..errors import UserError
from .collect import collect, loss_curves
from .existing import existing_runs_table
from .jobs import study_jobs
from .plan import DEFAULT_PROTOCOLS, make_study
from .plots import make_plots
from .report import build_results, results_table, write_report
from .runner import available_cores, finished_markers, run_jobs

STUDY_KEYS = ("data", "config_dir", "methods", "seeds", "protocols", "baseline", "out", "jobs", "cores",
              "supervised", "supervised_config")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sslskel compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="dataset folder or file (default: the synthetic set)")
    parser.add_argument("--config-dir", type=Path, help="folder of <method>.yaml (default: by the data's format)")
    parser.add_argument("--methods", default="moco,halp", help="comma list (default: moco,halp)")
    parser.add_argument("--seeds", default="0,1,2", help="comma list (default: 0,1,2)")
    parser.add_argument("--protocols", default=DEFAULT_PROTOCOLS,
                        help="comma list of linear, knn, diagnostics, single-shot, disentangle, uncertainty, "
                             f"semi:F1,F2,... (default: {DEFAULT_PROTOCOLS})")
    parser.add_argument("--baseline", help="method the others are paired against (default: moco if "
                        "studied, else the first method)")
    parser.add_argument("--out", type=Path, help="study folder (default: runs/compare/<dataset>)")
    parser.add_argument("--jobs", type=int, default=1, help="processes at once (default: 1)")
    parser.add_argument("--cores", type=int, help="cores to divide between them (default: all available)")
    parser.add_argument("--study", type=Path, help="YAML file with these settings")
    parser.add_argument("--no-floors", action="store_true", help="skip raw 1-NN / logistic")
    parser.add_argument("--no-random-init", action="store_true", help="skip the random encoder")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the supervised ceiling (= --supervised none)")
    parser.add_argument("--supervised", help="supervised runs with all labels, a comma list of ce (the ceiling), "
                        "supcon, vsupcon, gcl; each added loss is paired against ce (default: ce)")
    parser.add_argument("--supervised-config", type=Path, help="config of the supervised runs (default: the "
                        "baseline method's, the ceiling of the same encoder and input); with --methods none "
                        "a study of supervised runs only")
    parser.add_argument("--report-only", action="store_true", help="rebuild the report from finished jobs")
    parser.add_argument("items", nargs="*", metavar="KEY=VALUE | RUN_DIR",
                        help="overrides for every pretraining (METHOD:KEY=VALUE: that method's only); "
                             "or finished runs to tabulate")
    return parser


def apply_study_file(args, argv: list[str]) -> None:
    """Settings of --study that the command line did not give."""
    tree = read_yaml(args.study)
    unknown = set(tree) - set(STUDY_KEYS) - {"overrides"}
    if unknown:
        raise UserError(args.study, ", ".join(sorted(unknown)), f"keys among {', '.join(STUDY_KEYS)}, overrides",
                        "unknown keys")
    given = {a.split("=")[0] for a in argv if a.startswith("--")}
    for key in STUDY_KEYS:
        if key in tree and f"--{key.replace('_', '-')}" not in given:
            value = tree[key]
            value = ",".join(map(str, value)) if isinstance(value, list) else value
            setattr(args, key, Path(value) if key in ("config_dir", "out", "supervised_config") else value)
    args.overrides = [*map(str, tree.get("overrides", [])), *args.overrides]


def split_items(args) -> None:
    args.overrides = [i for i in args.items if "=" in i]
    args.run_dirs = [Path(i) for i in args.items if "=" not in i]


def run(args, parser, argv) -> int:
    split_items(args)
    if args.run_dirs:
        if args.overrides:
            raise UserError("compare", "arguments", "either run folders or KEY=VALUE overrides", " ".join(args.items))
        print(existing_runs_table(args.run_dirs))
        return 0
    if args.study:
        apply_study_file(args, argv)
    if args.jobs < 1 or (args.cores is not None and args.cores < 1):
        raise UserError("--jobs / --cores", "count", "an integer >= 1", f"{args.jobs} / {args.cores}")
    if args.baseline is None and "moco" in args.methods.split(","):
        args.baseline = "moco"
    study = make_study(args)
    study_dir = args.out or Path("runs") / "compare" / study.dataset
    jobs = study_jobs(study, study_dir)
    if args.report_only:
        outcome = {"markers": finished_markers(jobs, study_dir), "failed": []}
    else:
        outcome = run_jobs(jobs, study_dir, jobs_at_once=args.jobs, cores=args.cores or available_cores(),
                           log=lambda line: print(line, flush=True))
    table = collect(study, outcome["markers"])
    command = "sslskel compare " + shlex.join(a for a in argv if a != "--report-only")  # the study's own
    results = build_results(study, table, outcome["markers"], command)
    plots = make_plots(Path(study_dir) / "plots", results, loss_curves(outcome["markers"]))
    path = write_report(study_dir, results, plots)
    print(results_table(results))
    print(f"report: {path}")
    if outcome["failed"]:
        for failed in outcome["failed"]:
            print(f"error: {failed['name']}: {failed['error']}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """`sslskel compare ...`; exit code 0, 1 when a job failed, 2 for bad input."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return run_cli(lambda args, parser: run(args, parser, argv), build_parser(), argv)
