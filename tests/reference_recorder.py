"""The recorder of the reference losses (tests/fixtures/reference_losses.json): each case run
through the project's own entry points for its first N optimiser steps, the loss of every step
read at the backward pass. tests/engine/test_reference_losses.py compares against the fixture;
benchmarks/record_losses.py (re)records it and documents how the losses are read.

    >>> sorted(CASES)
    ['ctrgcn', 'ctrgcn_gcl', 'halp', 'moco']
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import tempfile
import time
from pathlib import Path

COMMON_RUN = ["run.threads=1", "run.seed=0", "run.device=cpu", "run.amp=off"]  # recorded in fp32
PRETRAIN_RUN = COMMON_RUN + ["run.knn_every=0", "run.progress=false", "run.log_every=1"]
SUPERVISED_ARGS = ["--init", "scratch", "--fractions", "1.0", "--seeds", "1", "--quiet"]

# overrides only use keys that the code before and after "Real data" (data.layout auto,
# data.normalize) both accept
CASES = {
    "moco": {"entry": "pretrain/run.py", "config": "configs/synthetic/moco.yaml",
             "args": [], "overrides": PRETRAIN_RUN},
    "halp": {"entry": "pretrain/run.py", "config": "configs/synthetic/halp.yaml",
             "args": [], "overrides": PRETRAIN_RUN + ["halp.start_epoch=0"]},
    "ctrgcn": {"entry": "semi_sup/run.py", "config": "configs/synthetic/supervised_ctrgcn.yaml",
               "args": SUPERVISED_ARGS, "overrides": COMMON_RUN},
    "ctrgcn_gcl": {"entry": "semi_sup/run.py", "config": "configs/synthetic/supervised_ctrgcn.yaml",
                   "args": SUPERVISED_ARGS + ["--gcl"], "overrides": COMMON_RUN},
}


class StopRecording(Exception):
    """Raised at the backward pass of step N+1: the recording is complete."""


def repo_root() -> Path:
    """The checkout of the `sslskel` that is imported (its scripts and configs are used)."""
    import sslskel

    return Path(sslskel.__file__).resolve().parents[1]


def load_script(repo: Path, relative: str):
    spec = importlib.util.spec_from_file_location("record_" + relative.replace("/", "_")[:-3], repo / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def capture_steps(steps: int):
    """Record float(loss) of the first `steps` backward passes; the next one raises StopRecording.

    Yields {"loss": [...], "terms": [...]}; "terms" holds FineTuner.losses' outputs as floats
    (one dict per call) when the fine-tuner has that method.
    """
    import torch

    from sslskel.engine import finetune as finetune_module

    record = {"loss": [], "terms": []}
    original_backward = torch.autograd.backward

    def backward(tensors, *args, **kwargs):
        if not (isinstance(tensors, torch.Tensor) and tensors.numel() == 1):
            raise TypeError(f"record_losses: backward on {type(tensors).__name__} "
                            f"{getattr(tensors, 'shape', '')}: expected one scalar loss per step")
        if len(record["loss"]) >= steps:
            raise StopRecording
        record["loss"].append(float(tensors.detach()))
        return original_backward(tensors, *args, **kwargs)

    tuner = getattr(finetune_module, "FineTuner", None)
    original_losses = getattr(tuner, "losses", None)

    def losses(self, *args, **kwargs):
        terms = original_losses(self, *args, **kwargs)
        record["terms"].append({k: float(v.detach()) for k, v in terms.items()})
        return terms

    torch.autograd.backward = backward
    if original_losses is not None:
        tuner.losses = losses
    try:
        yield record
    finally:
        torch.autograd.backward = original_backward
        if original_losses is not None:
            tuner.losses = original_losses


def metrics_components(run_dir: Path, steps: int) -> dict[str, list[float]]:
    """train/loss and the loss/* scalars of steps 1..steps from a pretraining run's metrics.jsonl."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    per_step = [r for r in records if "train/loss" in r]
    got = [r["step"] for r in per_step]
    if got != list(range(1, steps + 1)):
        raise RuntimeError(f"{run_dir}/metrics.jsonl: train/loss logged at steps {got[:5]}...{got[-5:]}, "
                           f"expected every step 1..{steps} (run.log_every=1)")
    keys = sorted({k for r in per_step for k in r if k == "train/loss" or k.startswith("loss/")})
    out = {}
    for key in keys:  # None where a step does not log the term (HaLP's before the queue is full)
        values = [r.get(key) for r in per_step]
        if any(v is not None and not isinstance(v, float) for v in values):
            raise RuntimeError(f"{run_dir}/metrics.jsonl: {key} is not a finite float at some steps")
        out[key] = values
    return out


def record_case(name: str, steps: int = 100) -> dict:
    """Run case `name` for `steps` optimiser steps; returns its description and losses."""
    case = CASES[name]
    repo = repo_root()
    script = load_script(repo, case["entry"])
    config = repo / case["config"]
    with tempfile.TemporaryDirectory(prefix=f"record_losses_{name}_") as tmp:
        runs = Path(tmp) / "runs"
        argv = ["--config", str(config), *case["args"], *case["overrides"], f"run.out_dir={runs}"]
        start = time.perf_counter()
        with capture_steps(steps) as record:
            try:
                rc = script.main(argv)
            except StopRecording:
                rc = None
        seconds = time.perf_counter() - start
        if rc is not None:
            raise RuntimeError(f"{name}: {case['entry']} returned {rc} before {steps} steps "
                               f"({len(record['loss'])} recorded)")
        losses = record["loss"]
        components = {}
        if case["entry"] == "pretrain/run.py":
            (run_dir,) = runs.iterdir()
            components = metrics_components(run_dir, steps)
            logged = components.pop("train/loss")
            if logged != losses:
                first = next(i for i, (a, b) in enumerate(zip(logged, losses)) if a != b)
                raise RuntimeError(f"{name}: metrics.jsonl train/loss differs from the backward loss at "
                                   f"step {first + 1}: {logged[first]!r} vs {losses[first]!r}")
        elif record["terms"]:
            terms = record["terms"][:steps]
            if [t["loss"] for t in terms] != losses:
                raise RuntimeError(f"{name}: FineTuner.losses()['loss'] differs from the backward loss")
            components = {k: [t[k] for t in terms] for k in terms[0] if k != "loss"}
    return {"entry": case["entry"], "config": case["config"],
            "config_sha256": hashlib.sha256(config.read_bytes()).hexdigest(),
            "args": case["args"], "overrides": case["overrides"],
            "steps": steps, "seconds": round(seconds, 1), "loss": losses, "components": components}
