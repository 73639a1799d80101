"""Supervised training with all labels: CTR-GCN from scratch (SkeletonGCL's stage), with or
without SkeletonGCL, or a pretrained encoder fine-tuned on the whole training split.

    sslskel supervised --config configs/synthetic/supervised_ctrgcn.yaml            # CE only
    sslskel supervised --config configs/ntu60_xsub/supervised_ctrgcn.yaml --gcl \\
        --graph-distances data.path=/data/ntu60/xsub
    sslskel supervised --resume runs/20261122-120000-supervised-ctrgcn --config ... --gcl
    sslskel supervised --init pretrained --run runs/20261122-101500-halp            # all labels

(`python supervised/run.py ...` is the same command.) The same fine-tuning loop as
`sslskel semi` (sslskel/engine/finetune.py) with fraction 1.0; `--seeds N` repeats it with N
seeds (default: finetune.seeds of the config). Output: a new runs/<time>-supervised-<encoder>/
(or the pretraining run, with --init pretrained) holding supervised[_scratch][_gcl]/f1_s<seed>
folders and the summary supervised[_scratch][_gcl].json. Trailing KEY=VALUE arguments override
the config (e.g. finetune.optim.epochs=10 gcl.per_class=64).

An error you can fix (config, data file, checkpoint, path) prints one line, `error: WHERE: FIELD:
expected ..., got ...`, and exits with 2; --debug (or SSLSKEL_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

from . import semi


def main(argv=None, prog: str | None = None) -> int:
    """`sslskel semi` with fraction 1.0 and --init scratch by default; exit code 0 or 2."""
    parser = semi.build_parser(prog, description=__doc__)
    parser.set_defaults(init="scratch")
    return semi.main(argv, supervised=True, parser=parser)
