"""Semi-supervised fine-tuning of a pretrained encoder (supervised training with all labels,
with or without SkeletonGCL, has its own entry point: supervised/run.py, same flags).

    python semi_sup/run.py                                  # newest run under runs/, 1/5/10/20 % labels
    python semi_sup/run.py --run runs/20261122-101500-halp --fractions 0.01,0.1 --seeds 5
    python semi_sup/run.py --checkpoint runs/X/checkpoints/epoch_0200.pt --sampling random
    python semi_sup/run.py --init scratch                   # same protocol from random weights
    python semi_sup/run.py --init scratch --config configs/synthetic/supervised_ctrgcn.yaml --fractions 1.0 --gcl
    python semi_sup/run.py --init scratch --config configs/ntu60_xsub/supervised_ctrgcn.yaml \\
        --fractions 1.0 --seeds 1 --gcl --graph-distances data.path=/data/ntu60/xsub
    python semi_sup/run.py --resume runs/20261122-120000-supervised-ctrgcn --init scratch --fractions 1.0 --gcl

Every fraction is repeated `--seeds` times; seed i draws a different label subset and sets
the classifier init, data order, augmentations (and a scratch encoder's init). Fraction 1.0
is full fine-tuning / supervised training. The table shows the mean ± population std over
seeds of the final and the best top-1 (CMD/HaLP report the best; the final is the honest one).

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
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from sslskel import distributed  # noqa: E402
from sslskel.data.build import load_data  # noqa: E402
from sslskel.common.checkpoint import load_checkpoint, load_weights, require_keys, seed_everything  # noqa: E402
from sslskel.common.cli import run_cli  # noqa: E402
from sslskel.engine.config import load_config, read_yaml, save_config, to_dict  # noqa: E402
from sslskel.errors import UserError  # noqa: E402
from sslskel.methods.gcl import require_graphs  # noqa: E402
from sslskel.models import encoder_class  # noqa: E402
from sslskel.common.io import atomic_write_json  # noqa: E402
from sslskel.engine.pretrain import new_run_dir  # noqa: E402
from sslskel.eval.protocols import find_newest_run  # noqa: E402
from sslskel.eval.semi import (SAMPLINGS, format_graph_distances, format_results, run_semi,  # noqa: E402
                               summarize)
from sslskel.methods.base import build_method_encoder  # noqa: E402

DEFAULT_SCRATCH_CONFIG = REPO / "configs" / "synthetic" / "semi.yaml"
SECTIONS_FROM_CONFIG = ("finetune", "gcl", "supcon")  # what --config may change for a pretrained encoder


def parse_fractions(text: str) -> list[float]:
    try:
        fractions = [float(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--fractions: expected numbers like 0.01,0.1, got {text!r}")
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise argparse.ArgumentTypeError(f"--fractions: each must be in (0, 1], got {text!r}")
    return fractions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--run", type=Path, metavar="RUN_DIR", help="pretraining run (default: newest under --runs)")
    source.add_argument("--checkpoint", type=Path, metavar="FILE", help="a checkpoint file of a pretraining run")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="where to look for the newest run")
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


def section_overrides(path: Path) -> list[str]:
    """The finetune / gcl sections of a YAML file as KEY=VALUE overrides, leaf by leaf (so a
    file that sets finetune.optim.lr keeps the run's other finetune.optim settings)."""
    tree = read_yaml(path)
    unknown = set(tree) - set(SECTIONS_FROM_CONFIG)
    if unknown:
        print(f"note: with a pretrained encoder only {', '.join(SECTIONS_FROM_CONFIG)} are read from "
              f"{path}; ignoring {', '.join(sorted(unknown))}")

    def leaves(prefix: str, value) -> list[str]:
        if isinstance(value, dict) and value and not prefix.endswith(".groups"):
            return [item for key, sub in value.items() for item in leaves(f"{prefix}.{key}", sub)]
        return [f"{prefix}={json.dumps(value)}"]

    return [item for section in SECTIONS_FROM_CONFIG if tree.get(section)
            for item in leaves(section, tree[section])]


def pretraining_source(args) -> tuple[Path | None, Path | None]:
    """(run directory, checkpoint) of the pretraining run named or found, or (None, None)."""
    if args.checkpoint:
        return args.checkpoint.parent.parent, args.checkpoint
    if args.run:
        return args.run, args.run / "checkpoints" / "last.pt"
    if args.init == "scratch" and args.config:
        return None, None
    try:
        run_dir = find_newest_run(args.runs)
    except FileNotFoundError:
        if args.init == "scratch":
            return None, None
        raise
    return run_dir, run_dir / "checkpoints" / "last.pt"


def make_tag(args, sampling: str, checkpoint: Path | None) -> str:
    if args.supervised:
        tag = "supervised_scratch" if args.init == "scratch" else "supervised"
        if args.init == "pretrained" and checkpoint is not None and checkpoint.name != "last.pt":
            tag += f"_{checkpoint.stem}"
        return tag + ("_gcl" if args.gcl else "") + aux_suffix(args)
    tag = "semi_scratch" if args.init == "scratch" else "semi"
    tag += f"_{sampling}"
    if args.init == "pretrained" and checkpoint is not None and checkpoint.name != "last.pt":
        tag += f"_{checkpoint.stem}"
    return tag + ("_gcl" if args.gcl else "") + aux_suffix(args)


def aux_suffix(args) -> str:
    return f"_{args.supcon}" if args.supcon else ""


def resolve_config(args, checkpoint: Path | None):
    """(config, pretrained encoder state or None, where the config came from)."""
    if args.init == "pretrained":
        state = load_checkpoint(checkpoint)
        require_keys(state, checkpoint, ("method", "config"), "pretraining")
        extra = section_overrides(args.config) if args.config else []
        cfg = load_config(None, extra + list(args.overrides), base=state["config"])
        prefix = "encoder."
        weights = {k[len(prefix):]: v for k, v in state["method"].items() if k.startswith(prefix)}
        return cfg, weights, str(checkpoint)
    if args.config:
        return load_config(args.config, args.overrides), None, str(args.config)
    if checkpoint is not None:
        state = load_checkpoint(checkpoint)
        require_keys(state, checkpoint, ("config",), "pretraining")
        return load_config(None, args.overrides, base=state["config"]), None, str(checkpoint)
    return load_config(DEFAULT_SCRATCH_CONFIG, args.overrides), None, str(DEFAULT_SCRATCH_CONFIG)


def encoder_factory(cfg, weights, channels: int, persons: int, source: str | Path = "the checkpoint"):
    """make_encoder(seed): the pretrained weights (fresh copy) or a seeded random init; weights
    that do not fit the config's encoder (an encoder.args override, say) are a CheckpointError."""
    def make_encoder(seed: int):
        seed_everything(seed)
        encoder = build_method_encoder(cfg, channels, persons)
        if weights is not None:
            load_weights(encoder, weights, source, "method.encoder")
        return encoder
    return make_encoder


def check_flags(args, parser: argparse.ArgumentParser) -> None:
    """Usage errors (argparse's exit code 2) before anything is read."""
    if args.supervised:
        if args.fractions not in (None, [1.0]) or args.sampling:
            parser.error("supervised training uses all labels: --fractions and --sampling are for semi_sup/run.py")
        args.fractions = [1.0]
    if args.seeds is not None and args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if args.init == "scratch" and args.resume is True:
        parser.error("--resume needs the RUN_DIR of the scratch run (runs/<time>-supervised-<encoder>)")
    if args.init == "pretrained" and isinstance(args.resume, Path):
        parser.error("with a pretrained encoder --resume takes no directory: name the run with --run")


def check_graphs(cfg, use_gcl: bool, graph_distances: bool) -> None:
    """Fail before loading data or training when the encoder cannot give graphs (a UserError)."""
    if use_gcl and cfg.gcl.contrast == "graph":
        require_graphs(encoder_class(cfg.encoder.name))
    if graph_distances:
        require_graphs(encoder_class(cfg.encoder.name), "--graph-distances")


def check_output(args, protocol_dir: Path | None) -> None:
    """The protocol's folder: there to resume, or not there (or --overwrite) to start."""
    if args.resume:
        if protocol_dir is None or not (protocol_dir / "config.yaml").is_file():
            raise UserError(protocol_dir, "--resume", "a protocol directory holding config.yaml",
                            "nothing to resume")
    elif protocol_dir is not None and protocol_dir.exists() and not args.overwrite:
        raise UserError(protocol_dir, "output", "a new directory (pass --resume to continue it or "
                        "--overwrite to start again)", "one from an earlier run")


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
    use_gcl = args.gcl or cfg.gcl.enabled
    args.gcl = use_gcl
    tag = make_tag(args, sampling, checkpoint)
    if args.init == "scratch":
        run_dir = args.resume if isinstance(args.resume, Path) else None
    protocol_dir = run_dir / tag if run_dir is not None else None
    check_output(args, protocol_dir)
    if args.resume:
        cfg = load_config(protocol_dir / "config.yaml", args.overrides)
    check_graphs(cfg, use_gcl, args.graph_distances)

    train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
    channels, _, _, persons = train.shape
    make_encoder = encoder_factory(cfg, weights, channels, persons, source=config_from)
    if weights is not None:
        make_encoder(cfg.run.seed)  # weights that do not fit fail here, before anything is written

    if run_dir is None:  # a fresh scratch run
        run_dir = new_run_dir(cfg.run.out_dir, f"supervised-{cfg.encoder.name}")
        protocol_dir = run_dir / tag
    # under torchrun every process has made its checks (check_output, exists) before rank 0
    # changes anything: a process that looked later would see rank 0's new folder
    existed = protocol_dir.exists()
    distributed.barrier()
    if existed and not args.resume:  # --overwrite (check_output refused otherwise)
        if distributed.is_main():
            shutil.rmtree(protocol_dir)
        distributed.barrier()
    protocol_dir.mkdir(parents=True, exist_ok=True)
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
    print(f"results: {out}")
    return 0


def main(argv=None, supervised: bool = False, parser: argparse.ArgumentParser | None = None) -> int:
    """The protocol; `supervised` (supervised/run.py) trains on all labels: fraction 1.0, its own tag.
    Exit code 0, or 2 with one `error:` line for a bad config, data file, checkpoint or path."""
    return run_cli(functools.partial(run, supervised=supervised), parser or build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
