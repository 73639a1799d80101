"""k-means on the unit hypersphere: HaLP's prototypes.

HaLP (CVPR 2023, supplement F) clusters the 256 most recently enqueued MoCo keys into
k prototypes with geomstats' Riemannian k-means (tolerance 1e-3, k-means++ seeding,
Frechet means by gradient descent with initial step size 1.0). ``fit_prototypes`` offers
two interchangeable backends behind one call:

- ``backend="geomstats"``: the paper's tool, ``RiemannianKMeans`` on ``Hypersphere(d-1)``.
  It runs on numpy, so the points go to the CPU as float64 and the prototypes come back
  to the points' device and dtype. geomstats is imported lazily (it is slow to import and
  picks a global backend; it must be its default numpy backend here).
- ``backend="torch"`` (default): our own spherical k-means, batched over restarts as one
  (R, n, d) problem on the points' device. k-means++ seeding on the cosine distance
  1 - cos, assignment by largest cosine, centroid = normalised mean of the members.

Deviations from the paper (both documented choices, not bugs):

- The torch backend's centroid is the normalised arithmetic mean (the "mean direction",
  the maximiser of the summed cosine) instead of the Frechet mean (the minimiser of the
  summed squared geodesic distance). For the tight clusters of a MoCo queue the two are
  within a small fraction of the cluster spread; the benchmark compares the resulting
  angular inertia with geomstats'.
- The torch backend stops when the mean angle moved by the centroids (largest over
  restarts) falls below ``tol``, checked every iteration on the CPU and every
  ``_CHECK_EVERY_ACCELERATOR`` iterations on an accelerator (the check synchronises with
  the host); geomstats checks the same quantity every iteration.
- The torch backend runs ``restarts`` seedings at once (default 4) and keeps the one with
  the lowest angular inertia; the geomstats backend defaults to one run, as the paper did.
- An empty cluster (or one whose members cancel out) is re-seeded from the point
  farthest from its prototype (the j-th empty cluster of a restart takes the j-th
  farthest point); geomstats re-seeds from a uniformly random point.
- geomstats' k-means++ needs at least k distinct points (its sampling weights become
  0/0 otherwise); the torch backend handles k > distinct points by repeating prototypes.
- Input points are re-normalised (a no-op for unit keys); prototypes are unit-norm.

Precision: both backends compute in at least float32 (float64 stays float64) with autocast
disabled, so a caller under bf16 autocast (HaLP's training step) gets the same prototypes as
without it: autocast would otherwise run every assignment GEMM in bf16 even on float32 points.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> centres = torch.nn.functional.normalize(torch.randn(4, 16, generator=g), dim=1)
    >>> pts = centres.repeat_interleave(32, 0) + 0.05 * torch.randn(128, 16, generator=g)
    >>> pts = torch.nn.functional.normalize(pts, dim=1)
    >>> protos = fit_prototypes(pts, k=4, seed=0)
    >>> protos.shape, bool(torch.allclose(protos.norm(dim=1), torch.ones(4)))
    (torch.Size([4, 16]), True)
    >>> angular_inertia(pts, protos) < angular_inertia(pts, protos[:1])
    True
"""

from __future__ import annotations

import random
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F

from sslskel.data.errors import DataFormatError

__all__ = ["fit_prototypes", "angular_inertia", "BACKENDS"]

BACKENDS = ("torch", "geomstats")
_DEFAULT_RESTARTS = {"torch": 3, "geomstats": 1}  # torch: as HalpConfig.kmeans_restarts
# On an accelerator the convergence check (a host synchronisation) runs only every few
# iterations; on the CPU it costs nothing, so it runs every iteration there.
_CHECK_EVERY_ACCELERATOR = 4
# Norms below this are treated as zero (empty clusters, members that cancel out).
_TINY_NORM = 1e-12
# Added to k-means++ sampling weights so that all-zero rows become a uniform draw.
_WEIGHT_FLOOR = 1e-20
# Up to this many points k-means++ precomputes all pairwise distances (64 MiB in float32).
_MAX_PAIRWISE = 4096


# ----------------------------------------------------------------------------- helpers


