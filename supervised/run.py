"""Supervised training with all labels: CTR-GCN from scratch (SkeletonGCL's stage), with or
without SkeletonGCL, or a pretrained encoder fine-tuned on the whole training split.

    python supervised/run.py --config configs/synthetic/supervised_ctrgcn.yaml            # CE only
    python supervised/run.py --config configs/ntu60_xsub/supervised_ctrgcn.yaml --gcl \\
        --graph-distances data.path=/data/ntu60/xsub
    python supervised/run.py --resume runs/20261122-120000-supervised-ctrgcn --config ... --gcl
    python supervised/run.py --init pretrained --run runs/20261122-101500-halp            # all labels

The same fine-tuning loop as semi_sup/run.py (sslskel/engine/finetune.py) with fraction 1.0;
`--seeds N` repeats it with N seeds (default: finetune.seeds of the config). Output: a new
runs/<time>-supervised-<encoder>/ (or the pretraining run, with --init pretrained) holding
supervised[_scratch][_gcl]/f1_s<seed> folders and the summary supervised[_scratch][_gcl].json.
Trailing KEY=VALUE arguments override the config (e.g. finetune.optim.epochs=10 gcl.per_class=64).

An error you can fix (config, data file, checkpoint, path) prints one line, `error: WHERE: FIELD:
expected ..., got ...`, and exits with 2; --debug (or SSLSKEL_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

from semi_sup.run import build_parser, main as protocol_main  # noqa: E402


def main(argv=None) -> int:
    parser = build_parser()
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.set_defaults(init="scratch")
    return protocol_main(argv, supervised=True, parser=parser)


if __name__ == "__main__":
    sys.exit(main())
