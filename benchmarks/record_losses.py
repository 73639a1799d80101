"""Record the training loss of the first N optimiser steps (regression fixture for "Engine v2").

    python benchmarks/record_losses.py --cases moco,halp,ctrgcn,ctrgcn_gcl --steps 100 \\
        --out tests/fixtures/reference_losses.json
    PYTHONPATH=/tmp/old_tree python benchmarks/record_losses.py ...   # the code of another checkout

Every case runs through the project's own entry points, in this process, on the embedded
synthetic data (generated once, cached at $SSLSKEL_CACHE or ~/.cache/sslskel), on the CPU with
one thread:

* moco / halp: `pretrain/run.py` `main()` with configs/synthetic/<method>.yaml and the
  overrides in CASES (halp: `halp.start_epoch=0`, so the HaLP term is on once the queue has
  filled, after 16 steps);
* ctrgcn / ctrgcn_gcl: `semi_sup/run.py` `main()` with `--init scratch --config
  configs/synthetic/supervised_ctrgcn.yaml --fractions 1.0 --seeds 1` (plus `--gcl`): the
  supervised CTR-GCN run of the README, its first (only) seed.

How the losses are read without touching library code: `torch.autograd.backward` (which
`Tensor.backward` calls) is wrapped for the duration of a case; every call records
`float(loss)` of the scalar it is called on, i.e. the loss of one optimiser step, and call N+1
raises, which ends the run before step N+1 changes anything. Component losses come from what
the code exposes: for pretraining the per-step `loss/*` scalars of `metrics.jsonl`
(`run.log_every=1`; json writes floats with repr, so they round-trip exactly; null at steps
that do not log a term, e.g. HaLP's before the queue is full) and the logged `train/loss`,
which must equal the recorded loss; for fine-tuning the terms returned by `FineTuner.losses`
(loss, loss_ce and, with SkeletonGCL, loss_instance / loss_semantic) when that method exists
(the fine-tuner only logs epoch means).

The modules under test are the `sslskel` that Python imports (check `sslskel_file` in the
output) and the scripts and configs of the checkout that holds it, so PYTHONPATH=<checkout>
records an older commit with this same script. The recording itself (CASES, record_case) is
tests/reference_recorder.py, beside the test that replays it. Output: JSON on stdout (and in
--out): `meta` (commit, torch, CPU capability, threads, steps, ...) and per case the entry
point, config, overrides, seconds, `loss` (N floats) and `components` ({name: N floats}).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the recorder lives with its test

from reference_recorder import CASES, record_case, repo_root  # noqa: E402


def git_commit(repo: Path) -> dict:
    def git(*args):
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        return {"commit": git("rev-parse", "HEAD"),
                "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def meta(steps: int) -> dict:
    import numpy as np
    import torch

    import sslskel

    repo = repo_root()
    return {**git_commit(repo), "sslskel_file": str(Path(sslskel.__file__).resolve()),
            "torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "device": "cpu", "threads": torch.get_num_threads(),
            "steps": steps, "synthetic_cache": os.environ.get("SSLSKEL_CACHE") or "~/.cache/sslskel",
            "recorded": time.strftime("%Y-%m-%d %H:%M:%S")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma list of {', '.join(CASES)}")
    parser.add_argument("--steps", type=int, default=100, help="optimiser steps per case (default 100)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown or not cases or args.steps < 1:
        parser.error(f"--cases: unknown {unknown} (valid: {', '.join(CASES)}); --steps >= 1")

    import torch

    torch.set_num_threads(1)  # the scripts set run.threads=1 too; this covers data generation
    result = {"meta": None, "cases": {}}
    for name in cases:
        with contextlib.redirect_stdout(sys.stderr):  # the scripts' output; stdout is the JSON
            result["cases"][name] = record_case(name, args.steps)
        print(f"{name}: {args.steps} steps in {result['cases'][name]['seconds']} s", file=sys.stderr)
    result["meta"] = meta(args.steps)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
