"""The README's commands on the embedded synthetic data with the shipped default configs.

Shortened (a few epochs) so CI can afford them; the full-length numbers are in the README.
"""

import json

import pytest

from support import load_script

pytestmark = pytest.mark.slow


def test_default_halp_config_pretrains_and_evaluates(tmp_path, capsys):
    pretrain, linear_eval = load_script("pretrain/run.py"), load_script("linear_eval/run.py")
    runs = tmp_path / "runs"
    assert pretrain.main(["--method", "halp", f"run.out_dir={runs}", "optim.epochs=3", "halp.start_epoch=1",
                          "run.knn_every=3", "run.progress=false"]) == 0
    (run_dir,) = runs.iterdir()
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    kept = [r["halp/kept_fraction"] for r in records if "halp/kept_fraction" in r]
    assert kept and all(0.0 < k <= 1.0 for k in kept)
    assert linear_eval.main(["--runs", str(runs), "--quiet", "linear.optim.epochs=2", "linear.optim.milestones=[1]"]) == 0
    out = capsys.readouterr().out
    assert "linear final (epoch 2)" in out
    result = json.loads((run_dir / "eval_linear.json").read_text())
    assert result["final_top1"] > 100 / 20  # 20 classes: above chance after 3 + 2 epochs
