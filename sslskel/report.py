"""Plots of a run's logged diagnostics, as PNG files in RUN_DIR/plots/.

    sslskel report                                   # the newest run under runs/
    sslskel report runs/20261122-101500-halp         # or python -m sslskel.report RUN_DIR

Draws what `metrics.jsonl` holds: every loss (train/loss* and each method's loss/* terms),
the learning rate, online kNN accuracy (a run shorter than run.knn_every logs it once: drawn
as labelled points), every sim/* similarity, and for HaLP the quantities of the supplement's
Figures 1-2 (mean similarity of the query to its real key, to the hallucinated positives and to
the queue) plus the generator's own state (fraction kept by the filter, t / t_max, prototype
refresh time); a dashed line marks the step where HaLP switched on. For a HaLP run it also
draws Figure 3 from the last checkpoint: the similarity of one recent key and of positives
generated from it to every prototype, kept positives beside a filtered one. For every
eval_diagnostics*.json that `sslskel eval` wrote it (re)draws the embedding spectrum,
spectrum_<tag>.png. Needs matplotlib (`pip install sslskel[plots]`).

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
import json
import shlex
import sys
from pathlib import Path

from .common.checkpoint import load_checkpoint
from .common.cli import run_cli
from .engine.run_log import read_metrics
from .errors import UserError
from .eval.diagnostics import plot_spectrum
from .eval.protocols import find_newest_run
from .methods.hallucinate import hallucinate_positives, rank_filter

# file: (y label, key prefixes); every logged key that starts with one of the prefixes is drawn,
# so a method's own terms (loss/nt_xent, loss/kl, loss/club, sim/positive ...) need no entry here
FIGURES = {
    "losses.png": ("loss", ["train/loss", "loss/"]),
    "similarities.png": ("mean cosine similarity", ["sim/"]),
    "halp_generation.png": ("HaLP generator", ["halp/kept_fraction", "halp/t_over_tmax", "halp/t_max"]),
    "prototype_refresh.png": ("milliseconds", ["halp/prototype_refresh_ms"]),
    "knn.png": ("top-1 %", ["knn/top1_"]),
    "lr.png": ("learning rate", ["train/lr"]),
}
FEW_POINTS = 3  # a series this short (a run shorter than run.knn_every) is drawn as labelled points


def series(records: list[dict], key: str) -> tuple[list[int], list[float]]:
    points = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float))]
    return [p[0] for p in points], [p[1] for p in points]


def keys_with_prefixes(records: list[dict], prefixes: list[str]) -> list[str]:
    """The logged keys starting with one of `prefixes`, grouped by prefix in order, sorted within.

    >>> keys_with_prefixes([{"step": 1, "loss/kl": 1.0, "train/loss": 2.0, "loss/nt_xent": 3.0}],
    ...                    ["train/loss", "loss/"])
    ['train/loss', 'loss/kl', 'loss/nt_xent']
    """
    logged = {key for record in records for key in record}
    return [key for prefix in prefixes for key in sorted(k for k in logged if k.startswith(prefix))]


def halp_switch_on(records: list[dict]) -> tuple[int, int | None] | None:
    """(step, epoch) of the first logged step with HaLP's weight mu > 0 (or, in a log without
    halp/mu, with a HaLP loss), or None when HaLP never switched on. The epoch counts from 0,
    like halp.start_epoch; the step is exact to within run.log_every.

    >>> halp_switch_on([{"step": 1, "epoch": 0, "halp/mu": 0.0}, {"step": 2, "epoch": 1, "halp/mu": 1.0}])
    (2, 1)
    """
    for key, on in (("halp/mu", lambda v: v > 0), ("loss/halp", lambda v: True)):
        for record in records:
            value = record.get(key)
            if isinstance(value, (int, float)) and on(value):
                return record["step"], record.get("epoch")
    return None


def prototype_similarities(run_dir: Path, num_positives: int = 100, seed: int = 0) -> dict | None:
    """Figure 3's data from checkpoints/last.pt: sims of a key and its positives to each prototype."""
    import torch

    path = run_dir / "checkpoints" / "last.pt"
    if not path.is_file():
        return None
    state = load_checkpoint(path)
    method = state["method"]
    if "prototypes" not in method or int(method["prototypes_step"]) < 0:
        return None  # not HaLP, or generation never started
    prototypes, queue, ptr = method["prototypes"].float(), method["queue"].float(), int(method["queue_ptr"])
    generator = torch.Generator().manual_seed(seed)
    for offset in range(1, min(len(queue), 64) + 1):  # the most recent key with a filtered positive
        key = queue[(ptr - offset) % len(queue)][None]
        made = hallucinate_positives(key, prototypes, num_positives, state["config"]["halp"]["lam"],
                                     generator=generator)
        kept = rank_filter(made.positives, prototypes, made.p0_index)[0]
        if kept.any() and not kept.all():
            break
    good = made.positives[0][kept][:2]
    bad = made.positives[0][~kept][:1]
    order = torch.argsort(key[0] @ prototypes.T, descending=True)  # prototypes by the key's ranking
    return {"key": (key[0] @ prototypes.T)[order].tolist(),
            "kept": [(p @ prototypes.T)[order].tolist() for p in good],
            "filtered": [(p @ prototypes.T)[order].tolist() for p in bad],
            "step": int(method["prototypes_step"])}


