"""What `sslskel semi` / `sslskel supervised` decide before fine-tuning: where the encoder and
the config come from, the protocol's tag and folder, and the checks made before anything is
written (flags, graphs, an earlier result), with the folder prepared on every process.

Example:
    >>> from argparse import Namespace
    >>> args = Namespace(supervised=False, init="pretrained", gcl=True, supcon=None)
    >>> make_tag(args, "per_class", Path("runs/x/checkpoints/epoch_0100.pt"))
    'semi_per_class_epoch_0100_gcl'
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from .. import distributed
from ..common.checkpoint import load_checkpoint, load_weights, require_keys, seed_everything
from ..engine.config import load_config
from ..engine.config_tree import read_config_file
from ..errors import UserError
from ..eval.protocols import find_newest_run
from ..eval.semi import result_tag
from ..methods.base import build_method_encoder
from ..methods.gcl import require_graphs
from ..models import encoder_class
from .shared import CONFIG_DIR, require_run_dir

DEFAULT_SCRATCH_CONFIG = CONFIG_DIR / "synthetic" / "semi.yaml"
SECTIONS_FROM_CONFIG = ("finetune", "gcl", "supcon")  # what --config may change for a pretrained encoder


def section_overrides(path: Path) -> list[str]:
    """The finetune / gcl sections of a YAML file as KEY=VALUE overrides, leaf by leaf (so a
    file that sets finetune.optim.lr keeps the run's other finetune.optim settings)."""
    tree = read_config_file(path)[0]  # with the files its `base:` names
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
        require_run_dir(args.run)
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
    """The protocol's tag from the flags (`sslskel.eval.semi.result_tag`): a checkpoint other than
    last.pt names itself."""
    named = args.init == "pretrained" and checkpoint is not None and checkpoint.name != "last.pt"
    return result_tag(supervised=args.supervised, scratch=args.init == "scratch", sampling=sampling,
                      checkpoint_stem=checkpoint.stem if named else None, gcl=args.gcl, supcon=args.supcon)


def resolve_config(args, checkpoint: Path | None):
    """(config, pretrained encoder state or None, where the config came from)."""
    if args.init == "pretrained":
        state = load_checkpoint(checkpoint)
        require_keys(state, checkpoint, ("method", "config"), "pretraining")
        extra = section_overrides(args.config) if args.config else []
        cfg = load_config(None, extra + list(args.overrides), base=state["config"], auxiliary=True)
        prefix = "encoder."
        weights = {k[len(prefix):]: v for k, v in state["method"].items() if k.startswith(prefix)}
        return cfg, weights, str(checkpoint)
    if args.config:
        return load_config(args.config, args.overrides, auxiliary=True), None, str(args.config)
    if checkpoint is not None:
        state = load_checkpoint(checkpoint)
        require_keys(state, checkpoint, ("config",), "pretraining")
        return load_config(None, args.overrides, base=state["config"], auxiliary=True), None, str(checkpoint)
    return load_config(DEFAULT_SCRATCH_CONFIG, args.overrides, auxiliary=True), None, str(DEFAULT_SCRATCH_CONFIG)


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


def prepare_protocol_dir(protocol_dir: Path, resume: bool) -> None:
    """Create the protocol's folder; an earlier one (--overwrite: check_output refused it
    otherwise) is removed first. Under torchrun every process has made its checks
    (check_output, exists) before rank 0 changes anything: a process that looked later would
    see rank 0's new folder."""
    existed = protocol_dir.exists()
    distributed.barrier()
    if existed and not resume:
        if distributed.is_main():
            shutil.rmtree(protocol_dir)
        distributed.barrier()
    protocol_dir.mkdir(parents=True, exist_ok=True)
