"""A tiny study end to end: every job a subprocess of the project's own scripts, then the report;
a rerun does nothing again; a study killed halfway redoes only what had not finished."""

from __future__ import annotations

import json

import pytest

from sslskel.compare import main

from support import REPO, TINY_OVERRIDES

pytestmark = pytest.mark.slow  # ~2 min: seven subprocesses that each import torch

FINETUNE = ["finetune.optim.epochs=2", "finetune.optim.milestones=[1]", "finetune.optim.batch_size=16"]


def study_args(data_dir, out_dir, *extra):
    return ["--data", str(data_dir), "--config-dir", str(REPO / "configs" / "synthetic"),
            "--methods", "moco", "--seeds", "0",
            "--protocols", "linear,knn,semi:0.5", "--cores", "1", "--out", str(out_dir), *extra,
            *[o for o in TINY_OVERRIDES if not o.startswith("run.progress")], *FINETUNE]


def test_tiny_study_report_skip_and_resume(tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "study"
    assert main(study_args(tiny_data_dir, out)) == 0
    printed = capsys.readouterr().out
    # floors, pretrain, eval, semi, random (linear / kNN), semi from scratch, ceiling
    assert "7 jobs to run" in printed and "left" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["rows"] == ["moco", "random init", "raw 1-NN", "raw logistic", "supervised, all labels"]
    assert {"linear", "kNN k=1", "semi 0.5"} <= set(results["columns"])
    assert "semi 0.5" in results["summary"]["random init"]  # the fine-tune from random weights
    linear = json.loads(next((out / "pretrain").glob("moco_s0_*/*/eval_linear.json")).read_text())
    assert results["summary"]["moco"]["linear"]["mean"] == pytest.approx(linear["final_top1"])  # one seed: its value
    assert all(r["wall_s"] > 0 and r["peak_rss_mb"] > 0 for r in results["runs"])
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["accuracy.png", "losses.png", "semi.png"]
    report = (out / "report.md").read_text()
    tensorboard = next((out / "pretrain").glob("moco_s0_*/*/tensorboard"))
    assert len(list(tensorboard.iterdir())) >= 3  # pretraining, then eval and semi scalars in their own files

    # a rerun: every job found by its config hash, nothing runs, the same report
    assert main(study_args(tiny_data_dir, out)) == 0
    assert "7 of 7 jobs finished earlier" in capsys.readouterr().out
    assert (out / "report.md").read_text() == report

    # killed halfway: the pretraining finished but its marker and everything after it are missing
    (pretrain_marker,) = (out / "done").glob("pretrain_*.json")
    run_dir = json.loads(pretrain_marker.read_text())["run_dir"]
    for marker in (out / "done").glob("*.json"):
        if not marker.name.startswith("floors"):
            marker.unlink()
    assert main(study_args(tiny_data_dir, out)) == 0
    printed = capsys.readouterr().out
    assert "1 of 7 jobs finished earlier" in printed and "6 jobs to run" in printed
    log = next((out / "logs").glob("pretrain_*.log")).read_text()
    assert f"--resume {run_dir}" in log  # continued from its checkpoint, not trained again
    assert json.loads((out / "results.json").read_text())["summary"] == results["summary"]

    # the finished runs, tabulated
    assert main([run_dir]) == 0
    assert "| linear |" in capsys.readouterr().out.splitlines()[0]


def test_supervised_only_study_pairs_each_added_loss_against_cross_entropy(tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "supervised"
    argv = ["--data", str(tiny_data_dir), "--config-dir", str(REPO / "configs" / "synthetic"), "--methods", "none",
            "--supervised", "ce,supcon", "--supervised-config", str(REPO / "configs" / "synthetic" / "semi.yaml"),
            "--seeds", "0,1", "--cores", "1", "--out", str(out), "data.frames=16", "data.num_workers=0",
            "encoder.args={hidden_size: 8, num_layers: 1}", *FINETUNE]
    assert main(argv) == 0
    assert "4 jobs to run" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["rows"] == ["supervised, all labels", "supervised + SupCon, all labels"]
    per_seed = results["per_seed"]
    for seed in ("0", "1"):  # each row holds its own run's final top-1
        summary = json.loads(next((out / "supervised").glob(f"supcon_s{seed}_*/*/supervised_scratch_supcon.json"))
                             .read_text())
        assert per_seed["supervised + SupCon, all labels"]["linear"][seed] == pytest.approx(
            summary["summary"][0]["final_top1_mean"])
    diff = results["paired_supervised"]["supervised + SupCon, all labels"]
    want = [per_seed["supervised + SupCon, all labels"]["linear"][s] - per_seed["supervised, all labels"]["linear"][s]
            for s in ("0", "1")]
    assert diff["differences"] == pytest.approx(want)
    assert "each added loss against cross-entropy alone" in (out / "report.md").read_text()
