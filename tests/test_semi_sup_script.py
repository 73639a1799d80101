"""semi_sup/run.py end to end on tiny data, in-process through main(argv): the results table,
the JSON files and their names, scratch supervised runs with SkeletonGCL and Tab. 9
diagnostics, resume, and clear errors."""

import json

import numpy as np
import pytest
import yaml

from sslskel.engine.pretrain import run_pretraining

from support import REPO, TINY_OVERRIDES, load_script

script = load_script("semi_sup/run.py")

FAST = ["finetune.optim.batch_size=16", "finetune.optim.epochs=2", "finetune.optim.milestones=[1]",
        "finetune.optim.lr=0.05", "run.progress=false"]


@pytest.fixture(scope="module")
def pretrained_runs(tmp_path_factory, tiny_data_dir):
    from sslskel.engine.config import load_config

    out = tmp_path_factory.mktemp("runs")
    cfg = load_config(None, [f"data.path={tiny_data_dir}", f"run.out_dir={out}", *TINY_OVERRIDES,
                             "optim.epochs=1", "run.knn_every=0"])
    run_dir, _ = run_pretraining(cfg)
    return out, run_dir


def test_semi_on_the_newest_run_writes_table_and_json(pretrained_runs, capsys):
    runs, run_dir = pretrained_runs
    code = script.main(["--runs", str(runs), "--fractions", "0.25,1.0", "--seeds", "2", "--quiet",
                        "--overwrite", *FAST])
    assert code == 0
    out = capsys.readouterr().out
    assert "fraction" in out and "final top-1" in out and "best top-1" in out
    result = json.loads((run_dir / "semi_class_balanced.json").read_text())
    assert result["init"] == "pretrained" and result["gcl"] is False
    assert result["checkpoint"].endswith("last.pt")
    assert [(r["fraction"], r["seed"]) for r in result["results"]] == [(0.25, 0), (0.25, 1), (1.0, 0), (1.0, 1)]
    for row in result["summary"]:
        finals = [r["final_top1"] for r in result["results"] if r["fraction"] == row["fraction"]]
        assert row["final_top1_mean"] == pytest.approx(np.mean(finals))
        assert row["final_top1_std"] == pytest.approx(np.std(finals))  # population std
        assert f"{row['final_top1_mean']:6.2f} ± {row['final_top1_std']:5.2f}" in out
    assert (run_dir / "semi_class_balanced" / "f0.25_s1" / "result.json").is_file()
    assert result["config"]["finetune"]["optim"]["epochs"] == 2

    # a second run with the same tag: refused, unless resumed (read back, nothing retrained)
    assert script.main(["--run", str(run_dir), "--fractions", "0.25", "--seeds", "1", "--quiet", *FAST]) == 2
    assert "--resume" in capsys.readouterr().err
    assert script.main(["--run", str(run_dir), "--fractions", "0.25,1.0", "--seeds", "2", "--quiet",
                        "--resume"]) == 0
    again = json.loads((run_dir / "semi_class_balanced.json").read_text())
    assert again["results"] == result["results"]


def test_every_fine_tune_starts_from_the_pretrained_weights(pretrained_runs):
    import torch

    from sslskel.cli import semi, semi_setup
    from sslskel.common.checkpoint import load_checkpoint

    _, run_dir = pretrained_runs
    args = semi.build_parser().parse_args(["--run", str(run_dir)])
    cfg, weights, _ = semi_setup.resolve_config(args, run_dir / "checkpoints" / "last.pt")
    method = load_checkpoint(run_dir / "checkpoints" / "last.pt")["method"]
    make = semi_setup.encoder_factory(cfg, weights, 3, 2)
    for seed in (0, 1):
        state = make(seed).state_dict()
        assert state.keys() == {k[len("encoder."):] for k in method if k.startswith("encoder.")}
        for key, value in state.items():
            assert torch.equal(value, method[f"encoder.{key}"]), key
    scratch = semi_setup.encoder_factory(cfg, None, 3, 2)
    a, b = scratch(0).state_dict(), scratch(1).state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)  # scratch seeds give different inits


