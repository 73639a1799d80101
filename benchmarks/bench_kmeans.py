"""Benchmark HaLP's prototype fitting and positive generation; prints one JSON object.

Compares ``fit_prototypes`` with the torch backend against the geomstats backend (the
paper's) on clustered unit keys shaped like HaLP's input (the 256 most recent 128-d
MoCo keys, k = 20): median fit time of each over interleaved repeats in the same run, the
speed ratio (target: torch >= 20x faster) and each one's angular inertia (target:
torch <= 1.02 x geomstats). Also times ``hallucinate_positives`` + the rank filter for
B = 64 anchors, P = 100 positives, d = 128, k = 20.

The keys are von Mises-Fisher-like clusters: a random unit centre per cluster plus
isotropic Gaussian noise, renormalised.

Example:
    python benchmarks/bench_kmeans.py --repeats 7
    python benchmarks/bench_kmeans.py --device cuda
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from sslskel.cluster import angular_inertia, fit_prototypes
from sslskel.methods.hallucinate import hallucinate_positives, rank_filter


def clustered_keys(n: int, d: int, clusters: int, noise: float, seed: int, device: torch.device) -> torch.Tensor:
    """n unit vectors around ``clusters`` random unit centres (Gaussian noise, renormalised)."""
    generator = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(clusters, d, generator=generator), dim=1)
    members = torch.randint(0, clusters, (n,), generator=generator)
    keys = F.normalize(centres[members] + noise * torch.randn(n, d, generator=generator), dim=1)
    return keys.to(device)


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device: torch.device) -> tuple[float, object]:
    _synchronise(device)
    start = time.perf_counter()
    result = fn()
    _synchronise(device)
    return time.perf_counter() - start, result


def bench_kmeans(keys: torch.Tensor, k: int, repeats: int) -> dict:
    """Interleaved repeats of both backends; seed r for repeat r, the same for both."""
    fit_prototypes(keys, k, backend="geomstats", seed=0)  # warm-up: geomstats import
    fit_prototypes(keys, k, backend="torch", seed=0)
    times = {"torch": [], "geomstats": []}
    inertia = {"torch": [], "geomstats": []}
    for repeat in range(repeats):
        for backend in ("torch", "geomstats"):
            seconds, prototypes = _timed(lambda: fit_prototypes(keys, k, backend=backend, seed=repeat), keys.device)
            times[backend].append(seconds)
            inertia[backend].append(angular_inertia(keys, prototypes))
    median_time = {name: statistics.median(values) for name, values in times.items()}
    median_inertia = {name: statistics.median(values) for name, values in inertia.items()}
    return {
        "median_fit_s": median_time,
        "speed_ratio_geomstats_over_torch": median_time["geomstats"] / median_time["torch"],
        "median_angular_inertia": median_inertia,
        "inertia_ratio_torch_over_geomstats": median_inertia["torch"] / median_inertia["geomstats"],
        "worst_inertia_ratio_same_seed": max(t / g for t, g in zip(inertia["torch"], inertia["geomstats"])),
    }


def bench_hallucinate(keys: torch.Tensor, k: int, batch: int, num_positives: int, repeats: int) -> dict:
    prototypes = fit_prototypes(keys, k, seed=0)
    anchors = keys[:batch]
    generator = torch.Generator(device=keys.device).manual_seed(0)

    def run():
        hallucinated = hallucinate_positives(anchors, prototypes, num_positives, 0.8, generator)
        return rank_filter(hallucinated.positives, prototypes, hallucinated.p0_index)

    run()
    results = [_timed(run, keys.device) for _ in range(repeats)]
    kept = torch.stack([keep for _, keep in results]).float().mean()
    return {"median_s": statistics.median(seconds for seconds, _ in results), "rank_filter_kept_fraction": float(kept)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--noise", type=float, default=0.1, help="per-coordinate noise std before renormalising")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    keys = clustered_keys(args.n, args.dim, args.k, args.noise, seed=0, device=device)
    report = {
        "device": str(device),
        "threads": args.threads,
        "points": [args.n, args.dim],
        "k": args.k,
        "repeats": args.repeats,
        "kmeans": bench_kmeans(keys, args.k, args.repeats),
        "hallucinate_plus_rank_filter_B64_P100": bench_hallucinate(keys, args.k, 64, 100, max(args.repeats, 10)),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
