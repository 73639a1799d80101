"""Semi-supervised fine-tuning of a pretrained encoder (supervised training with all labels,
with or without SkeletonGCL, has its own command: sslskel supervised, same flags).

    sslskel semi                                # newest run under runs/, 1/5/10/20 % labels
    sslskel semi --run runs/20261122-101500-halp --fractions 0.01,0.1 --seeds 5
    sslskel semi --checkpoint runs/X/checkpoints/epoch_0200.pt --sampling random
    sslskel semi --init scratch                 # same protocol from random weights
    sslskel semi --init scratch --config configs/synthetic/supervised_ctrgcn.yaml --fractions 1.0 --gcl
    sslskel semi --init scratch --config configs/ntu60_xsub/supervised_ctrgcn.yaml \\
        --fractions 1.0 --seeds 1 --gcl --graph-distances data.path=/data/ntu60/xsub
    sslskel semi --resume runs/20261122-120000-supervised-ctrgcn --init scratch --fractions 1.0 --gcl

(`python semi_sup/run.py ...` is the same command.) Every fraction is repeated `--seeds` times;
seed i draws a different label subset and sets the classifier init, data order, augmentations
(and a scratch encoder's init). Fraction 1.0 is full fine-tuning / supervised training. The
table shows the mean ± population std over seeds of the final and the best top-1 (CMD/HaLP
report the best; the final is the honest one).

Configuration: with a pretrained encoder the run's own config is used (its data and encoder
must match the weights); --config then only contributes its `finetune` and `gcl` sections.
With --init scratch the whole --config is used; without one, the pretraining run's config if
there is a run (so the baseline matches the pretrained encoder), else configs/synthetic/semi.yaml.
Trailing KEY=VALUE arguments override anything (e.g. finetune.optim.epochs=10 gcl.per_class=64).

Output: per fine-tune a folder <RUN>/<tag>/f<fraction>_s<seed>/ (metrics.jsonl, TensorBoard,
checkpoints/last.pt, result.json) and the summary <RUN>/<tag>.json, where RUN is the
pretraining run (or, for --init scratch, a new runs/<time>-supervised-<encoder>/) and the tag
is semi[_scratch]_<sampling>[_<checkpoint>][_gcl]. --resume continues an interrupted protocol
exactly: finished fine-tunes are read back, an unfinished one resumes from its checkpoint.

Everything is checked (flags, config, checkpoint, data) before anything is written. An error
you can fix prints one line, `error: WHERE: FIELD: expected ..., got ...`, and exits with 2;
--debug (or SSLSKEL_DEBUG=1) shows the traceback. A label subset that leaves a class without a
label (--sampling random with a small fraction) prints a `warning:` line.
"""
from __future__ import annotations

import argparse
import functools
from pathlib import Path

from ..common.cli import run_cli
from ..common.io import atomic_write_json, require_writable_dir
from ..data.build import load_data
from ..engine.config import load_config, resolved_config, save_config, to_dict
from ..engine.pretrain import new_run_dir
from ..engine.run_log import log_results_to_tensorboard
from ..eval.semi import SAMPLINGS, format_graph_distances, format_results, run_semi, summarize
from .semi_setup import (
    check_flags,
    check_graphs,
    check_output,
    encoder_factory,
    make_tag,
    prepare_protocol_dir,
    pretraining_source,
    resolve_config,
)
from .shared import command_parser, shell_path


