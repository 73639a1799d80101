"""The entry points as a user calls them: pretrain/run.py, linear_eval/run.py, sslskel.report."""

import json

import pytest

from support import TINY_OVERRIDES, load_script

@pytest.fixture
def cli_overrides(tiny_data_dir, tmp_path):
    return [f"data.path={tiny_data_dir}", f"run.out_dir={tmp_path / 'runs'}", *TINY_OVERRIDES]


def test_config_typo_fails_at_start_up_naming_the_key(capsys, cli_overrides):
    pretrain = load_script("pretrain/run.py")
    assert pretrain.main(["--method", "moco", *cli_overrides, "optim.lrr=0.1"]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'optim.lrr'" in err and "weight_decay" in err


def test_pretrain_then_evaluate_newest_run_then_resume(capsys, cli_overrides, tmp_path):
    pretrain, linear_eval = load_script("pretrain/run.py"), load_script("linear_eval/run.py")
    assert pretrain.main(["--method", "halp", *cli_overrides, "halp.start_epoch=0", "halp.recent_keys=16",
                          "halp.num_prototypes=3", "halp.num_positives=5"]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert linear_eval.main(["--runs", str(tmp_path / "runs"), "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "kNN k=1" in table and "linear final (epoch 3)" in table
    result = json.loads((run_dir / "eval_linear.json").read_text())
    assert result["random_init"] is False and len(result["history"]) == 3
    assert {"knn_k1", "knn_k20"} <= set(json.loads((run_dir / "eval_knn.json").read_text()))
    assert linear_eval.main(["--run", str(run_dir), "--random-init", "--protocols", "knn"]) == 0
    assert (run_dir / "eval_knn_random.json").is_file()
    assert pretrain.main(["--resume", str(run_dir), "optim.epochs=3"]) == 0
    assert json.loads((run_dir / "summary.json").read_text())["epochs"] == 3

    from sslskel import report

    assert report.main([str(run_dir)]) == 0
    assert (run_dir / "plots" / "halp_generation.png").is_file()
    assert (run_dir / "plots" / "prototype_similarity.png").is_file()  # the supplement's Fig. 3


def test_linear_eval_without_runs_says_what_to_do(capsys, tmp_path):
    linear_eval = load_script("linear_eval/run.py")
    assert linear_eval.main(["--runs", str(tmp_path)]) == 2
    assert "train one with pretrain/run.py" in capsys.readouterr().err


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, capsys):
    pretrain = load_script("pretrain/run.py")
    (tmp_path / "run").mkdir()
    assert pretrain.main(["--resume", str(tmp_path / "run")]) == 2
    assert "no checkpoints/last.pt to resume from" in capsys.readouterr().err

