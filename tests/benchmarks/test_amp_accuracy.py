"""benchmarks/pair_studies.py pairs two studies by seed (amp_accuracy.py: its fp32 and bf16 arms)."""

import json

import pytest

from support import load_script


def test_pair_arms_pairs_each_method_and_protocol_by_seed():
    fp32 = {"per_seed": {"moco": {"linear": {"0": 70.0, "1": 72.0, "2": 71.0}, "kNN k=1": {}},
                         "halp": {"linear": {"0": 60.0}}}}
    bf16 = {"per_seed": {"moco": {"linear": {"0": 71.0, "1": 71.0, "2": 74.0}}}}
    table = load_script("benchmarks/amp_accuracy.py").pair_arms(fp32, bf16, ("fp32", "bf16"))
    assert list(table) == ["moco"] and list(table["moco"]) == ["linear"]  # halp has no bf16 arm, kNN no values
    row = table["moco"]["linear"]
    assert row["fp32"]["mean"] == pytest.approx(71.0) and row["bf16"]["mean"] == pytest.approx(72.0)
    difference = row["difference"]
    assert difference["differences"] == [1.0, -1.0, 3.0] and difference["mean"] == pytest.approx(1.0)
    # t(0.975, 2) = 4.3027, sd of (1, -1, 3) = 2: half-width 4.3027 * 2 / sqrt(3) = 4.968
    assert difference["low"] == pytest.approx(1.0 - 4.968, abs=1e-3)
    assert difference["high"] == pytest.approx(1.0 + 4.968, abs=1e-3)
    assert difference["agree"] == 2


def test_pair_studies_prints_json_and_a_table(tmp_path, capsys):
    for name, values in (("default", [50.0, 52.0]), ("augmented", [60.0, 61.0])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(
            json.dumps({"per_seed": {"cvmim": {"linear": {"0": values[0], "1": values[1]}}}}))
    load_script("benchmarks/pair_studies.py").main([str(tmp_path / "default"), str(tmp_path / "augmented"), "--table"])
    out, err = capsys.readouterr()
    row = json.loads(out)["pairs"]["cvmim"]["linear"]
    assert row["difference"]["differences"] == [10.0, 9.0] and row["default"]["mean"] == 51.0
    assert "| cvmim | linear | 51.0 ± 1.0 | 60.5 ± 0.5 | +9.5 [" in err and "2/2 | +10.0, +9.0 |" in err


def test_pair_studies_names_a_missing_results_file(tmp_path, capsys):
    with pytest.raises(SystemExit):
        load_script("benchmarks/pair_studies.py").main([str(tmp_path / "a"), str(tmp_path / "b")])
    assert "a/results.json: no results.json" in capsys.readouterr().err


def test_pair_studies_table_names_arms_without_a_shared_seed():
    pair_studies = load_script("benchmarks/pair_studies.py")
    pairs = pair_studies.pair_arms(
        {"per_seed": {"moco": {"linear": {"0": 70.0}}}}, {"per_seed": {"moco": {"linear": {"1": 71.0}}}})
    assert pairs["moco"]["linear"]["difference"] is None
    assert "| moco | linear | | | no seed in both arms | |" in pair_studies.markdown(pairs, ("a", "b"))
