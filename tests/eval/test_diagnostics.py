"""Representation diagnostics against hand computations and plain loops."""

import itertools
import math

import numpy as np
import pytest
import torch

from sslskel.eval.diagnostics import (
    alignment,
    auroc,
    bootstrap_ci,
    effective_rank,
    embedding_spectrum,
    label_entropy,
    mutual_information_bound,
    plot_spectrum,
    rank_average,
    spearman,
    uniformity,
)


def random_rotation(d, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def test_spectrum_and_effective_rank_of_a_known_spectrum():
    # +-e_k repeated n_k times each, n = [4, 2, 1, 1] * 3: unit rows, mean 0, covariance diag(2 n_k / N)
    rows = [sign * np.eye(6)[k] for k, n in enumerate([12, 6, 3, 3]) for _ in range(n) for sign in (1, -1)]
    z = 5.0 * np.array(rows) @ random_rotation(6, 0)  # any scale (normalised away), any rotation
    s = embedding_spectrum(z)
    np.testing.assert_allclose(s, np.array([4, 2, 1, 1, 0, 0]) / 8, atol=1e-12)
    assert effective_rank(s) == pytest.approx(2 ** 1.75)  # H = 1.75 ln 2
    assert effective_rank([3.0, 3.0, 3.0, 0.0]) == pytest.approx(3.0)
    assert effective_rank([1.0, 0.0]) == pytest.approx(1.0)


def test_unnormalised_spectrum_and_torch_bf16_inputs():
    rng = np.random.default_rng(1)
    n = 64
    u = rng.normal(size=(n, 4))
    u, _ = np.linalg.qr(u - u.mean(0))  # orthonormal columns orthogonal to the ones vector: centred
    values = np.array([4.0, 2.0, 1.0, 1.0])
    z = math.sqrt(n) * u * np.sqrt(values) @ random_rotation(4, 2)
    np.testing.assert_allclose(embedding_spectrum(z, normalize=False), values, atol=1e-9)
    as_bf16 = torch.from_numpy(z).bfloat16()
    assert embedding_spectrum(as_bf16).dtype == np.float64
    with pytest.raises(ValueError, match="positive sum"):
        effective_rank([0.0, 0.0])


def test_alignment_and_uniformity_against_double_loops():
    rng = np.random.default_rng(3)
    z1, z2 = rng.normal(size=(9, 5)), rng.normal(size=(9, 5))
    n1 = z1 / np.linalg.norm(z1, axis=1, keepdims=True)
    n2 = z2 / np.linalg.norm(z2, axis=1, keepdims=True)
    for alpha in (1.0, 2.0):
        expected = np.mean([np.linalg.norm(n1[i] - n2[i]) ** alpha for i in range(9)])
        assert alignment(z1, z2, alpha) == pytest.approx(expected)
    for t in (0.5, 2.0):
        pairs = [math.exp(-t * np.sum((n1[i] - n1[j]) ** 2)) for i, j in itertools.combinations(range(9), 2)]
        assert uniformity(z1, t) == pytest.approx(math.log(np.mean(pairs)))
    # beyond max_samples: a seeded subset of rows, reproducible, equal to the exact value on that subset
    assert uniformity(z1, max_samples=5, seed=7) == uniformity(z1, max_samples=5, seed=7)
    subset = np.sort(np.random.default_rng(7).choice(9, 5, replace=False))
    assert uniformity(z1, max_samples=5, seed=7) == pytest.approx(uniformity(z1[subset]))


def test_auroc_with_ties_by_hand_and_by_pair_counting():
    scores = [0.8, 0.4, 0.4, 0.4, 0.1, 0.9]
    positives = [True, True, False, False, True, False]
    # positives 0.8, 0.4, 0.1 against negatives 0.4, 0.4, 0.9:
    # 0.8 beats two (2), 0.4 ties two (1), 0.1 beats none (0): 3 of 9
    assert auroc(scores, positives) == pytest.approx(3 / 9)
    rng = np.random.default_rng(0)
    s = rng.integers(0, 5, 40).astype(float)  # many ties
    p = rng.random(40) < 0.4
    pairs = [(a > b) + 0.5 * (a == b) for a in s[p] for b in s[~p]]
    assert auroc(s, p) == pytest.approx(np.mean(pairs))
    assert auroc(s, p.astype(int)) == auroc(s, p)
    with pytest.raises(ValueError, match="both classes, got 0 positive"):
        auroc([0.1, 0.2], [False, False])


def test_spearman_with_ties_by_hand():
    assert rank_average([10, 20, 20, 30]).tolist() == [1.0, 2.5, 2.5, 4.0]
    # ranks x: 1, 2.5, 2.5, 4; y: 1, 2, 3, 4 -> centred (-1.5, 0, 0, 1.5), (-1.5, -0.5, 0.5, 1.5)
    # rho = 4.5 / sqrt(4.5 * 5)
    assert spearman([10, 20, 20, 30], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="constant"):
        spearman([1, 1, 1], [1, 2, 3])


def test_bootstrap_interval_contains_the_estimate_and_is_seeded():
    rng = np.random.default_rng(5)
    scores, positives = rng.normal(size=60), rng.random(60) < 0.5
    scores[positives] += 1.0
    ci = bootstrap_ci(auroc, scores, positives, num=300, seed=1)
    assert ci.low <= ci.estimate <= ci.high and ci.estimate == auroc(scores, positives)
    assert ci == bootstrap_ci(auroc, scores, positives, num=300, seed=1)
    assert ci != bootstrap_ci(auroc, scores, positives, num=300, seed=2)
    assert ci.num + ci.skipped == 300 and ci.level == 0.95
    # a metric undefined on some resamples: those are skipped and counted
    few = bootstrap_ci(auroc, [0.1, 0.9, 0.5], [False, True, False], num=200, seed=0)
    assert few.skipped > 0 and few.num + few.skipped == 200


def test_mutual_information_bound_separable_and_random_labels():
    rng = np.random.default_rng(0)
    centres = 6.0 * np.eye(3, 8)
    train_y, test_y = np.arange(90) % 3, np.arange(60) % 3
    train_x = centres[train_y] + 0.3 * rng.normal(size=(90, 8))
    test_x = centres[test_y] + 0.3 * rng.normal(size=(60, 8))
    result = mutual_information_bound(train_x, train_y, test_x, test_y)
    assert result["entropy_nats"] == pytest.approx(math.log(3)) == pytest.approx(label_entropy(test_y))
    assert result["bound_nats"] > 0.9 * math.log(3) and result["probe_top1"] == 100.0
    assert result["bound_bits"] == pytest.approx(result["bound_nats"] / math.log(2))
    assert result["entropy_bits"] == pytest.approx(math.log2(3))
    noise = mutual_information_bound(rng.normal(size=(90, 8)), rng.permutation(train_y),
                                     rng.normal(size=(60, 8)), test_y)
    assert noise["bound_nats"] < 0.1 * math.log(3)  # no information: ~0 or below (overfitting)


def test_plot_spectrum_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = plot_spectrum([4.0, 2.0, 1.0, 0.0], tmp_path / "plots" / "spectrum_last.png", "run")
    assert path.is_file() and path.read_bytes()[:4] == b"\x89PNG"
    assert not list((tmp_path / "plots").glob("*.tmp.png"))
