"""A study's PNG plots (matplotlib, `pip install sslskel[plots]`; none without it).

- accuracy.png: per protocol column, every method's seeds as points and their mean as a bar,
  the floors and the ceiling as horizontal lines;
- semi.png: top-1 over the label fractions, mean ± std over seeds, one line per method;
- losses.png: the pretraining loss of every run over steps, one colour per method.

Example:
    names = make_plots(Path("runs/compare/msr/plots"), results, curves)   # ['plots/accuracy.png', ...]
"""

from __future__ import annotations

from pathlib import Path

from ..common.io import atomic_path
from .collect import CEILING_ROW, LOGISTIC_ROW, ONE_NN_ROW

LINES = {ONE_NN_ROW: ("tab:gray", ":"), LOGISTIC_ROW: ("tab:gray", "--"), CEILING_ROW: ("black", "-.")}


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")


def accuracy_plot(plt, results: dict, path: Path) -> bool:
    columns = [c for c in results["columns"] if not c.startswith("semi ")]
    bars = [r for r in results["rows"] if r not in LINES]
    if not columns or not bars:
        return False
    fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 3.6), squeeze=False)
    for ax, column in zip(axes[0], columns):
        for x, row in enumerate(bars):
            values = results["per_seed"][row].get(column, {})
            if values:
                points = list(values.values())
                ax.bar(x, sum(points) / len(points), color="tab:blue" if row in results["methods"] else "tab:orange",
                       alpha=0.35)
                ax.plot([x] * len(points), points, "o", color="black", markersize=4)
        for row, (color, style) in LINES.items():
            stats = results["summary"].get(row, {}).get(column)
            if stats:  # the mean over seeds (the floors have one value)
                ax.axhline(stats["mean"], color=color, linestyle=style, label=row)
        ax.set_xticks(range(len(bars)), bars, rotation=30, ha="right")
        ax.set_title(column)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    _save(fig, path)
    plt.close(fig)
    return True


def semi_plot(plt, results: dict, path: Path) -> bool:
    columns = [c for c in results["columns"] if c.startswith("semi ")]
    if not columns:
        return False
    fractions = [float(c[5:]) for c in columns]
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for method in results["methods"]:
        stats = [results["summary"].get(method, {}).get(c) for c in columns]
        points = [(f, s["mean"], s["std"]) for f, s in zip(fractions, stats) if s]
        if points:
            ax.errorbar([p[0] for p in points], [p[1] for p in points], yerr=[p[2] for p in points],
                        marker="o", capsize=3, label=method)
    ax.set_xscale("log")
    ax.set_xlabel("fraction of training labels")
    ax.set_ylabel("top-1 %")
    ax.legend()
    _save(fig, path)
    plt.close(fig)
    return True


def loss_plot(plt, curves: dict, path: Path) -> bool:
    if not curves:
        return False
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for i, (method, runs) in enumerate(sorted(curves.items())):
        for j, (steps, losses) in enumerate(runs):
            ax.plot(steps, losses, color=f"C{i}", alpha=0.7, label=method if j == 0 else None)
    ax.set_xlabel("step")
    ax.set_ylabel("pretraining loss")
    ax.legend()
    _save(fig, path)
    plt.close(fig)
    return True


def make_plots(plot_dir: Path, results: dict, curves: dict) -> list[str]:
    """The plots drawn, as paths relative to the study folder ([] without matplotlib)."""
    plt = _pyplot()
    if plt is None:
        return []
    drawn = []
    for name, draw in (("accuracy.png", lambda p: accuracy_plot(plt, results, p)),
                       ("semi.png", lambda p: semi_plot(plt, results, p)),
                       ("losses.png", lambda p: loss_plot(plt, curves, p))):
        if draw(Path(plot_dir) / name):
            drawn.append(f"{Path(plot_dir).name}/{name}")
    return drawn