def _no_autocast(device: torch.device):
    """Autocast off on ``device``'s type: an enclosing bf16 autocast would recast the matmuls to bf16."""
    return torch.autocast(device_type=device.type, enabled=False)


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; half types and float32 compute in float32."""
    return torch.promote_types(dtype, torch.float32)


def _check_points(points: torch.Tensor, k: int, where: str) -> None:
    if not isinstance(points, torch.Tensor) or points.dim() != 2 or points.shape[0] < 1:
        got = f"shape {tuple(points.shape)}" if isinstance(points, torch.Tensor) else type(points).__name__
        raise DataFormatError(where, "points", "a 2-D (n, d) tensor with n >= 1", got)
    if not points.is_floating_point():
        raise DataFormatError(where, "points", "a floating point tensor", str(points.dtype))
    if int(k) < 1:
        raise ValueError(f"{where}: k: expected an integer >= 1, got {k}")


def _make_generator(seed: int | torch.Generator | None, device: torch.device) -> torch.Generator:
    """A generator to draw from; an int seeds a fresh one on ``device``."""
    if isinstance(seed, torch.Generator):
        return seed
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    return generator


def _uniform(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """U[0, 1) draws from ``generator`` (on its own device), delivered on ``device``."""
    draws = torch.rand(shape, generator=generator, device=generator.device)
    return draws.to(device, non_blocking=True)


def _nearest_angle(points: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """Angle from each point to its nearest prototype, (n,).

    points (n, d), prototypes (k, d), both unit-norm. The angle is computed as
    2 asin(|x - p| / 2), which unlike acos(cos) stays accurate for nearly equal vectors.
    """
    nearest = (points @ prototypes.T).argmax(dim=-1)
    chosen = prototypes[nearest]
    half_chord = (points - chosen).norm(dim=-1) / 2
    return 2 * torch.asin(half_chord.clamp(0.0, 1.0))


def angular_inertia(points: torch.Tensor, prototypes: torch.Tensor) -> float:
    """Sum over points of the geodesic angle (radians) to the nearest prototype.

    In at least float32 with autocast off (module docstring, Precision).
    """
    dtype = _compute_dtype(points.dtype)
    with torch.no_grad(), _no_autocast(points.device):
        pts = F.normalize(points.to(dtype), dim=-1)
        protos = F.normalize(prototypes.to(device=pts.device, dtype=dtype), dim=-1)
        return float(_nearest_angle(pts, protos).sum())


# ------------------------------------------------------------------------ torch backend


def _pick_by_weight(weights: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """One index per row drawn with probability proportional to ``weights`` (R, n).

    Inverse-CDF sampling with pre-drawn uniforms keeps the draw on the device. A tiny
    floor on the weights makes rows that are all zero (every point already a seed:
    k > distinct points) a uniform choice without a branch.
    """
    cumulative = (weights + _WEIGHT_FLOOR).cumsum(dim=1)
    targets = uniforms.unsqueeze(1) * cumulative[:, -1:]
    index = torch.searchsorted(cumulative, targets, right=True).squeeze(1)
    return index.clamp_(max=weights.shape[1] - 1)


def _kmeans_plus_plus(points: torch.Tensor, k: int, restarts: int, generator: torch.Generator) -> torch.Tensor:
    """k-means++ seeds on the cosine distance 1 - cos for ``restarts`` runs, (R, k, d)."""
    n = points.shape[0]
    uniforms = _uniform((restarts, k), generator, points.device)
    # For queue-sized inputs all pairwise distances fit easily: one GEMM instead of k.
    pairwise = (1 - points @ points.T).clamp_(min=0) if n <= _MAX_PAIRWISE else None

    def distances_to(index: torch.Tensor) -> torch.Tensor:
        if pairwise is not None:
            return pairwise[index]
        return (1 - points[index] @ points.T).clamp_(min=0)

    seed_index = [(uniforms[:, 0] * n).long().clamp_(max=n - 1)]
    nearest_dist = distances_to(seed_index[0])  # (R, n): to the nearest seed so far
    for j in range(1, k):
        seed_index.append(_pick_by_weight(nearest_dist, uniforms[:, j]))
        if j < k - 1:
            nearest_dist = torch.minimum(nearest_dist, distances_to(seed_index[-1]))
    return points[torch.stack(seed_index, dim=1)]


def _update_centroids(points: torch.Tensor, centroids: torch.Tensor,
                      restart_offset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One Lloyd step for all restarts: assign by largest cosine, take mean directions.

    points (n, d), centroids (R, k, d), restart_offset (R, 1) = r * k -> new centroids
    (R, k, d) and each point's cosine to its centroid before the step (R, n). Clusters
    left empty (or whose members cancel out) take the points farthest from their centroid.
    """
    restarts, k, d = centroids.shape
    n = points.shape[0]
    # One (n, R*k) GEMM instead of R small ones.
    cos = (points @ centroids.reshape(restarts * k, d).T).view(n, restarts, k)
    best_cos, assignment = cos.max(dim=2)
    best_cos = best_cos.T  # (R, n)
    # Membership matrix (R*k, n) so that all cluster sums are one more GEMM.
    membership = points.new_zeros(restarts * k, n).scatter_(0, assignment.T + restart_offset, 1.0)
    sums = (membership @ points).view(restarts, k, d)
    norms = sums.norm(dim=2, keepdim=True)
    empty = norms <= _TINY_NORM  # (R, k, 1)
    new_centroids = sums / norms.clamp_min(_TINY_NORM)
    # The j-th empty cluster of a restart gets that restart's j-th farthest point.
    num_far = min(k, n)
    farthest_first = best_cos.topk(num_far, dim=1, largest=False).indices  # (R, num_far)
    empty_rank = (empty.squeeze(2).cumsum(dim=1) - 1).clamp_(min=0, max=num_far - 1)
    reseed = points[torch.gather(farthest_first, 1, empty_rank)]  # (R, k, d)
    return torch.where(empty, reseed, new_centroids), best_cos


