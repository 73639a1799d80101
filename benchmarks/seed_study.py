"""Pretrain several methods over several seeds, evaluate each, and print mean and spread.

For every (method, seed): pretraining with the method's config and `run.seed=SEED`, then
linear and kNN evaluation of its encoder; for every seed also the same encoder randomly
initialised (the baseline a method must beat). Everything goes through the same code as
`pretrain/run.py` and `linear_eval/run.py`; the per-run results stay in each run directory.

    python benchmarks/seed_study.py --methods moco,halp --seeds 0,1,2
    python benchmarks/seed_study.py --methods moco --seeds 0 optim.epochs=5   # overrides for all

Prints one JSON object (also written to --out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sslskel.engine.config import load_config  # noqa: E402
from sslskel.common.io import atomic_write_json  # noqa: E402
from sslskel.engine.pretrain import run_pretraining  # noqa: E402
from sslskel.eval.protocols import evaluate, load_run_encoder  # noqa: E402


def spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values) if len(values) > 1 else 0.0,
            "values": values}


def scores(results: dict) -> dict:
    out = {"linear_final": results["linear"]["final_top1"], "linear_best": results["linear"]["best_top1"]}
    out.update({k.replace("knn_k", "knn_k"): v["top1"] for k, v in results.items() if k.startswith("knn_k")})
    return out


def run_study(config_dir: Path, methods: list[str], seeds: list[int], overrides: list[str] = (),
              random_init: bool = True, log=print) -> dict:
    """Pretrain and evaluate every (method, seed); {"summary": mean/std per method, "runs": ...}."""
    per_run = {}
    for seed in seeds:
        for method in methods:
            cfg = load_config(Path(config_dir) / f"{method}.yaml",
                              [f"method={method}", f"run.seed={seed}", f"linear.seed={seed}",
                               "run.progress=false", *overrides])
            start = time.perf_counter()
            run_dir, summary = run_pretraining(cfg)
            pretrain_s = time.perf_counter() - start
            cfg, encoder, _ = load_run_encoder(run_dir=run_dir)
            results = evaluate(cfg, encoder, progress=False)
            atomic_write_json(run_dir / "eval_linear.json", results["linear"])
            per_run[f"{method}/seed{seed}"] = {"run_dir": str(run_dir), "pretrain_seconds": pretrain_s,
                                              "summary": summary, **scores(results)}
            log(json.dumps({f"{method}/seed{seed}": per_run[f"{method}/seed{seed}"]}))
        if random_init:
            cfg, encoder, _ = load_run_encoder(run_dir=run_dir, random_init=True)
            results = evaluate(cfg, encoder, progress=False)
            per_run[f"random_init/seed{seed}"] = scores(results)
            log(json.dumps({f"random_init/seed{seed}": per_run[f"random_init/seed{seed}"]}))

    summary = {}
    for name in methods + (["random_init"] if random_init else []):
        runs = [v for k, v in per_run.items() if k.startswith(name + "/")]
        summary[name] = {metric: spread([r[metric] for r in runs])
                         for metric in runs[0] if metric.startswith(("linear", "knn"))}
        if name != "random_init":
            summary[name]["pretrain_seconds"] = spread([r["pretrain_seconds"] for r in runs])
    return {"seeds": seeds, "overrides": list(overrides), "summary": summary, "runs": per_run}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="moco,halp")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--config-dir", type=Path, default=REPO / "configs" / "synthetic")
    parser.add_argument("--out", type=Path, default=Path("runs") / "seed_study.json")
    parser.add_argument("--no-random", action="store_true", help="skip the random-init baseline")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    result = run_study(args.config_dir, methods, seeds, args.overrides, random_init=not args.no_random,
                       log=lambda line: print(line, flush=True))
    atomic_write_json(args.out, result)
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()
