"""Plots of a run's logged diagnostics, as PNG files in RUN_DIR/plots/.

    python -m sslskel.report runs/20261122-101500-halp

Draws what `metrics.jsonl` holds: the losses, the learning rate, online kNN accuracy, and for
HaLP the quantities of the supplement's Figures 1-2 (mean similarity of the query to its real
key, to the hallucinated positives and to the queue) plus the generator's own state (fraction
kept by the filter, t / t_max, prototype refresh time). Needs matplotlib (`pip install
sslskel[plots]`).

Example:
    >>> import tempfile, pathlib
    >>> from sslskel.engine.run_log import RunLogger
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with RunLogger(d, tensorboard=False) as log:
    ...     for s in range(1, 4): log.log({"train/loss": 3.0 / s, "sim/query_key": 0.1 * s}, step=s)
    >>> sorted(p.name for p in make_plots(d))
    ['losses.png', 'similarities.png']
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .engine.run_log import read_metrics

FIGURES = {
    "losses.png": ("loss", ["train/loss", "loss/infonce", "loss/halp"]),
    "similarities.png": ("mean cosine similarity",
                         ["sim/query_key", "sim/query_hallucinated", "sim/key_hallucinated",
                          "sim/query_queue"]),
    "halp_generation.png": ("HaLP generator", ["halp/kept_fraction", "halp/t_over_tmax", "halp/t_max"]),
    "prototype_refresh.png": ("milliseconds", ["halp/prototype_refresh_ms"]),
    "knn.png": ("top-1 %", ["knn/top1_k1", "knn/top1_k20"]),
    "lr.png": ("learning rate", ["train/lr"]),
}


def series(records: list[dict], key: str) -> tuple[list[int], list[float]]:
    points = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float))]
    return [p[0] for p in points], [p[1] for p in points]


def make_plots(run_dir: str | Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("plots need matplotlib: pip install 'sslskel[plots]'") from None
    run_dir = Path(run_dir)
    records = read_metrics(run_dir)
    out_dir = run_dir / "plots"
    out_dir.mkdir(exist_ok=True)
    written = []
    for filename, (ylabel, keys) in FIGURES.items():
        present = [(key, *series(records, key)) for key in keys]
        present = [p for p in present if p[1]]
        if not present:
            continue
        fig, ax = plt.subplots(figsize=(7, 4))
        for key, steps, values in present:
            ax.plot(steps, values, label=key, linewidth=1.2, marker="o" if len(steps) < 30 else None)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{run_dir.name}: {filename[:-4].replace('_', ' ')}")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = out_dir / filename
        tmp = path.with_suffix(".tmp.png")
        fig.savefig(tmp, dpi=110)
        tmp.replace(path)
        plt.close(fig)
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Plot a run's diagnostics into RUN_DIR/plots/.")
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    if not (args.run_dir / "metrics.jsonl").is_file():
        print(f"{args.run_dir}: no metrics.jsonl here; is it a run directory?", file=sys.stderr)
        return 2
    for path in make_plots(args.run_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
