"""Tests for sslskel.cluster.spherical_kmeans (torch and geomstats backends)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sslskel.cluster import angular_inertia, fit_prototypes
from sslskel.cluster.spherical_kmeans import _kmeans_plus_plus, _update_centroids
from sslskel.data.errors import DataFormatError

torch.set_num_threads(1)


def clustered_points(n=256, d=128, clusters=20, noise=0.1, seed=0, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(clusters, d, generator=generator, dtype=torch.float64), dim=1)
    members = torch.randint(0, clusters, (n,), generator=generator)
    noise = noise * torch.randn(n, d, generator=generator, dtype=torch.float64)
    return F.normalize(centres[members] + noise, dim=1).to(dtype), centres.to(dtype)


def reference_inertia(points, prototypes):
    """Plain loop: sum over points of acos of the largest cosine, in float64."""
    total = 0.0
    for x in points.double():
        best = max(float(x @ p) for p in prototypes.double())
        total += math.acos(max(-1.0, min(1.0, best)))
    return total


def reference_lloyd_step(points, centroids):
    """Plain loop Lloyd step for one restart (no empty clusters expected)."""
    new = []
    assignment = [int(torch.argmax(centroids @ x)) for x in points]
    for j in range(centroids.shape[0]):
        members = [points[i] for i, a in enumerate(assignment) if a == j]
        total = torch.stack(members).sum(0)
        new.append(total / total.norm())
    return torch.stack(new)


def assert_unit_prototypes(prototypes, k, d):
    assert prototypes.shape == (k, d)
    assert torch.isfinite(prototypes).all()
    torch.testing.assert_close(prototypes.double().norm(dim=1), torch.ones(k, dtype=torch.float64),
                               atol=1e-5, rtol=0)


# ------------------------------------------------------------------------ building blocks


def test_angular_inertia_matches_loop_reference():
    points, centres = clustered_points(n=60, d=8, clusters=5, noise=0.2, seed=1)
    assert angular_inertia(points, centres) == pytest.approx(reference_inertia(points, centres), rel=1e-5)


def test_angular_inertia_zero_for_points_on_prototypes():
    _, centres = clustered_points(n=10, d=16, clusters=4, seed=2)
    points = centres.repeat(3, 1)
    assert angular_inertia(points, centres) == pytest.approx(0.0, abs=1e-5)


def test_lloyd_step_matches_loop_reference_for_each_restart():
    points, _ = clustered_points(n=80, d=6, clusters=4, noise=0.3, seed=3, dtype=torch.float64)
    centroids = torch.stack([points[[0, 20, 40, 60]], points[[5, 15, 25, 35]]])  # (R=2, k=4, d)
    offset = torch.arange(2).unsqueeze(1) * 4
    new, best_cos = _update_centroids(points, centroids, offset)
    for r in range(2):
        torch.testing.assert_close(new[r], reference_lloyd_step(points, centroids[r]))
        torch.testing.assert_close(best_cos[r], (points @ centroids[r].T).max(dim=1).values)


def test_empty_cluster_reseeded_from_farthest_point():
    # Two points near e1, one far point at e2; the centroid at -e1 attracts nobody.
    points = F.normalize(torch.tensor([[1.0, 0.1, 0.0], [1.0, -0.1, 0.0], [0.0, 1.0, 0.2]], dtype=torch.float64),
                         dim=1)
    centroids = torch.tensor([[[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]], dtype=torch.float64)
    new, _ = _update_centroids(points, centroids, torch.zeros(1, 1, dtype=torch.long))
    # The far point has the smallest cosine to its centroid, so the empty cluster takes it.
    torch.testing.assert_close(new[0, 1], points[2])
    expected_first = F.normalize(points.sum(0), dim=0)
    torch.testing.assert_close(new[0, 0], expected_first)


def test_kmeans_plus_plus_seeds_are_data_points_and_spread_out():
    points, _ = clustered_points(n=200, d=16, clusters=5, noise=0.01, seed=4)
    seeds = _kmeans_plus_plus(points, 5, restarts=3, generator=torch.Generator().manual_seed(0))
    assert seeds.shape == (3, 5, 16)
    # Every seed is one of the points.
    match = (seeds.reshape(-1, 16) @ points.T).max(dim=1).values
    torch.testing.assert_close(match, torch.ones(15), atol=1e-5, rtol=0)
    # Tight, far-apart clusters: weights of already-covered clusters are ~0, so the five
    # seeds of each restart land in five different clusters.
    for restart in seeds:
        similarity = restart @ restart.T - torch.eye(5) * 2
        assert similarity.max() < 0.9


# ---------------------------------------------------------------------------- public API


def test_torch_backend_recovers_well_separated_clusters():
    points, centres = clustered_points(n=256, d=32, clusters=8, noise=0.02, seed=5)
    prototypes = fit_prototypes(points, 8, backend="torch", seed=0)
    assert_unit_prototypes(prototypes, 8, 32)
    # Each true centre has a prototype within a small angle.
    closest = (centres @ prototypes.T).max(dim=1).values
    assert closest.min() > math.cos(0.1)


def test_torch_inertia_comparable_to_geomstats():
    points, _ = clustered_points(n=256, d=128, clusters=20, noise=0.1, seed=6)
    torch_inertia = angular_inertia(points, fit_prototypes(points, 20, backend="torch", seed=0))
    geomstats_inertia = angular_inertia(points, fit_prototypes(points, 20, backend="geomstats", seed=0))
    assert torch_inertia <= 1.02 * geomstats_inertia


@pytest.mark.parametrize("backend", ["torch", "geomstats"])
def test_seeded_determinism(backend):
    points, _ = clustered_points(n=120, d=16, clusters=6, noise=0.2, seed=7)
    first = fit_prototypes(points, 6, backend=backend, seed=123)
    second = fit_prototypes(points, 6, backend=backend, seed=123)
    torch.testing.assert_close(first, second, atol=0, rtol=0)
    from_generator = [fit_prototypes(points, 6, backend=backend, seed=torch.Generator().manual_seed(9))
                      for _ in range(2)]
    torch.testing.assert_close(from_generator[0], from_generator[1], atol=0, rtol=0)


def test_geomstats_backend_restores_global_rng_state():
    points, _ = clustered_points(n=60, d=8, clusters=3, noise=0.2, seed=8)
    random.seed(5)
    np.random.seed(5)
    expected = (random.random(), np.random.rand())
    random.seed(5)
    np.random.seed(5)
    fit_prototypes(points, 3, backend="geomstats", seed=0)
    assert (random.random(), np.random.rand()) == expected


@pytest.mark.parametrize("backend", ["torch", "geomstats"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_output_dtype_and_device_follow_input(backend, dtype):
    points, _ = clustered_points(n=64, d=8, clusters=4, noise=0.1, seed=9, dtype=dtype)
    prototypes = fit_prototypes(points, 4, backend=backend, seed=0)
    assert prototypes.dtype == dtype and prototypes.device == points.device
    assert torch.isfinite(prototypes.float()).all()
    atol = 2e-2 if dtype == torch.bfloat16 else 1e-5
    torch.testing.assert_close(prototypes.float().norm(dim=1), torch.ones(4), atol=atol, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("backend", ["torch", "geomstats"])
def test_cuda_input_gives_cuda_output(backend):
    points, _ = clustered_points(n=64, d=8, clusters=4, noise=0.1, seed=10)
    points = points.cuda()
    prototypes = fit_prototypes(points, 4, backend=backend, seed=torch.Generator(device="cuda").manual_seed(0))
    assert prototypes.is_cuda
    assert_unit_prototypes(prototypes.cpu(), 4, 8)


def test_duplicate_points_and_k_above_distinct_points():
    _, centres = clustered_points(n=10, d=12, clusters=3, seed=11)
    points = centres.repeat(10, 1)  # 30 points, 3 distinct
    prototypes = fit_prototypes(points, 5, backend="torch", seed=0)
    assert_unit_prototypes(prototypes, 5, 12)
    # Every distinct point is a prototype; the extra prototypes repeat some of them.
    assert angular_inertia(points, prototypes) == pytest.approx(0.0, abs=1e-4)


def test_k_above_number_of_points_and_single_point():
    points, _ = clustered_points(n=3, d=5, clusters=2, seed=12)
    assert_unit_prototypes(fit_prototypes(points, 7, seed=0), 7, 5)
    assert_unit_prototypes(fit_prototypes(points[:1], 4, seed=0), 4, 5)


def test_antipodal_members_do_not_give_nan():
    # A cluster whose members cancel out (e1 and -e1 alone) has a zero mean direction.
    points = torch.tensor([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    prototypes = fit_prototypes(points, 1, seed=0, restarts=2)
    assert_unit_prototypes(prototypes, 1, 3)


def test_bad_input_raises():
    points, _ = clustered_points(n=10, d=4, clusters=2, seed=13)
    with pytest.raises(DataFormatError, match="points"):
        fit_prototypes(points[0], 2)
    with pytest.raises(DataFormatError, match="points"):
        fit_prototypes(torch.ones(4, 3, dtype=torch.long), 2)
    # bad arguments (not bad points) are plain ValueErrors
    for kwargs, field in (({"k": 0}, "k"), ({"k": 2, "backend": "sklearn"}, "backend"),
                          ({"k": 2, "restarts": 0}, "restarts")):
        with pytest.raises(ValueError, match=field) as err:
            fit_prototypes(points, **kwargs)
        assert not isinstance(err.value, DataFormatError)
