"""The report from a table of numbers: rows, cells, paired differences, the one-seed note."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslskel.compare.collect import CEILING_ROW, ONE_NN_ROW, RANDOM_ROW
from sslskel.compare.existing import existing_runs_table
from sslskel.compare.plan import Study
from sslskel.compare.report import build_results, cell, report_markdown
from sslskel.errors import UserError


def study(seeds) -> Study:
    return Study(config_dir=Path("configs/synthetic"), dataset="synthetic", data=None, methods=["moco", "halp"],
                 seeds=seeds, protocols=[("linear", None), ("knn", None)], baseline="moco")


def test_table_rows_cells_and_paired_differences():
    table = {"moco": {"linear": {0: 78.0, 1: 79.0, 2: 80.0}},
             "halp": {"linear": {0: 80.0, 1: 82.0, 2: 81.0}, "kNN k=1": {0: 70.0, 1: 71.0, 2: 72.0}},
             RANDOM_ROW: {"linear": {0: 29.0, 1: 29.0, 2: 29.0}},
             ONE_NN_ROW: {"kNN k=1": {"-": 71.3}}, CEILING_ROW: {"linear": {0: 87.3}}}
    results = build_results(study([0, 1, 2]), table, {}, command="sslskel compare --seeds 0,1,2")
    assert results["rows"] == ["moco", "halp", RANDOM_ROW, ONE_NN_ROW, CEILING_ROW]
    assert results["columns"] == ["linear", "kNN k=1"]
    assert results["summary"]["moco"]["linear"]["mean"] == pytest.approx(79.0)
    assert results["paired"]["halp"]["linear"]["mean"] == pytest.approx(2.0)
    assert "kNN k=1" not in results["paired"]["halp"]  # moco has no kNN number to pair with
    text = report_markdown(results, ["plots/accuracy.png"])
    assert "| moco | 79.0 ± 0.8 |  |" in text
    assert "| raw 1-NN |  | 71.3 |" in text and "| supervised, all labels | 87.3 |  |" in text
    assert "| halp - moco | +2.00 [-0.48, +4.48], 3/3 seeds agree |" in text
    assert "sslskel compare --seeds 0,1,2" in text and "![accuracy](plots/accuracy.png)" in text


def test_one_seed_reports_no_interval_and_says_why():
    table = {"moco": {"linear": {0: 78.0}}, "halp": {"linear": {0: 80.0}}}
    results = build_results(study([0]), table, {}, command="sslskel compare --seeds 0")
    assert results["paired"]["halp"]["linear"]["low"] is None
    text = report_markdown(results, [])
    assert "| halp - moco | +2.00, 1/1 seeds agree |" in text
    assert "No interval: one seed" in text


def write_run(path: Path, lr: float, linear: float) -> Path:
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(f"method: moco\noptim:\n  lr: {lr}\n  epochs: 5\nrun:\n  out_dir: {path}\n")
    (path / "eval_linear.json").write_text(f'{{"final_top1": {linear}, "best_top1": {linear}}}')
    return path


def test_finished_runs_are_tabulated_with_the_keys_they_differ_in(tmp_path):
    a = write_run(tmp_path / "a", 0.001, 78.25)
    b = write_run(tmp_path / "b", 0.01, 70.0)
    text = existing_runs_table([a, b])
    assert text.splitlines()[0] == "| run | method | optim.lr | linear |"
    assert "| a | moco | 0.001 | 78.2 |" in text and "| b | moco | 0.01 | 70.0 |" in text
    assert "run.out_dir" not in text and "optim.epochs" not in text


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(UserError, match="config.yaml"):
        existing_runs_table([tmp_path])


def test_the_method_is_one_column_even_when_runs_differ_in_it(tmp_path):
    a = write_run(tmp_path / "a", 0.001, 78.0)
    b = write_run(tmp_path / "b", 0.001, 79.0)
    (b / "config.yaml").write_text((b / "config.yaml").read_text().replace("method: moco", "method: halp"))
    assert existing_runs_table([a, b]).splitlines()[0] == "| run | method | linear |"


def test_cells_keep_about_three_significant_digits():
    assert cell({"mean": 78.04, "std": 0.81, "n": 3}) == "78.0 ± 0.8"
    assert cell({"mean": 2.043, "std": 0.021, "n": 3}) == "2.04 ± 0.02"  # an MI bound in nats
    assert cell({"mean": 0.6634, "std": 0.0421, "n": 3}) == "0.663 ± 0.042"  # an AUROC
    assert cell({"mean": 5.62, "std": 0.0, "n": 1}) == "5.62" and cell(None) == ""
