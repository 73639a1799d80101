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



# -- CV-MIM's protocols: single-shot cross-view and disentanglement ---------------------------------
@pytest.fixture(scope="module")
def multiview_data_dir(tmp_path_factory):
    """Tiny CMD files whose names spread the clips over 3 cameras x 2 replications."""
    from sslskel.data.prepare import write_cmd_layout

    from support import make_tiny_clips

    root = tmp_path_factory.mktemp("tiny_multiview")
    for split, n, seed, first_subject in (("train", 48, 0, 1), ("val", 24, 1, 3)):
        data, lengths, labels, _ = make_tiny_clips(n, 3, 24, seed)
        # label i % 3 and camera (i % 6) // 2 + 1: every class seen by every camera
        names = [f"S001C{i % 6 // 2 + 1:03d}P{first_subject + i // 6 % 2:03d}R{i % 2 + 1:03d}A{y + 1:03d}"
                 for i, y in enumerate(labels)]
        write_cmd_layout(root, split, data, num_frames=lengths, labels=labels, names=names)
    return root


def test_single_shot_protocol_on_a_moco_run_and_no_disentangling_it(capsys, multiview_data_dir, tmp_path):
    pretrain, linear_eval = load_script("pretrain/run.py"), load_script("linear_eval/run.py")
    assert pretrain.main(["--method", "moco", f"data.path={multiview_data_dir}",
                          f"run.out_dir={tmp_path / 'runs'}", *TINY_OVERRIDES, "optim.epochs=1"]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert linear_eval.main(["--run", str(run_dir), "--quiet", "--protocol", "single-shot"]) == 0
    table = capsys.readouterr().out
    assert "single-shot C1R1 (n=8)" in table and "single-shot mean of 6 (final)" in table
    result = json.loads((run_dir / "eval_single_shot.json").read_text())
    assert [p["part"] for p in result["parts"]] == ["C1R1", "C1R2", "C2R1", "C2R2", "C3R1", "C3R2"]
    assert result["representation"] == "encoder features" and result["test_samples"] == 24
    assert not (run_dir / "eval_linear.json").exists()  # only the protocol asked for
    assert linear_eval.main(["--run", str(run_dir), "--protocol", "disentangle"]) == 2
    assert "--protocol disentangle: method: expected a run of a method with pose" in capsys.readouterr().err


def test_single_shot_refuses_data_without_cameras(capsys, cli_overrides, tmp_path, tiny_data_dir):
    import numpy as np

    from sslskel.data.prepare import write_cmd_layout
    from sslskel.data.readers import load_split

    nameless = tmp_path / "nameless"
    for split in ("train", "val"):
        data = load_split(tiny_data_dir, split)
        write_cmd_layout(nameless, split, np.asarray(data.data), data.num_frames, data.labels,
                         [f"clip{i}" for i in range(len(data))])
    pretrain, linear_eval = load_script("pretrain/run.py"), load_script("linear_eval/run.py")
    assert pretrain.main(["--method", "moco", *cli_overrides, f"data.path={nameless}", "optim.epochs=1"]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert linear_eval.main(["--run", str(run_dir), "--protocols", "knn,single-shot"]) == 2
    assert "meta.camera" in (err := capsys.readouterr().err) and "no camera metadata" in err
    assert not (run_dir / "eval_knn.json").exists()  # refused before anything ran


def test_protocols_of_a_method_with_embeddings(capsys, monkeypatch, multiview_data_dir, tmp_path):
    """A stand-in for CV-MIM (z_p, z_v = the halves of the encoder's features), saved as a run."""
    import torch

    import sslskel.methods
    from sslskel.common.checkpoint import save_checkpoint
    from sslskel.engine.config import load_config
    from sslskel.engine.config_tree import to_dict
    from sslskel.methods.base import PretrainMethod

    class FakeCVMIM(PretrainMethod):
        name, num_views = "fake_cvmim", 1
        extra_protocols = ("disentangle",)  # declared: runs load as the method, not the encoder
        splits_pose_and_view = True  # embed gives (z_p, z_v)

        def __init__(self, cfg, in_channels=3, num_persons=2):
            super().__init__(cfg, in_channels, num_persons)
            self.view_head = torch.nn.Linear(self.encoder.feature_dim, 4)

        @torch.no_grad()
        def embed(self, x, lengths=None):
            z = self.encoder(x, lengths)
            return z, self.view_head(z)

    monkeypatch.setitem(sslskel.methods.METHODS, "fake_cvmim", FakeCVMIM)
    cfg = load_config(None, ["method=fake_cvmim", f"data.path={multiview_data_dir}", "data.frames=16",
                             "data.num_workers=0", "data.layout=ntu25", "encoder.args={hidden_size: 8, num_layers: 1}",
                             "linear.optim.epochs=2", "linear.optim.batch_size=16"])
    torch.manual_seed(1)
    method = FakeCVMIM(cfg, 3, 2)
    run_dir = tmp_path / "fake_run"
    save_checkpoint(run_dir / "checkpoints" / "last.pt", {"method": method.state_dict(), "config": to_dict(cfg)})
    linear_eval = load_script("linear_eval/run.py")
    assert linear_eval.main(["--run", str(run_dir), "--quiet", "--protocols", "single-shot,disentangle,knn"]) == 0
    table = capsys.readouterr().out
    assert "view from z_v (chance" in table and "kNN k=1" in table
    single = json.loads((run_dir / "eval_single_shot.json").read_text())
    assert single["representation"] == "z_p" and len(single["parts"]) == 6
    probes = json.loads((run_dir / "eval_disentangle.json").read_text())
    assert (probes["pose_dim"], probes["view_dim"], probes["num_views"]) == (16, 4, 6)  # 3 cameras x 2 replications


# -- representation diagnostics: spectrum, alignment / uniformity, mutual-information bound ---------
def test_diagnostics_protocol_on_a_moco_run(capsys, cli_overrides, tmp_path):
    import math

    pretrain, linear_eval = load_script("pretrain/run.py"), load_script("linear_eval/run.py")
    assert pretrain.main(["--method", "moco", *cli_overrides, "optim.epochs=1"]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    capsys.readouterr()  # pretraining's own summary names kNN
    assert linear_eval.main(["--run", str(run_dir), "--quiet", "--protocols", "diagnostics"]) == 0
    table = capsys.readouterr().out
    assert "effective rank" in table and "MI bound H(Y) - CE" in table and "kNN" not in table
    result = json.loads((run_dir / "eval_diagnostics.json").read_text())
    assert result["samples"] == 24 and len(result["spectrum"]) == result["feature_dim"]
    assert 1.0 <= result["effective_rank"] <= result["feature_dim"]
    assert 0.0 <= result["alignment"] <= 4.0 and -8.0 <= result["uniformity"] <= 0.0  # unit vectors, t = 2
    mi = result["mutual_information"]
    assert mi["entropy_nats"] == pytest.approx(math.log(3))  # 24 test clips, 3 balanced classes
    assert mi["bound_nats"] == pytest.approx(mi["entropy_nats"] - mi["cross_entropy_nats"])
    assert result["augment"] == "cmd_pretrain" and result["spectrum_plot"].endswith("spectrum_last.png")
    assert (run_dir / "plots" / "spectrum_last.png").is_file()
    assert not (run_dir / "eval_linear.json").exists() and not (run_dir / "eval_knn.json").exists()

    assert linear_eval.main(["--run", str(run_dir), "--quiet", "--random-init", "--protocols", "knn,diagnostics"]) == 0
    assert (run_dir / "eval_diagnostics_random.json").is_file() and (run_dir / "eval_knn_random.json").is_file()
    assert (run_dir / "plots" / "spectrum_random.png").is_file()
    (run_dir / "plots" / "spectrum_last.png").unlink()

    from sslskel import report

    assert report.main([str(run_dir)]) == 0  # redraws the spectra from the eval_diagnostics*.json
    assert (run_dir / "plots" / "spectrum_last.png").is_file()


def test_diagnostics_run_by_default():
    from sslskel.cli import evaluate

    assert evaluate.build_parser().parse_args([]).protocols == ("linear", "knn", "diagnostics")


# -- the posterior's uncertainty (variational runs) ------------------------------------------------
def test_uncertainty_protocol_on_a_vsimclr_run(capsys, tiny_data_dir, tmp_path):
    pretrain, linear_eval = load_script("pretrain/run.py"), load_script("linear_eval/run.py")
    overrides = [f"data.path={tiny_data_dir}", f"run.out_dir={tmp_path / 'runs'}",
                 *[o for o in TINY_OVERRIDES if not o.startswith("moco.")],
                 "simclr.mlp_hidden=16", "simclr.feature_dim=8",
                 "optim.epochs=1", "vcl.eval_samples=4"]
    assert pretrain.main(["--method", "vsimclr", *overrides]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert linear_eval.main(["--run", str(run_dir), "--quiet", "--protocols", "uncertainty"]) == 0
    assert "error AUROC" in capsys.readouterr().out
    result = json.loads((run_dir / "eval_uncertainty.json").read_text())
    assert result["test_samples"] == 24 and result["num_samples"] == 4 and result["ood"] is None
    for score in ("mean_posterior_variance", "one_minus_resultant_length"):
        for name in ("gaussian_noise", "joint_dropout"):
            corruption = result["corruption"][name]
            assert len(corruption["levels"]) == 6 and len(corruption[score]["mean"]) == 6
    assert not (run_dir / "eval_linear.json").exists()

    assert linear_eval.main(["--run", str(run_dir), "--quiet", "--protocols", "uncertainty", "--ood-classes", "2"]) == 0
    ood = json.loads((run_dir / "eval_uncertainty.json").read_text())["ood"]
    assert ood["classes"] == [2] and ood["ood_samples"] == 8 and ood["pretraining_excluded"] is False
    assert linear_eval.main(["--run", str(run_dir), "--protocols", "knn", "--ood-classes", "2"]) == 2
    assert "--ood-classes" in capsys.readouterr().err
