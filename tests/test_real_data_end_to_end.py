"""The MSR Action3D config's commands on the real development set, for 2 epochs: reading,
normalisation chosen automatically and recorded, pretraining, then evaluation of the run."""

import json

import yaml

from support import MSR_DIR, REPO, load_script, needs_msr

SHORT = ["optim.epochs=2", "run.knn_every=2", "run.progress=false", "linear.optim.epochs=2",
         "linear.optim.milestones=[1]"]


@needs_msr
def test_msr_config_pretrains_on_normalised_real_data_and_evaluates(tmp_path, capsys):
    pretrain, linear_eval = load_script("pretrain/run.py"), load_script("linear_eval/run.py")
    config = REPO / "configs" / "msr_action3d" / "halp.yaml"
    assert pretrain.main(["--config", str(config), f"data.path={MSR_DIR}", f"run.out_dir={tmp_path}",
                          "data.normalize=auto", "data.layout=auto", *SHORT]) == 0
    out = capsys.readouterr().out
    assert "data.normalize: auto -> prenorm (msr data)" in out and "data.layout: auto -> msr20" in out
    (run_dir,) = tmp_path.iterdir()
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())["data"]
    assert saved["normalize"] == "prenorm" and saved["layout"] == "msr20"  # what evaluation re-applies
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["knn/top1_k1"] > 100 / 20  # above chance on 20 classes

    assert linear_eval.main(["--run", str(run_dir), "--quiet"]) == 0
    result = json.loads((run_dir / "eval_linear.json").read_text())
    assert len(result["history"]) == 2 and result["final_top1"] > 100 / 20  # above chance on 20 classes


@needs_msr
def test_default_config_with_a_real_folder_needs_no_layout_or_normalisation(tmp_path, capsys):
    """README: `python pretrain/run.py --method halp data.path=DIR` on any format."""
    pretrain = load_script("pretrain/run.py")
    assert pretrain.main(["--method", "halp", f"data.path={MSR_DIR}", f"run.out_dir={tmp_path}",
                          "data.frames=16", "optim.epochs=1", "moco.queue_size=256",
                          "encoder.args={hidden_size: 16, num_layers: 1}", "run.knn_every=1",
                          "run.progress=false"]) == 0
    (run_dir,) = tmp_path.iterdir()
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())["data"]
    assert saved["normalize"] == "prenorm" and saved["layout"] == "msr20" and saved["format"] is None