def _mean_shift_angle(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """Largest over restarts of the mean angle the centroids moved, 0-d tensor."""
    half_chord = (old - new).norm(dim=2) / 2
    return (2 * torch.asin(half_chord.clamp(0.0, 1.0))).mean(dim=1).max()


def _fit_torch(points: torch.Tensor, k: int, generator: torch.Generator, max_iter: int, tol: float,
               restarts: int) -> torch.Tensor:
    centroids = _kmeans_plus_plus(points, k, restarts, generator)
    restart_offset = torch.arange(restarts, device=points.device).unsqueeze(1) * k
    check_every = 1 if points.device.type == "cpu" else _CHECK_EVERY_ACCELERATOR
    for iteration in range(1, max_iter + 1):
        previous = centroids
        centroids, best_cos = _update_centroids(points, centroids, restart_offset)
        if iteration % check_every == 0 and bool(_mean_shift_angle(previous, centroids) < tol):
            break
    # Restarts are ranked by the angular inertia of their last assignment (centroids
    # moved less than tol since), which saves a further pass over the points.
    inertia = torch.acos(best_cos.clamp(-1.0, 1.0)).sum(dim=1)
    return centroids[inertia.argmin()]


# -------------------------------------------------------------------- geomstats backend


@contextmanager
def _seeded_global_rngs(seed: int):
    """geomstats draws from ``random`` and numpy's global RNG: seed both, then restore."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def _fit_geomstats(points: torch.Tensor, k: int, seed: int, max_iter: int, tol: float,
                   restarts: int) -> torch.Tensor:
    import geomstats.backend as gs
    from geomstats.geometry.hypersphere import Hypersphere
    from geomstats.learning.kmeans import RiemannianKMeans

    data = points.detach().to("cpu", torch.float64).numpy()
    space = Hypersphere(dim=data.shape[1] - 1)
    best, best_inertia = None, float("inf")
    # the CPU float64 torch ops below are autocast-proof already; CPU autocast off makes it explicit
    with _seeded_global_rngs(seed), _no_autocast(torch.device("cpu")):
        for _ in range(restarts):
            model = RiemannianKMeans(space, n_clusters=k, init="kmeans++", tol=tol, max_iter=max_iter)
            # The paper's setting; geomstats 2.8 already uses it, set it so a change shows.
            model.mean_estimator.set(init_step_size=1.0)
            model.fit(gs.array(data))
            centres = torch.from_numpy(np.asarray(gs.to_numpy(model.cluster_centers_), dtype=np.float64))
            centres = F.normalize(centres, dim=1)
            inertia = float(_nearest_angle(torch.from_numpy(data), centres).sum())
            if inertia < best_inertia:
                best, best_inertia = centres, inertia
    return best


# --------------------------------------------------------------------------- public API


def fit_prototypes(points: torch.Tensor, k: int, backend: str = "torch",
                   seed: int | torch.Generator | None = 0, max_iter: int = 100, tol: float = 1e-3,
                   restarts: int | None = None) -> torch.Tensor:
    """Cluster unit vectors on the hypersphere; return k unit-norm prototypes (k, d).

    Args:
        points: (n, d) unit-norm vectors (re-normalised here); any float dtype and device.
        k: number of prototypes. k > n (or > distinct points) gives repeated prototypes.
        backend: "torch" (batched, on the points' device) or "geomstats" (the paper's,
            CPU numpy float64).
        seed: int or torch.Generator (torch backend: used on its own device; geomstats:
            an int seed is drawn from it). None draws a fresh seed.
        max_iter: largest number of Lloyd / Riemannian k-means iterations.
        tol: stop when the centroids move by less than this mean angle (radians).
        restarts: seedings tried, keeping the lowest angular inertia; None = backend
            default (torch 3, geomstats 1 as in the paper).

    Returns:
        (k, d) unit-norm prototypes on ``points.device`` with ``points.dtype``, computed in at
        least float32 with autocast off (module docstring, Precision): float32 points give
        float32 prototypes identical to those fitted without autocast.
    """
    where = "fit_prototypes"
    _check_points(points, k, where)
    if backend not in BACKENDS:
        raise ValueError(f"{where}: backend: expected one of {BACKENDS}, got {backend!r}")
    restarts = _DEFAULT_RESTARTS[backend] if restarts is None else int(restarts)
    if restarts < 1 or int(max_iter) < 1:
        raise ValueError(f"{where}: restarts/max_iter: expected integers >= 1, got {restarts}/{max_iter}")
    k = int(k)
    with torch.no_grad(), _no_autocast(points.device):
        unit = F.normalize(points.detach().to(_compute_dtype(points.dtype)), dim=1)
        if backend == "torch":
            generator = _make_generator(seed, unit.device)
            prototypes = _fit_torch(unit, k, generator, int(max_iter), float(tol), restarts)
        else:
            if isinstance(seed, torch.Generator):
                seed = int(torch.randint(0, 2**31 - 1, (1,), generator=seed, device=seed.device))
            elif seed is None:
                seed = random.SystemRandom().randrange(2**31 - 1)
            prototypes = _fit_geomstats(unit, k, int(seed), int(max_iter), float(tol), restarts)
    return prototypes.to(device=points.device, dtype=points.dtype)
