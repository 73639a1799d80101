"""Representation diagnostics: dimensional collapse, alignment / uniformity, a mutual-information
bound, and the statistics the uncertainty study needs (AUROC, Spearman, bootstrap intervals).

All linear algebra runs in float64 on the CPU; inputs may be numpy arrays or torch tensors
(any float dtype, bf16 included, any device).

- `embedding_spectrum(z)`: singular values, descending, of the covariance (1/N, centred) of the
  L2-normalised embeddings (Jing et al., ICLR 2022: a collapsed dimension is a ~0 value);
  `effective_rank(s) = exp(H(p))`, p = s / sum(s), natural log (Roy and Vetterli 2007).
- `alignment(z1, z2, alpha)`: E ||f(x) - f(y)||^alpha over positive pairs; `uniformity(z, t)`:
  log E exp(-t ||f(x) - f(y)||^2) over distinct pairs (Wang and Isola 2020), both on
  L2-normalised embeddings; uniformity is exact on up to `max_samples` rows, on a seeded
  subset of that many rows beyond.
- `mutual_information_bound(...)`: Barber-Agakov, I(Z; Y) >= H(Y) - CE, with H(Y) the entropy of
  the test labels and CE the held-out cross-entropy of a logistic-regression probe.
- `auroc`, `spearman`, `bootstrap_ci`; `plot_spectrum` (needs matplotlib).
- `representation_diagnostics(...)`: all of the first three from the features of a run (what
  `linear_eval/run.py --protocols diagnostics` reports), `format_diagnostics` its table lines.

Example:
    >>> import numpy as np
    >>> z = np.repeat(np.eye(4), 2, axis=0) * np.array([[1.0], [-1.0]] * 4)  # +-e_k, 4 directions
    >>> np.round(embedding_spectrum(z), 3).tolist(), round(effective_rank(embedding_spectrum(z)), 3)
    ([0.25, 0.25, 0.25, 0.25], 4.0)
    >>> round(alignment(z, z), 3), round(uniformity(np.array([[1.0, 0], [-1, 0]])), 3)
    (0.0, -8.0)
    >>> auroc([0.9, 0.5, 0.5, 0.1], [True, True, False, False]), spearman([1, 2, 3], [1, 3, 2])
    (0.875, 0.5)
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch

from .baselines import fit_logistic

LOG2 = math.log(2.0)


def as_float64(x, name: str = "x") -> np.ndarray:
    """`x` (numpy or torch, any float dtype / device) as a float64 numpy array; non-finite values refused."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()  # bf16 has no numpy dtype: cast in torch
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: expected finite values, got {int((~np.isfinite(x)).sum())} NaN / inf")
    return x


def _matrix(z, name: str, min_rows: int = 1) -> np.ndarray:
    z = as_float64(z, name)
    if z.ndim != 2 or len(z) < min_rows:
        raise ValueError(f"{name}: expected an (N, D) array with N >= {min_rows}, got shape {z.shape}")
    return z


def l2_normalize(z) -> np.ndarray:
    """Rows scaled to unit norm (a zero row stays zero, as torch's F.normalize does)."""
    z = _matrix(z, "z")
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


# -- dimensional collapse ---------------------------------------------------------------------------
def embedding_spectrum(z, normalize: bool = True) -> np.ndarray:
    """(D,) singular values, descending, of C = 1/N sum_i (z_i - mean)(z_i - mean)^T.

    `normalize`: L2-normalise the rows first (Jing et al.; the default). C is symmetric positive
    semi-definite, so its singular values are its eigenvalues; svd is used for its stability."""
    z = l2_normalize(z) if normalize else _matrix(z, "z")
    centred = z - z.mean(0, keepdims=True)
    covariance = centred.T @ centred / len(z)  # 1/N, as Jing et al. (not 1/(N-1))
    return np.linalg.svd(covariance, compute_uv=False)


def effective_rank(singular_values) -> float:
    """exp(H(p)), p = s / sum(s), H in nats; zero values contribute 0 (0 log 0 = 0). Between 1
    (one direction) and the number of nonzero values (all equal)."""
    s = as_float64(singular_values, "singular_values").reshape(-1)
    if (s < 0).any() or s.sum() <= 0:
        raise ValueError(f"singular_values: expected non-negative values with a positive sum, got {s[:8]}")
    p = s / s.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


# -- alignment and uniformity -----------------------------------------------------------------------
def alignment(z1, z2, alpha: float = 2.0) -> float:
    """E ||f(x) - f(y)||_2^alpha over the positive pairs (z1[i], z2[i]), rows L2-normalised."""
    a, b = l2_normalize(z1), l2_normalize(z2)
    if a.shape != b.shape:
        raise ValueError(f"z1, z2: expected the same shape (row i of both: one clip), got {a.shape}, {b.shape}")
    if alpha <= 0:
        raise ValueError(f"alpha: expected > 0, got {alpha}")
    return float((np.linalg.norm(a - b, axis=1) ** alpha).mean())