def test_random_sampling_and_config_sections(pretrained_runs, tmp_path):
    _, run_dir = pretrained_runs
    config = tmp_path / "ft.yaml"
    config.write_text("finetune:\n  optim: {epochs: 1, batch_size: 16}\n  fractions: [0.5]\n  seeds: 1\n"
                      "data:\n  frames: 99\n")
    assert script.main(["--run", str(run_dir), "--config", str(config), "--sampling", "random",
                        "--quiet", "--overwrite", "run.progress=false"]) == 0
    result = json.loads((run_dir / "semi_random.json").read_text())
    assert [r["num_labelled"] for r in result["results"]] == [24]  # round(0.5 * 48)
    assert result["config"]["finetune"]["optim"]["epochs"] == 1
    assert result["config"]["data"]["frames"] == 16  # data comes from the run, not --config


def test_supervised_ctrgcn_from_scratch_with_gcl_and_graph_distances(tiny_data_dir, tmp_path, capsys):
    argv = ["--init", "scratch", "--config", str(REPO / "configs/synthetic/supervised_ctrgcn.yaml"),
            "--fractions", "1.0", "--seeds", "1", "--gcl", "--graph-distances", "--quiet",
            f"data.path={tiny_data_dir}", f"run.out_dir={tmp_path / 'runs'}", "data.frames=16",
            "data.num_workers=0", "encoder.args={base_channels: 8}", "gcl.dim=16",
            "gcl.num_hard_positives=4", "gcl.num_hard_negatives=6", "gcl.num_random_negatives=6",
            *FAST]
    assert script.main(argv) == 0
    out = capsys.readouterr().out
    assert "P=32 capped at 16" in out
    assert "own class" in out and "misclassified" in out
    (run_dir,) = (tmp_path / "runs").glob("*-supervised-ctrgcn")
    result = json.loads((run_dir / "semi_scratch_class_balanced_gcl.json").read_text())
    assert result["init"] == "scratch" and result["gcl"] is True and result["checkpoint"] is None
    (one,) = result["results"]
    assert one["num_labelled"] == 48 and one["setup_messages"]["gcl"]
    assert {"loss_ce", "loss_instance", "loss_semantic", "train_seconds"} <= set(one["history"][-1])
    assert {"correct_dist_own", "correct_dist_other", "wrong_dist_own", "wrong_dist_other",
            "wrong_dist_predicted"} <= set(one["graph_distances"])
    assert "graph_distances" in result["summary"][0]
    checkpoint = run_dir / "semi_scratch_class_balanced_gcl" / "f1_s0" / "checkpoints" / "last.pt"
    assert checkpoint.is_file()
    # the config (layout / normalize: auto) is saved as the data was read: a resume reads it the same way
    saved = yaml.safe_load((run_dir / "semi_scratch_class_balanced_gcl" / "config.yaml").read_text())["data"]
    assert (saved["layout"], saved["normalize"]) == ("ntu25", "none")  # the tiny CMD files: as stored
    assert (result["config"]["data"]["layout"], result["config"]["data"]["normalize"]) == ("ntu25", "none")

    # resume the scratch run: everything is read back
    assert script.main(["--init", "scratch", "--resume", str(run_dir), "--fractions", "1.0", "--seeds", "1",
                        "--gcl", "--quiet"]) == 0
    assert json.loads((run_dir / "semi_scratch_class_balanced_gcl.json").read_text())["results"] == \
        result["results"]


def test_gcl_with_the_gru_fails_clearly(tiny_data_dir, tmp_path, capsys):
    code = script.main(["--init", "scratch", "--config", str(REPO / "configs/synthetic/semi.yaml"),
                        "--gcl", "--quiet", f"data.path={tiny_data_dir}",
                        f"run.out_dir={tmp_path / 'runs'}"])
    assert code == 2
    err = capsys.readouterr().err
    assert "BiGRUEncoder" in err and "ctrgcn" in err
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_no_run_to_fine_tune_is_a_clear_error(tmp_path, capsys):
    assert script.main(["--runs", str(tmp_path / "none"), "--quiet"]) == 2
    assert "no run with checkpoints/last.pt" in capsys.readouterr().err


def test_bad_fractions_are_rejected():
    with pytest.raises(SystemExit):
        script.main(["--fractions", "0,0.5"])
