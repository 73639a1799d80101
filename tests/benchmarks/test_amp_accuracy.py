"""benchmarks/amp_accuracy.py pairs the fp32 and bf16 studies by seed."""

import pytest

from support import load_script


def test_pair_arms_pairs_each_method_and_protocol_by_seed():
    fp32 = {"per_seed": {"moco": {"linear": {"0": 70.0, "1": 72.0, "2": 71.0}, "kNN k=1": {}},
                         "halp": {"linear": {"0": 60.0}}}}
    bf16 = {"per_seed": {"moco": {"linear": {"0": 71.0, "1": 71.0, "2": 74.0}}}}
    table = load_script("benchmarks/amp_accuracy.py").pair_arms(fp32, bf16)
    assert list(table) == ["moco"] and list(table["moco"]) == ["linear"]  # halp has no bf16 arm, kNN no values
    row = table["moco"]["linear"]
    assert row["fp32"]["mean"] == pytest.approx(71.0) and row["bf16"]["mean"] == pytest.approx(72.0)
    difference = row["difference"]
    assert difference["differences"] == [1.0, -1.0, 3.0] and difference["mean"] == pytest.approx(1.0)
    # t(0.975, 2) = 4.3027, sd of (1, -1, 3) = 2: half-width 4.3027 * 2 / sqrt(3) = 4.968
    assert difference["low"] == pytest.approx(1.0 - 4.968, abs=1e-3)
    assert difference["high"] == pytest.approx(1.0 + 4.968, abs=1e-3)
    assert difference["agree"] == 2
