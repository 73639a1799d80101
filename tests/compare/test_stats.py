"""Statistics over seeds against hand-computed values."""

from __future__ import annotations

import math

import pytest

from sslskel.compare.stats import ONE_SEED, paired_difference, spread

T_975_DF2 = 4.302652729911275  # Student t, 97.5 % quantile, 2 degrees of freedom (tables)
T_975_DF3 = 3.182446305284263


def test_spread_is_the_population_std():
    s = spread([78.0, 79.0, 80.0])
    assert s["mean"] == 79.0 and s["n"] == 3
    assert s["std"] == pytest.approx(math.sqrt(2 / 3))
    assert spread([5.0]) == {"mean": 5.0, "std": 0.0, "n": 1, "values": [5.0]}


def test_paired_difference_t_interval_by_hand():
    # differences 2, 3, 1: mean 2, sample sd 1, half width t(0.975, 2) * 1 / sqrt(3)
    d = paired_difference({0: 80.0, 1: 82.0, 2: 81.0}, {0: 78.0, 1: 79.0, 2: 80.0})
    half = T_975_DF2 / math.sqrt(3)
    assert d["mean"] == pytest.approx(2.0)
    assert d["low"] == pytest.approx(2.0 - half) and d["high"] == pytest.approx(2.0 + half)
    assert d["agree"] == 3 and d["n"] == 3 and d["differences"] == pytest.approx([2.0, 3.0, 1.0])


def test_paired_difference_counts_seeds_that_disagree():
    # differences -1, 2, 3, 0: mean 1, sample sd sqrt(10/3); two positive seeds agree with the mean
    d = paired_difference({0: 9.0, 1: 12.0, 2: 13.0, 3: 10.0}, {0: 10.0, 1: 10.0, 2: 10.0, 3: 10.0})
    half = T_975_DF3 * math.sqrt(10 / 3) / 2
    assert d["mean"] == pytest.approx(1.0)
    assert (d["low"], d["high"]) == (pytest.approx(1.0 - half), pytest.approx(1.0 + half))
    assert d["agree"] == 2


def test_only_shared_seeds_are_paired():
    d = paired_difference({0: 5.0, 1: 7.0, 5: 100.0}, {0: 4.0, 1: 4.0, 2: 0.0})
    assert d["seeds"] == [0, 1] and d["mean"] == pytest.approx(2.0)
    assert paired_difference({0: 1.0}, {1: 1.0}) is None


def test_one_seed_has_no_interval_and_says_why():
    d = paired_difference({0: 80.0}, {0: 78.0})
    assert d["mean"] == pytest.approx(2.0) and d["low"] is None and d["high"] is None
    assert d["no_interval"] == ONE_SEED and "one seed" in ONE_SEED
