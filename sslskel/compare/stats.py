"""Statistics over seeds: mean ± population std, and paired differences with a t interval.

Each seed pairs two methods' runs (same seed, same data order for the probe), so a method's
advantage is measured on the per-seed differences d_s = A_s - B_s: their mean, a 95 %
Student-t interval mean ± t(0.975, n-1) * sd(d, ddof=1) / sqrt(n), and how many seeds agree in
sign with the mean. One seed has no spread to build an interval from: none is reported, and
the reason says so.

Example:
    >>> spread([78.0, 79.0, 80.0])["mean"], round(spread([78.0, 79.0, 80.0])["std"], 4)
    (79.0, 0.8165)
    >>> d = paired_difference({0: 80.0, 1: 82.0, 2: 81.0}, {0: 78.0, 1: 79.0, 2: 80.0})
    >>> d["mean"], round(d["low"], 3), round(d["high"], 3), d["agree"]
    (2.0, -0.484, 4.484, 3)
"""

from __future__ import annotations

import math
import statistics

ONE_SEED = "one seed: a t interval needs at least two paired differences"


def spread(values: list[float]) -> dict:
    """{"mean", "std" (population, ddof=0), "n", "values"}."""
    values = [float(v) for v in values]
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values) if len(values) > 1 else 0.0,
            "n": len(values), "values": values}


def t_interval(differences: list[float], level: float = 0.95) -> tuple[float, float]:
    """(low, high) of the Student-t interval of the mean of `differences` (n >= 2)."""
    from scipy.stats import t

    n = len(differences)
    mean = statistics.fmean(differences)
    half = t.ppf(0.5 + level / 2, n - 1) * statistics.stdev(differences) / math.sqrt(n)
    return float(mean - half), float(mean + half)


def paired_difference(method: dict, baseline: dict, level: float = 0.95) -> dict | None:
    """Paired over the seeds both have ({seed: value} each); None when they share no seed."""
    seeds = sorted(set(method) & set(baseline))
    if not seeds:
        return None
    diffs = [float(method[s]) - float(baseline[s]) for s in seeds]
    mean = statistics.fmean(diffs)
    sign = (mean > 0) - (mean < 0)
    out = {"mean": mean, "n": len(diffs), "seeds": seeds, "differences": diffs, "level": level,
           "agree": sum(((d > 0) - (d < 0)) == sign for d in diffs)}
    if len(diffs) < 2:
        return {**out, "low": None, "high": None, "no_interval": ONE_SEED}
    low, high = t_interval(diffs, level)
    return {**out, "low": low, "high": high}