def parse_fractions(text: str) -> list[float]:
    try:
        fractions = [float(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--fractions: expected numbers like 0.01,0.1, got {text!r}") from None
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise argparse.ArgumentTypeError(f"--fractions: each must be in (0, 1], got {text!r}")
    return fractions


def build_parser(prog: str | None = None, description: str = __doc__) -> argparse.ArgumentParser:
    parser = command_parser(prog, description, run="pretraining run")
    parser.add_argument("--init", choices=("pretrained", "scratch"), default="pretrained",
                        help="start from the pretrained encoder (default) or from random weights")
    parser.add_argument("--config", type=Path, help="YAML config (see above for what it sets)")
    parser.add_argument("--fractions", type=parse_fractions, help="comma list, e.g. 0.01,0.05,0.1,0.2 "
                        "(default: finetune.fractions); 1.0 = all labels")
    parser.add_argument("--seeds", type=int, help="repeats per fraction (default: finetune.seeds)")
    parser.add_argument("--sampling", choices=SAMPLINGS, help="label subset: per class (AimCLR) or over "
                        "the whole set (CMD) (default: finetune.sampling)")
    parser.add_argument("--supcon", choices=("supcon", "vsupcon"),
                        help="add SupCon (or VCL's VSupCon) to cross-entropy (the supcon section)")
    parser.add_argument("--gcl", action="store_true", help="train with SkeletonGCL (the gcl section); "
                        "needs an encoder that returns graphs (ctrgcn)")
    parser.add_argument("--graph-distances", action="store_true",
                        help="after training: SkeletonGCL Tab. 9 graph-to-centroid distances on val")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", nargs="?", const=True,
                        help="continue an interrupted protocol (for --init scratch: its RUN_DIR)")
    parser.add_argument("--overwrite", action="store_true", help="discard an earlier result with the same tag")
    parser.add_argument("--drop-checkpoints", action="store_true",
                        help="delete each fine-tune's checkpoint once it has finished")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    return parser


def run(args, parser: argparse.ArgumentParser, supervised: bool = False) -> int:
    """The protocol: every check (flags, config, checkpoint, data) before anything is written."""
    args.supervised = supervised
    check_flags(args, parser)
    if args.supcon:  # the flag is a shorthand for the supcon section's switches
        args.overrides = [*args.overrides, "supcon.enabled=true",
                          f"supcon.variational={'true' if args.supcon == 'vsupcon' else 'false'}"]
    run_dir, checkpoint = pretraining_source(args)
    cfg, weights, config_from = resolve_config(args, checkpoint)
    sampling = args.sampling or cfg.finetune.sampling
    args.gcl = use_gcl = args.gcl or cfg.gcl.enabled
    tag = make_tag(args, sampling, checkpoint)
    if args.init == "scratch":
        run_dir = args.resume if isinstance(args.resume, Path) else None
    protocol_dir = run_dir / tag if run_dir is not None else None
    if run_dir is not None:
        require_writable_dir(run_dir, "the protocol's folder is written into it")  # before any computing
    check_output(args, protocol_dir)
    if args.resume:
        cfg = load_config(protocol_dir / "config.yaml", args.overrides, auxiliary=True)
    check_graphs(cfg, use_gcl, args.graph_distances)

    train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
    cfg = resolved_config(cfg, train)  # the encoder is built from it, config.yaml records it
    channels, _, _, persons = train.shape
    make_encoder = encoder_factory(cfg, weights, channels, persons, source=config_from)
    if weights is not None:
        make_encoder(cfg.run.seed)  # weights that do not fit fail here, before anything is written

    if run_dir is None:  # a fresh scratch run
        run_dir = new_run_dir(cfg.run.out_dir, f"supervised-{cfg.encoder.name}")
        protocol_dir = run_dir / tag
    prepare_protocol_dir(protocol_dir, resume=bool(args.resume))
    save_config(cfg, protocol_dir / "config.yaml")

    results = run_semi(cfg, make_encoder, train, val, protocol_dir, fractions=args.fractions,
                       seeds=args.seeds, sampling=sampling, gcl=use_gcl,
                       graph_distances=args.graph_distances, resume=bool(args.resume),
                       keep_checkpoints=not args.drop_checkpoints, progress=not args.quiet)
    rows = summarize(results)
    init = "scratch" if args.init == "scratch" else f"pretrained {checkpoint}"
    print(format_results(rows, title=f"{run_dir} ({init}; {sampling} labels{'; SkeletonGCL' if use_gcl else ''})"))
    if args.graph_distances:
        print(format_graph_distances(rows))
    out = run_dir / f"{tag}.json"
    atomic_write_json(out, {"run": str(run_dir), "init": args.init,
                            "checkpoint": str(checkpoint) if weights is not None else None,
                            "config_from": config_from, "sampling": sampling, "gcl": use_gcl,
                            "encoder": cfg.encoder.name, "summary": rows, "results": results,
                            "config": to_dict(cfg)})
    log_results_to_tensorboard(run_dir, tag, {f"f{row['fraction']:g}": row for row in rows})
    print(f"wrote: {out} (summary) and {protocol_dir}/ (one folder per fraction and seed)")
    print(next_step(args, run_dir))
    return 0


def next_step(args, run_dir: Path) -> str:
    """The command to run next: the same protocol from the other start (random weights or a
    pretrained encoder), to compare against."""
    command = "sslskel supervised" if args.supervised else "sslskel semi"
    flags = "" if args.supervised or not args.fractions else f" --fractions {','.join(map(str, args.fractions))}"
    flags += f" --seeds {args.seeds}" if args.seeds else ""
    if args.init == "pretrained":
        return (f"next: {command} --init scratch --run {shell_path(run_dir)}{flags}   "
                "(the same protocol from random weights: the baseline)")
    return (f"next: {command} --init pretrained --run RUN_DIR{flags}   "
            "(the same protocol from a pretrained encoder; RUN_DIR from sslskel pretrain)")


def main(argv=None, prog: str | None = None, supervised: bool = False,
         parser: argparse.ArgumentParser | None = None) -> int:
    """The protocol; `supervised` (sslskel supervised) trains on all labels: fraction 1.0, its own tag.
    Exit code 0, or 2 with one `error:` line for a bad config, data file, checkpoint or path."""
    return run_cli(functools.partial(run, supervised=supervised), parser or build_parser(prog), argv)
