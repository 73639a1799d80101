"""The posterior's uncertainty for variational runs (VSimCLR, VMoCo: methods with `posterior`).

`linear_eval/run.py --protocols uncertainty` (docs/methods.md, VCL). Two scores per test clip,
both "larger = more uncertain", from q(z | x) = PN(mu, diag exp(logvar)) of its centre crop:

* `mean_posterior_variance`: mean_k exp(logvar_k) (`sslskel.methods.variational`);
* `one_minus_resultant_length`: 1 - R of S = `vcl.eval_samples` samples on the sphere, drawn with
  a torch Generator seeded by `linear.seed` (R computed in float64: 1 - R is small).

What is measured (`uncertainty_study`), each per score:

1. error AUROC: positives = test clips a logistic probe (`logistic_probe_probabilities`, on
   the encoder's centre-crop features, fitted on the train split) misclassifies, with a
   percentile bootstrap 95 % interval (`bootstrap_ci`, 1000 paired resamples);
2. corruption severity: the mean score at level 0 (clean) and 5 levels of Gaussian joint noise
   (`gaussian_joint_noise`, std in the data's units) and of joint dropout (`joint_dropout`),
   and Spearman's rho over the per-sample pairs (level, score) of all 6 levels (our choice;
   rho of the 6 level means is reported too, as `rho_of_level_means`);
3. OOD AUROC (`ood_classes` given): held-out-class test clips (positives) against the
   in-distribution ones; the probe then sees in-distribution train clips only, and 1. and 2.
   use in-distribution test clips only. That pretraining excluded those classes is the user's
   promise: nothing here can check it, and the result says so.

Corruptions are drawn per clip from the dataset's generator, seeded by (seed, clip) only, so the
same clip gets the same normal draws (scaled by std) and the same uniform draws (thresholded by
p) at every level: common random numbers, the levels differ only in severity (our choice).

Example:
    >>> import numpy as np
    >>> x = np.ones((3, 4, 5, 2), np.float32); x[..., 1] = 0  # 4 frames, 5 joints, person 2 absent
    >>> y = gaussian_joint_noise(x, 2, 0.1, np.random.default_rng(0))
    >>> bool((y[:, :2, :, 0] != 1).all()), bool((y[:, 2:] == x[:, 2:]).all()), bool((y[..., 1] == 0).all())
    (True, True, True)
    >>> z = joint_dropout(x, 4, 0.5, np.random.default_rng(0))
    >>> sorted({int(v) for v in np.flatnonzero((z[..., 0] == 0).all(axis=(0, 1)))}) == sorted(
    ...     int(v) for v in np.flatnonzero(np.random.default_rng(0).random(5) < 0.5))
    True
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..common.device import autocast
from ..data.checks import check_held_out_classes
from ..data.dataset import SkeletonDataset, make_loader
from ..errors import UserError
from ..methods.variational import mean_posterior_variance, mean_resultant_length, sample_projected_normal
from .diagnostics import auroc, bootstrap_ci, logistic_probe_probabilities, spearman

SCORES = ("mean_posterior_variance", "one_minus_resultant_length")
NOISE_STDS = (0.01, 0.02, 0.05, 0.1, 0.2)  # data units (metres for NTU-style joints)
DROPOUT_PROBS = (0.1, 0.2, 0.3, 0.4, 0.5)
PRETRAINING_NOTE = ("pretraining_excluded: whether the run's data.exclude_classes left these classes out of "
                    "pretraining (if not, they are unseen by the probe only); the probe always leaves them out")


# -- corruptions -------------------------------------------------------------------------------
def gaussian_joint_noise(x: np.ndarray, num_frames: int, std: float, rng: np.random.Generator) -> np.ndarray:
    """A float32 copy of the (C, T, V, M) clip with N(0, std^2) added to every coordinate of the
    valid frames (t < num_frames) of the persons present (any non-zero coordinate there): padding
    and an absent second person stay zero (our choice: noise on joints that exist). A full
    (C, T, V, M) normal array is drawn whatever std is (common random numbers across levels)."""
    if std < 0:
        raise ValueError(f"std: expected >= 0, got {std}")
    x = np.array(x, dtype=np.float32)
    eps = rng.standard_normal(x.shape, dtype=np.float32)
    valid = x[:, :num_frames]
    present = np.flatnonzero((valid != 0).any(axis=(0, 1, 2)))
    x[:, :num_frames, :, present] += np.float32(std) * eps[:, :num_frames, :, present]
    return x


def joint_dropout(x: np.ndarray, num_frames: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """A float32 copy of the (C, T, V, M) clip with each joint zeroed, independently with
    probability p, in all frames and for every person (a joint the sensor lost; our choice). One
    uniform draw per joint, u < p drops it (so a joint dropped at p is dropped at every p' > p)."""
    if not 0 <= p <= 1:
        raise ValueError(f"p: expected a probability in [0, 1], got {p}")
    x = np.array(x, dtype=np.float32)
    drop = rng.random(x.shape[2]) < p
    x[:, :, drop, :] = 0
    return x


CORRUPTIONS: dict[str, tuple[Callable, tuple[float, ...], str]] = {
    "gaussian_noise": (gaussian_joint_noise, NOISE_STDS, "std of the noise, data units"),
    "joint_dropout": (joint_dropout, DROPOUT_PROBS, "probability of zeroing a joint"),
}


class Corrupted:
    """A transform that corrupts the raw clip first (with the dataset's per-clip generator), then
    applies `transform` (the centre crop)."""

    def __init__(self, transform, corruption: Callable, level: float):
        self.transform, self.corruption, self.level = transform, corruption, level

    def __call__(self, x, num_frames, rng=None):
        return self.transform(self.corruption(x, int(num_frames), self.level, rng), num_frames, rng)


# -- scores ------------------------------------------------------------------------------------
def require_posterior(cfg, model) -> None:
    """UserError unless `model` is a method with `posterior` (a variational run)."""
    if not hasattr(model, "posterior"):
        raise UserError("--protocol uncertainty", "method", "a run of a variational method (vsimclr, vmoco)",
                        f"a {cfg.method} run (it has no posterior q(z | x))")


@torch.no_grad()
def posterior_scores(method, data, transform, num_samples: int, seed: int = 0, batch_size: int = 256,
                     device="cpu", amp: str = "auto") -> dict[str, np.ndarray]:
    """{score name: (N,) float64} for every clip of `data` under `transform`, in eval mode. The
    posterior samples come from one Generator seeded by `seed`, the clips in order (`batch_size`
    fixed), so a call is reproducible; the dataset's per-clip generator is seeded by `seed` too."""
    device = torch.device(device)
    was_training = method.training
    method.eval()
    loader = make_loader(SkeletonDataset(data, transform, seed=seed), batch_size, shuffle=False, device=device)
    generator = torch.Generator(device=device).manual_seed(seed)
    out = {name: [] for name in SCORES}
    for batch in loader:
        with autocast(device, amp):
            mu, logvar = method.posterior(batch.views[0].to(device), batch.lengths[:, 0])
        mu, logvar = mu.double(), logvar.double()  # 1 - R is close to 0: keep its digits
        samples = sample_projected_normal(mu, logvar, generator=generator, num_samples=num_samples)
        out["mean_posterior_variance"].append(mean_posterior_variance(logvar).cpu())
        out["one_minus_resultant_length"].append((1.0 - mean_resultant_length(samples)).cpu())
    method.train(was_training)
    return {name: torch.cat(values).numpy() for name, values in out.items()}


# -- statistics --------------------------------------------------------------------------------
def auroc_with_ci(scores, positives, num: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """{"auroc", "low", "high", "level", "resamples", "skipped", "positives", "negatives"}; auroc,
    low and high are None (with a "reason") when the positives or the negatives are missing."""
    positives = np.asarray(positives, bool)
    counts = {"positives": int(positives.sum()), "negatives": int((~positives).sum())}
    if counts["positives"] == 0 or counts["negatives"] == 0:
        return {"auroc": None, "low": None, "high": None, "level": level, **counts,
                "reason": "undefined: needs both positive and negative samples"}
    ci = bootstrap_ci(auroc, np.asarray(scores, np.float64), positives, num=num, seed=seed, level=level)
    return {"auroc": ci.estimate, "low": ci.low, "high": ci.high, "level": level, "resamples": ci.num,
            "skipped": ci.skipped, **counts}


def severity_correlation(levels, level_scores) -> dict:
    """Spearman's rho of (level, score) over every sample of every level (the levels as given,
    0 first), and of the level means; {"mean": per-level means, "rho", "rho_of_level_means"}
    (None where a side is constant)."""
    if len(levels) != len(level_scores):
        raise ValueError(f"levels, level_scores: expected one array of scores per level, got "
                         f"{len(levels)} and {len(level_scores)}")
    means = [float(np.mean(s)) for s in level_scores]
    x = np.concatenate([np.full(len(s), lvl, np.float64) for lvl, s in zip(levels, level_scores)])
    y = np.concatenate([np.asarray(s, np.float64) for s in level_scores])

    def rho(a, b):
        try:
            return spearman(a, b)
        except ValueError:  # a constant score (e.g. a collapsed posterior): rho is undefined
            return None

    return {"mean": means, "rho": rho(x, y), "rho_of_level_means": rho(np.asarray(levels, np.float64), means)}


def check_ood_classes(ood_classes, train_y, test_y, num_classes: int, where: str = "--ood-classes") -> list[int]:
    """The sorted unique class ids; UserError naming `where` (the flag, or the run's
    data.exclude_classes they default to) unless each is in [0, num_classes), some class
    stays in distribution, and the test split holds a sample of them."""
    classes = check_held_out_classes(ood_classes, num_classes, train_y, where, "in distribution")
    if not np.isin(test_y, classes).any():
        raise UserError(where, "class ids", "classes with samples in the test split", str(classes))
    return classes


def uncertainty_study(method, train_x, train_y, test_x, test_y, test_data, transform, *, num_samples: int,
                      seed: int = 0, ood_classes=(), pretraining_excluded=(), num_classes: int | None = None,
                      ood_source: str = "--ood-classes", bootstrap: int = 1000,
                      noise_stds=NOISE_STDS, dropout_probs=DROPOUT_PROBS, batch_size: int = 256,
                      device="cpu", amp: str = "auto") -> dict:
    """The three measurements of the module docstring. train_x / test_x: the encoder's centre-crop
    features of the train split and of `test_data` (same order, labels train_y / test_y);
    `transform`: that centre crop (corruptions are applied before it)."""
    train_y, test_y = np.asarray(train_y, np.int64), np.asarray(test_y, np.int64)
    if len(test_y) != len(test_data):
        raise ValueError(f"test_x, test_data: expected the same clips, got {len(test_y)} and {len(test_data)}")
    if num_classes is None:
        num_classes = int(max(train_y.max(), test_y.max())) + 1
    classes = check_ood_classes(ood_classes, train_y, test_y, num_classes, ood_source) if len(ood_classes) else []
    ood = np.isin(test_y, classes)
    train_in = ~np.isin(train_y, classes)
    kw = dict(num_samples=num_samples, seed=seed, batch_size=batch_size, device=device, amp=amp)
    clean = posterior_scores(method, test_data, transform, **kw)

    probs = logistic_probe_probabilities(np.asarray(train_x)[train_in], train_y[train_in],
                                         np.asarray(test_x)[~ood], num_classes)
    errors = probs.argmax(1) != test_y[~ood]
    result = {"scores": list(SCORES), "num_samples": num_samples, "seed": seed,
              "test_samples": int((~ood).sum()),
              "probe": {"kind": "logistic (L-BFGS, features standardised), on centre-crop encoder features",
                        "train_samples": int(train_in.sum()), "top1": float(100.0 * (1 - errors.mean())),
                        "errors": int(errors.sum())},
              "clean_mean": {s: float(clean[s][~ood].mean()) for s in SCORES},
              "error_auroc": {s: auroc_with_ci(clean[s][~ood], errors, num=bootstrap, seed=seed) for s in SCORES}}

    in_data = test_data.subset(~ood) if classes else test_data
    corruption = {}
    for name, levels in (("gaussian_noise", noise_stds), ("joint_dropout", dropout_probs)):
        fn, _, unit = CORRUPTIONS[name]
        per_level = [{s: clean[s][~ood] for s in SCORES}]
        per_level += [posterior_scores(method, in_data, Corrupted(transform, fn, level), **kw) for level in levels]
        all_levels = [0.0, *map(float, levels)]
        corruption[name] = {"levels": all_levels, "unit": unit,
                            **{s: severity_correlation(all_levels, [p[s] for p in per_level]) for s in SCORES}}
    result["corruption"] = corruption
    result["rho_over"] = "per-sample (level, score) pairs of all levels, level 0 = clean"

    if classes:
        excluded = {int(c) for c in pretraining_excluded}
        result["ood"] = {"classes": classes, "pretraining_excluded": all(c in excluded for c in classes),
                         "note": PRETRAINING_NOTE, "ood_samples": int(ood.sum()),
                         **{s: auroc_with_ci(clean[s], ood, num=bootstrap, seed=seed) for s in SCORES}}
    else:
        result["ood"] = None
    return result


def format_uncertainty(result: dict) -> list[str]:
    """Table lines for an `uncertainty_study` result."""

    def auc(r):
        return "undefined" if r["auroc"] is None else f"{r['auroc']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"

    def num(v):
        return "-" if v is None else f"{v:+.3f}"

    rows = [("probe top-1 (errors)", f"{result['probe']['top1']:.2f} ({result['probe']['errors']} of "
                                     f"{result['test_samples']})")]
    for s in SCORES:
        rows.append((f"{s}: error AUROC [95% CI]", auc(result["error_auroc"][s])))
        for name, c in result["corruption"].items():
            rows.append((f"{s}: {name} rho", f"{num(c[s]['rho'])} (means "
                         + " ".join(f"{m:.4g}" for m in c[s]["mean"]) + ")"))
        if result["ood"]:
            rows.append((f"{s}: OOD AUROC [95% CI]", auc(result["ood"][s])))
    width = max(len(name) for name, _ in rows)
    return ["uncertainty"] + [f"{name:<{width}}  {value}" for name, value in rows]