def uniformity(z, t: float = 2.0, max_samples: int = 4096, seed: int = 0) -> float:
    """log E exp(-t ||f(x) - f(y)||^2) over the N(N-1)/2 distinct pairs, rows L2-normalised.

    Exact (every pair) for N <= `max_samples`; beyond, on `max_samples` rows drawn without
    replacement by a numpy Generator seeded with `seed` (4096 rows: 8.4 M pairs), so the value is
    reproducible. The log-mean-exp is computed with logsumexp, stable for large t."""
    z = l2_normalize(_matrix(z, "z", min_rows=2))
    if t <= 0:
        raise ValueError(f"t: expected > 0, got {t}")
    if len(z) > max_samples:
        z = z[np.sort(np.random.default_rng(seed).choice(len(z), max_samples, replace=False))]
    squared = torch.pdist(torch.from_numpy(z)).pow(2)  # the distinct pairs i < j, float64
    return float(torch.logsumexp(-t * squared, 0) - math.log(len(squared)))


# -- mutual information with the labels -------------------------------------------------------------
def logistic_probe_probabilities(train_x, train_y, test_x, num_classes: int | None = None,
                                 weight_decay: float = 1e-3, max_iter: int = 500) -> np.ndarray:
    """(N_test, K) class probabilities of L2-regularised multinomial logistic regression on
    features standardised by the training split, fitted full batch with L-BFGS: the probe of
    `sslskel.eval.baselines.logistic_floor` (both fit with `fit_logistic`; this one standardises
    in fp64 and returns probabilities)."""
    train_x, test_x = _matrix(train_x, "train_x"), _matrix(test_x, "test_x")
    train_y = np.asarray(train_y, np.int64)
    num_classes = int(train_y.max()) + 1 if num_classes is None else num_classes
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    xtr, xte = torch.from_numpy((train_x - mean) / std), torch.from_numpy((test_x - mean) / std)
    weight, bias = fit_logistic(xtr, torch.from_numpy(train_y), num_classes, weight_decay, max_iter)
    with torch.no_grad():
        return torch.softmax(xte @ weight + bias, 1).numpy()


def label_entropy(labels) -> float:
    """Entropy (nats) of the empirical distribution of `labels`."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def mutual_information_bound(train_x, train_y, test_x, test_y, weight_decay: float = 1e-3,
                             max_iter: int = 500) -> dict:
    """Barber-Agakov: I(Z; Y) >= H(Y) - CE, both on the test split.

    CE = E_test[-log q(y | z)] >= H(Y | Z) for any probe q, hence the bound; q is the logistic
    probe fitted on (train_x, train_y). H(Y) is the test labels' empirical entropy. A poor or
    overconfident probe makes the bound loose, even negative; it never overstates I(Z; Y) beyond
    the estimation error of the two test-set averages. Probabilities are floored at 1e-12 so one
    hopeless test sample costs at most 27.6 nats, not infinity."""
    train_y, test_y = np.asarray(train_y, np.int64), np.asarray(test_y, np.int64)
    if len(train_y) != len(_matrix(train_x, "train_x")) or len(test_y) != len(_matrix(test_x, "test_x")):
        raise ValueError("train_y, test_y: expected one label per row of train_x, test_x")
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    probs = logistic_probe_probabilities(train_x, train_y, test_x, num_classes, weight_decay, max_iter)
    cross_entropy = float(-np.log(np.maximum(probs[np.arange(len(test_y)), test_y], 1e-12)).mean())
    entropy = label_entropy(test_y)
    bound = entropy - cross_entropy
    return {"entropy_nats": entropy, "cross_entropy_nats": cross_entropy, "bound_nats": bound,
            "entropy_bits": entropy / LOG2, "cross_entropy_bits": cross_entropy / LOG2,
            "bound_bits": bound / LOG2,
            "probe_top1": float(100.0 * (probs.argmax(1) == test_y).mean()),
            "train_samples": len(train_y), "test_samples": len(test_y)}


# -- statistics for the uncertainty study -----------------------------------------------------------
def rank_average(x) -> np.ndarray:
    """1-based ranks of a 1-D array, tied values sharing the mean of their ranks."""
    x = as_float64(x, "x").reshape(-1)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    bounds = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1], True])  # where each run of ties starts
    starts, ends = bounds[:-1], bounds[1:]
    ranks = np.empty(len(x))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)  # mean of ranks start+1..end
    return ranks


def auroc(scores, positives) -> float:
    """Area under the ROC curve of `scores` for the boolean `positives`: the probability that a
    positive scores above a negative, a tie counting 1/2 (Mann-Whitney U / (n_pos n_neg))."""
    scores = as_float64(scores, "scores").reshape(-1)
    positives = np.asarray(positives).reshape(-1)
    if positives.dtype != bool:
        if not np.isin(positives, (0, 1)).all():
            raise ValueError("positives: expected booleans (or 0 / 1)")
        positives = positives.astype(bool)
    if len(positives) != len(scores):
        raise ValueError(f"scores, positives: expected the same length, got {len(scores)}, {len(positives)}")
    n_pos = int(positives.sum())
    n_neg = len(positives) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"positives: AUROC needs both classes, got {n_pos} positive and {n_neg} "
                         "negative samples")
    ranks = rank_average(scores)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def spearman(x, y) -> float:
    """Spearman's rho: Pearson correlation of the average ranks (ties share their mean rank)."""
    rx, ry = rank_average(x), rank_average(y)
    if len(rx) != len(ry) or len(rx) < 2:
        raise ValueError(f"x, y: expected two arrays of the same length >= 2, got {len(rx)}, {len(ry)}")
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = math.sqrt((rx ** 2).sum() * (ry ** 2).sum())
    if denominator == 0:
        raise ValueError("x, y: Spearman's rho is undefined when one of them is constant")
    return float((rx * ry).sum() / denominator)