def diagnostics_spectra(run_dir: Path) -> dict[str, list[float]]:
    """{tag: spectrum} of the run's eval_diagnostics*.json (tag: last, random, <checkpoint>, ...)."""
    spectra = {}
    for path in sorted(run_dir.glob("eval_diagnostics*.json")):
        try:
            result = json.loads(path.read_text())
            spectrum = [float(v) for v in result["spectrum"]]
            if not spectrum or min(spectrum) < 0 or sum(spectrum) <= 0:
                raise ValueError("expected non-negative singular values with a positive sum")
        except (ValueError, KeyError, TypeError) as error:
            raise UserError(path, "spectrum", "the JSON of linear_eval/run.py --protocols diagnostics",
                            f"{type(error).__name__}: {error}") from None
        spectra[path.stem[len("eval_diagnostics_"):] or "last"] = spectrum
    return spectra


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    tmp = path.with_suffix(".tmp.png")  # a viewer never sees half a PNG
    fig.savefig(tmp, dpi=110)
    tmp.replace(path)
    plt.close(fig)
    return path


def make_plots(run_dir: str | Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        raise SystemExit("plots need matplotlib: pip install 'sslskel[plots]'") from None
    run_dir = Path(run_dir)
    records = read_metrics(run_dir)
    out_dir = run_dir / "plots"
    out_dir.mkdir(exist_ok=True)
    switch = halp_switch_on(records)
    written = []
    for filename, (ylabel, prefixes) in FIGURES.items():
        present = [(key, *series(records, key)) for key in keys_with_prefixes(records, prefixes)]
        present = [p for p in present if p[1]]
        if present:
            title = f"{run_dir.name}: {filename[:-4].replace('_', ' ')}"
            fig = draw_series(present, ylabel, title, switch, percent=filename == "knn.png")
            written.append(_save(fig, out_dir / filename))
    figure3 = prototype_similarities(run_dir)
    if figure3 is not None:
        written.append(_save(draw_figure3(figure3, run_dir.name), out_dir / "prototype_similarity.png"))
    for tag, spectrum in diagnostics_spectra(run_dir).items():
        written.append(plot_spectrum(spectrum, out_dir / f"spectrum_{tag}.png", f"{run_dir.name} ({tag})"))
    return written


def draw_series(present: list, ylabel: str, title: str, switch: tuple | None, percent: bool = False):
    """One figure of (key, steps, values) lines; a dashed line where HaLP switched on. A short
    series (a run shorter than run.knn_every logs kNN once) is drawn as labelled points on an
    axis from step 0, so it does not read as one dot in an empty box."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    longest = max(len(steps) for _, steps, _ in present)
    for key, steps, values in present:
        line, = ax.plot(steps, values, label=key, linewidth=1.2, marker="o" if len(steps) < 30 else None,
                        markersize=7 if longest < FEW_POINTS else 4)
        if longest < FEW_POINTS:
            for step, value in zip(steps, values):
                ax.annotate(f"{value:.1f}" if percent else f"{value:.3g}", (step, value), color=line.get_color(),
                            textcoords="offset points", xytext=(6, 6))
    last_step = max(max(steps) for _, steps, _ in present)
    if longest < FEW_POINTS:
        ax.set_xlim(0, last_step * 1.1 + 1)
    if percent:
        ax.set_ylim(0, 100)
    if switch is not None and switch[0] <= last_step:
        step, epoch = switch
        ax.axvline(step, color="gray", linestyle="--", linewidth=1,
                   label=f"HaLP on (step {step}" + (f", epoch {epoch})" if epoch is not None else ")"))
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def draw_figure3(figure3: dict, name: str):
    """The supplement's Figure 3: a key and positives made from it against every prototype."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ranks = range(1, len(figure3["key"]) + 1)
    ax.plot(ranks, figure3["key"], "o-", color="tab:blue", label="key z_k")
    for i, sims in enumerate(figure3["kept"]):
        ax.plot(ranks, sims, "o--", color="tab:green", label=f"kept positive {i + 1}")
    for sims in figure3["filtered"]:
        ax.plot(ranks, sims, "o:", color="tab:red", label="filtered positive")
    ax.set_xlabel("prototype (ordered by similarity to the key)")
    ax.set_ylabel("cosine similarity")
    ax.set_title(f"{name}: similarity to prototypes (step {figure3['step']})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def check_run(run_dir: Path) -> None:
    """What make_plots reads, read once before any plot is written: a bad metrics.jsonl or
    checkpoint is one `error:` line with nothing half-drawn left behind."""
    if not (run_dir / "metrics.jsonl").is_file():
        raise UserError(run_dir / "metrics.jsonl", "file", "the metrics log of a run directory",
                        "no such file: is it a run directory?")
    read_metrics(run_dir)
    diagnostics_spectra(run_dir)
    checkpoint = run_dir / "checkpoints" / "last.pt"
    if checkpoint.is_file():
        load_checkpoint(checkpoint)


def run(args, parser: argparse.ArgumentParser) -> int:
    run_dir = args.run_dir or find_newest_run(args.runs)
    check_run(run_dir)
    if not read_metrics(run_dir) and not diagnostics_spectra(run_dir):  # a run that has not logged yet
        print(f"nothing to plot: {run_dir / 'metrics.jsonl'} holds no records yet; no plots were written")
        return 0
    written = make_plots(run_dir)
    for path in written:
        print(path)
    print(f"wrote: {len(written)} plot(s) into {run_dir / 'plots'}/")
    if not (run_dir / "eval_linear.json").is_file():
        print(f"next: sslskel eval --run {shlex.quote(str(run_dir))}   (linear probe, kNN, diagnostics)")
    else:
        print(f"next: sslskel semi --run {shlex.quote(str(run_dir))}   (fine-tuning with 1/5/10/20 % labels)")
    return 0


def main(argv=None, prog: str | None = None) -> int:
    """Exit code 0, or 2 with one `error:` line for a run directory that cannot be read."""
    parser = argparse.ArgumentParser(prog=prog, description="Plot a run's diagnostics into RUN_DIR/plots/.")
    parser.add_argument("run_dir", type=Path, nargs="?", help="a run directory (default: newest under --runs)")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="where to look for the newest run")
    return run_cli(run, parser, argv)


if __name__ == "__main__":
    sys.exit(main())
