"""Semi-supervised evaluation: label subsets, the fine-tuning protocol over fractions x seeds,
and the mean / spread of the results (CMD / HaLP protocol, docs/methods.md, Evaluation protocols).

Label subsets (`label_subset`):
* "class_balanced" (AimCLR's way, the default): every class present keeps round(f * n_c) of its
  n_c samples, at least one;
* "random" (CMD's way): round(f * N) samples (at least one) uniformly over the whole set, so a
  rare class may get none: a `LabelSubsetWarning` says how many classes got no label.
Both draw from `np.random.default_rng(seed)` and return sorted indices; fraction 1.0 is the
whole set (full fine-tuning). `round` is numpy's (half to even).

`run_semi` fine-tunes a fresh copy of the encoder for every (fraction, seed): seed s draws the
label subset AND sets the classifier init, data order and augmentations (and, for a scratch
encoder, its init). Each fine-tune is a small run directory `<out_dir>/f<fraction>_s<seed>/`
(metrics.jsonl, TensorBoard, checkpoints/last.pt, result.json): an interrupted protocol
resumes with `resume=True`, finished fine-tunes are read back, an unfinished one continues
from its checkpoint. `summarize` reports per fraction the mean and the population standard
deviation (numpy's default, ddof=0) over seeds of the final and best top-1.

With `graph_distances=True` each fine-tuned model also gets SkeletonGCL's Tab. 9 diagnostics on
the val set: the last unit's refinement graphs averaged over persons and channels and
flattened (K*V*V), then `sslskel.eval.graph_distances.graph_class_distances` (correct vs
misclassified samples; distance to the own-class centroid, to the other classes' centroids, to
all).

Example:
    >>> import numpy as np
    >>> labels = np.repeat([0, 1, 2], [10, 20, 3])
    >>> idx = label_subset(labels, 0.1, seed=0)
    >>> np.bincount(labels[idx]).tolist(), bool(np.all(np.diff(idx) > 0))
    ([1, 2, 1], True)
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:  # 3 random samples miss 2 classes
    ...     warnings.simplefilter("always")
    ...     idx = label_subset(labels, 0.1, seed=0, sampling="random")
    >>> len(idx), caught[0].category.__name__
    (3, 'LabelSubsetWarning')
    >>> rows = summarize([{"fraction": 0.1, "seed": 0, "final_top1": 50.0, "best_top1": 60.0, "seconds": 1.0},
    ...                   {"fraction": 0.1, "seed": 1, "final_top1": 54.0, "best_top1": 60.0, "seconds": 3.0}])
    >>> rows[0]["final_top1_mean"], rows[0]["final_top1_std"], rows[0]["best_top1_std"]
    (52.0, 2.0, 0.0)
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..common.device import apply_run_settings
from ..common.io import atomic_write_json
from ..engine.config import ConfigError
from ..engine.finetune import FineTuner
from ..methods.auxiliary import section_of
from ..methods.gcl import build_graph_contrast, require_graphs
from ..methods.supcon import SupervisedContrast
from .graph_distances import graph_class_distances, predict_with_graphs

SAMPLINGS = ("class_balanced", "random")


# --------------------------------------------------------------------------- label subsets

class LabelSubsetWarning(UserWarning):
    """A label subset that leaves some classes of the training set without a single label."""


def label_subset(labels, fraction: float, seed: int, sampling: str = "class_balanced") -> np.ndarray:
    """Sorted indices of the labelled subset: `fraction` of the samples (see the module doc).

    Warns (LabelSubsetWarning) when a class present in `labels` gets no label: the fine-tuned
    classifier can then never learn it (random sampling with a small fraction)."""
    labels = np.asarray(labels)
    if sampling not in SAMPLINGS:
        raise ConfigError(f"finetune.sampling: expected one of {', '.join(SAMPLINGS)}, got {sampling!r}")
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"finetune.fractions: expected numbers in (0, 1], got {fraction}")
    n = len(labels)
    if n == 0:
        raise ValueError("label_subset: no samples to draw from")
    if fraction == 1.0:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    if sampling == "random":
        index = np.sort(rng.choice(n, size=max(1, int(np.round(fraction * n))), replace=False))
    else:
        _, class_of, counts = np.unique(labels, return_inverse=True, return_counts=True)
        take = np.maximum(1, np.round(fraction * counts)).astype(np.int64)
        # a uniform random order inside each class (sort by class, then by a random key); keep
        # the first take[c] of class c: a uniform draw without replacement per class
        order = np.lexsort((rng.random(n), class_of))
        starts = np.cumsum(counts) - counts
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n) - np.repeat(starts, counts)
        index = np.flatnonzero(rank < take[class_of])
    warn_missing_classes(labels, index, fraction, seed, sampling)
    return index


def warn_missing_classes(labels: np.ndarray, index: np.ndarray, fraction: float, seed: int,
                         sampling: str) -> None:
    present = np.unique(labels)
    missing = len(present) - len(np.unique(labels[index]))
    if missing:
        warnings.warn(f"label subset fraction {fraction:g} (seed {seed}, sampling {sampling}): {missing} of "
                      f"{len(present)} classes got no label ({len(index)} labelled samples); the classifier "
                      "cannot learn them: use sampling class_balanced or a larger fraction",
                      LabelSubsetWarning, stacklevel=3)


# --------------------------------------------------------------------------- diagnostics

def graph_distance_diagnostics(tuner: FineTuner) -> dict[str, float]:
    """SkeletonGCL Tab. 9 on the val set for a fine-tuned model (see the module doc)."""
    require_graphs(tuner.encoder, "--graph-distances")
    pred = predict_with_graphs(tuner.encoder, tuner.classifier, tuner.val_loader, tuner.device,
                               tuner.cfg.run.amp)
    predictions = pred["scores"].argmax(axis=1)
    out = graph_class_distances(torch.from_numpy(pred["graphs"]), torch.from_numpy(pred["labels"]),
                                torch.from_numpy(predictions))
    out["embedding_dim"] = int(pred["graphs"].shape[1])
    return out


# --------------------------------------------------------------------------- the protocol

def result_tag(*, supervised: bool, scratch: bool, sampling: str = "", checkpoint_stem: str | None = None,
               gcl: bool = False, supcon: str | None = None) -> str:
    """The name of a fine-tuning protocol's summary (`<tag>.json`) and folder: supervised[_scratch]
    or semi[_scratch]_<sampling>, then [_<checkpoint_stem>][_gcl][_<supcon>].

    >>> result_tag(supervised=True, scratch=True, supcon="vsupcon")
    'supervised_scratch_vsupcon'
    >>> result_tag(supervised=False, scratch=False, sampling="per_class", checkpoint_stem="epoch_0100", gcl=True)
    'semi_per_class_epoch_0100_gcl'
    """
    if supervised:
        tag = "supervised_scratch" if scratch else "supervised"
    else:
        tag = ("semi_scratch" if scratch else "semi") + f"_{sampling}"
    if checkpoint_stem:
        tag += f"_{checkpoint_stem}"
    return tag + ("_gcl" if gcl else "") + (f"_{supcon}" if supcon else "")


def run_name(fraction: float, seed: int) -> str:
    return f"f{fraction:g}_s{seed}"


def run_semi(cfg, make_encoder: Callable[[int], torch.nn.Module], train_data, val_data,
             out_dir, fractions=None, seeds: int | None = None, sampling: str | None = None,
             gcl: bool = False, graph_distances: bool = False, resume: bool = False,
             keep_checkpoints: bool = True, progress: bool = True) -> list[dict]:
    """Fine-tune `make_encoder(seed)` for every fraction x seed; returns the per-run results.

    fractions / seeds / sampling default to cfg.finetune's; seed values are cfg.run.seed + i.
    `gcl` adds SkeletonGCL (cfg.gcl) to every fine-tune. Each result holds fraction, seed,
    num_labelled, seconds (wall time, evaluation included) and `finetune`'s summary.
    """
    fractions = list(cfg.finetune.fractions if fractions is None else fractions)
    seeds = cfg.finetune.seeds if seeds is None else seeds
    sampling = sampling or cfg.finetune.sampling
    if seeds < 1:
        raise ConfigError(f"finetune.seeds: expected at least 1, got {seeds}")
    runs = [(fraction, cfg.run.seed + i) for fraction in fractions for i in range(seeds)]
    for fraction, seed in runs:  # bad settings and classes without a label: said before any training
        label_subset(train_data.labels, fraction, seed, sampling)
    apply_run_settings(cfg.run)  # run.threads: two busy cores with one thread too many ran ~8x slower
    out_dir = Path(out_dir)
    results = []
    for fraction, seed in runs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LabelSubsetWarning)  # said above already
            results.append(run_one(cfg, make_encoder, train_data, val_data, out_dir / run_name(fraction, seed),
                                   fraction, seed, sampling, gcl, graph_distances, resume,
                                   keep_checkpoints, progress))
    return results


def run_one(cfg, make_encoder, train_data, val_data, run_dir: Path, fraction: float, seed: int,
            sampling: str, gcl: bool, graph_distances: bool, resume: bool,
            keep_checkpoints: bool, progress: bool) -> dict:
    done = run_dir / "result.json"
    if resume and done.is_file():
        return json.loads(done.read_text())
    if run_dir.exists() and not resume:
        raise FileExistsError(f"{run_dir}: exists from an earlier run; resume it or remove it")
    index = label_subset(train_data.labels, fraction, seed, sampling)
    subset = train_data.subset(index)
    start = time.perf_counter()
    encoder = make_encoder(seed)
    aux_losses = [build_graph_contrast(section_of(cfg, "gcl"), encoder, subset, seed=seed)] if gcl else []
    supcon = section_of(cfg, "supcon")
    if supcon.enabled:  # SupCon / VSupCon (VCL) next to cross-entropy
        aux_losses.append(SupervisedContrast(supcon, encoder.feature_dim, seed=seed))
    if graph_distances:
        require_graphs(encoder, "--graph-distances")
    tuner = FineTuner(cfg, encoder, subset, val_data, run_dir=run_dir, aux_losses=aux_losses,
                      progress=progress, log_prefix=run_name(fraction, seed), seed=seed)
    summary = tuner.fit(resume=resume and tuner.has_checkpoint())
    result = {"fraction": fraction, "seed": seed, "sampling": sampling,
              "num_labelled": int(len(index)), "gcl": gcl,
              "labelled_per_class": np.bincount(subset.labels, minlength=int(train_data.num_classes)).tolist(),
              **summary}
    if graph_distances:
        result["graph_distances"] = graph_distance_diagnostics(tuner)
    result["seconds"] = round(time.perf_counter() - start, 3)
    atomic_write_json(done, result)
    if not keep_checkpoints:
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    return result


# --------------------------------------------------------------------------- aggregation

def summarize(results: list[dict]) -> list[dict]:
    """One row per fraction (in first-seen order): seeds, mean and population std of final and
    best top-1, total seconds; graph-distance keys are averaged when present."""
    rows = []
    for fraction in dict.fromkeys(r["fraction"] for r in results):
        group = [r for r in results if r["fraction"] == fraction]
        row = {"fraction": fraction, "seeds": len(group),
               "num_labelled": [r.get("num_labelled") for r in group]}
        for key in ("final_top1", "best_top1", "final_top5", "best_top5"):
            values = np.array([r[key] for r in group if key in r], dtype=np.float64)
            if len(values):
                row[f"{key}_mean"] = float(values.mean())
                row[f"{key}_std"] = float(values.std())  # population std (ddof=0)
        row["seconds"] = float(sum(r.get("seconds", 0.0) for r in group))
        distances = [r["graph_distances"] for r in group if "graph_distances" in r]
        if distances:
            row["graph_distances"] = {k: mean_ignoring_nan([d[k] for d in distances]) for k in distances[0]}
        rows.append(row)
    return rows


def mean_ignoring_nan(values) -> float:
    """Mean over seeds of a diagnostic that is NaN for a seed with an empty group (no errors)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def format_results(rows: list[dict], title: str = "") -> str:
    """The results table: fraction, seeds, final / best top-1 as mean +- std, seconds."""
    lines = [title] if title else []
    lines.append(f"{'fraction':>8}  {'seeds':>5}  {'final top-1':>15}  {'best top-1':>15}  {'seconds':>9}")
    for row in rows:
        final = f"{row['final_top1_mean']:6.2f} ± {row['final_top1_std']:5.2f}"
        best = f"{row['best_top1_mean']:6.2f} ± {row['best_top1_std']:5.2f}"
        lines.append(f"{row['fraction']:>8g}  {row['seeds']:>5d}  {final:>15}  {best:>15}  "
                     f"{row['seconds']:9.1f}")
    return "\n".join(lines)


def format_graph_distances(rows: list[dict]) -> str:
    """Tab. 9-style lines: for correct and misclassified val samples, mean squared distances."""
    lines = []
    for row in rows:
        d = row.get("graph_distances")
        if not d:
            continue
        lines.append(f"fraction {row['fraction']:g}: graph distances to class centroids "
                     f"(correct {d['correct_count']:.0f}, misclassified {d['wrong_count']:.0f})")
        lines.append(f"  {'':>13}  {'own class':>10}  {'other classes':>13}  {'all':>10}  {'predicted':>10}")
        for group in ("correct", "wrong"):
            predicted = f"{d['wrong_dist_predicted']:10.4f}" if group == "wrong" else f"{'-':>10}"
            lines.append(f"  {('misclassified' if group == 'wrong' else 'correct'):>13}  "
                         f"{d[f'{group}_dist_own']:10.4f}  {d[f'{group}_dist_other']:13.4f}  "
                         f"{d[f'{group}_dist_all']:10.4f}  {predicted}")
    return "\n".join(lines)