class BootstrapCI(NamedTuple):
    estimate: float  # the metric on the samples themselves
    low: float
    high: float
    level: float
    num: int  # resamples the interval rests on
    skipped: int  # resamples on which the metric was undefined (ValueError), left out


def bootstrap_ci(metric: Callable[..., float], *arrays, num: int = 1000, seed: int = 0,
                 level: float = 0.95) -> BootstrapCI:
    """Percentile bootstrap interval of `metric(*arrays)`: `num` resamples of the N samples with
    replacement, the same indices for every array (paired), drawn by a Generator seeded with
    `seed`. A resample where the metric raises ValueError (an AUROC resample with one class
    only) is skipped and counted in `skipped`."""
    if not arrays:
        raise ValueError("arrays: expected at least one array to resample")
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"arrays: expected the same number of samples in each, got {sorted(lengths)}")
    if not 0 < level < 1 or num < 1:
        raise ValueError(f"level, num: expected 0 < level < 1 and num >= 1, got {level}, {num}")
    arrays = [a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a) for a in arrays]
    estimate = float(metric(*arrays))
    n = lengths.pop()
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num):
        index = rng.integers(0, n, n)
        try:
            values.append(float(metric(*(a[index] for a in arrays))))
        except ValueError:
            continue
    if not values:
        raise ValueError("metric: undefined on every bootstrap resample")
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return BootstrapCI(estimate, float(low), float(high), level, len(values), num - len(values))


# -- a run's diagnostics ---------------------------------------------------------------------------
def representation_diagnostics(train_x, train_y, test_x, test_y, view1, view2,
                               uniformity_samples: int = 4096, seed: int = 0) -> dict:
    """Spectrum and effective rank, uniformity (of `test_x`), alignment (of the positive pairs
    `view1[i]`, `view2[i]`) and the mutual-information bound (probe fitted on train, tested on test)."""
    spectrum = embedding_spectrum(test_x)
    return {"samples": len(test_x), "feature_dim": int(np.shape(test_x)[1]),
            "effective_rank": effective_rank(spectrum), "spectrum": spectrum.tolist(),
            "alignment": alignment(view1, view2, alpha=2.0),
            "uniformity": uniformity(test_x, t=2.0, max_samples=uniformity_samples, seed=seed),
            "mutual_information": mutual_information_bound(train_x, train_y, test_x, test_y)}


def format_diagnostics(result: dict) -> list[str]:
    """Table lines for a `representation_diagnostics` result."""
    mi = result["mutual_information"]
    rows = [("effective rank", f"{result['effective_rank']:.2f} of {result['feature_dim']} "
                               f"(n={result['samples']})"),
            ("alignment (alpha=2, lower: closer)", f"{result['alignment']:.4f}"),
            ("uniformity (t=2, lower: more uniform)", f"{result['uniformity']:.4f}"),
            ("MI bound H(Y) - CE", f"{mi['bound_nats']:.3f} nats = {mi['bound_bits']:.3f} bits "
                                   f"(H(Y) {mi['entropy_nats']:.3f}, CE {mi['cross_entropy_nats']:.3f} nats)")]
    width = max(len(name) for name, _ in rows)
    return ["diagnostics"] + [f"{name:<{width}}  {value}" for name, value in rows]


# -- plot ----------------------------------------------------------------------------------------
def plot_spectrum(singular_values, path: str | Path, title: str = "") -> Path | None:
    """The spectrum on a log scale against its index, saved as a PNG at `path`; None (with a
    warning) when matplotlib is missing. Zero values are drawn at 1e-15 of the largest, the
    floor of float64 round-off, so a collapsed tail stays visible."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        warnings.warn(f"{path}: not drawn: the spectrum plot needs matplotlib (pip install 'sslskel[plots]')")
        return None
    s = as_float64(singular_values, "singular_values").reshape(-1)
    floor = max(float(s.max()) * 1e-15, np.finfo(np.float64).tiny)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogy(np.arange(1, len(s) + 1), np.maximum(s, floor), "o-", markersize=2, linewidth=1.2)
    ax.set_xlabel("singular value index")
    ax.set_ylabel("singular value (log)")
    ax.set_title(f"{title + ': ' if title else ''}effective rank {effective_rank(s):.2f} of {len(s)}")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")  # a viewer never sees half a PNG
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path
