"""supervised/run.py: all labels, no fraction or sampling flags, its own output names."""

import json

import pytest

from support import REPO, load_script

script = load_script("supervised/run.py")


def test_supervised_from_scratch_uses_every_label(tiny_data_dir, tmp_path, capsys):
    argv = ["--config", str(REPO / "configs/synthetic/supervised_ctrgcn.yaml"), "--quiet",
            f"data.path={tiny_data_dir}", f"run.out_dir={tmp_path / 'runs'}", "data.frames=16",
            "data.num_workers=0", "encoder.args={base_channels: 8}", "finetune.optim.epochs=1",
            "finetune.optim.batch_size=16", "run.progress=false"]
    assert script.main(argv) == 0
    (run_dir,) = (tmp_path / "runs").glob("*-supervised-ctrgcn")
    result = json.loads((run_dir / "supervised_scratch.json").read_text())
    assert result["init"] == "scratch" and result["gcl"] is False
    (one,) = result["results"]
    assert one["fraction"] == 1.0 and one["num_labelled"] == 48 and one["aux_losses"] == []
    assert (run_dir / "supervised_scratch" / "f1_s0" / "checkpoints" / "last.pt").is_file()
    assert "semi" not in capsys.readouterr().out


def test_label_fractions_belong_to_semi_sup(capsys):
    with pytest.raises(SystemExit):
        script.main(["--fractions", "0.1"])
    assert "semi_sup/run.py" in capsys.readouterr().err


def test_supervised_with_vsupcon_adds_its_terms(tiny_data_dir, tmp_path):
    argv = ["--config", str(REPO / "configs/synthetic/semi.yaml"), "--quiet", "--seeds", "1", "--supcon", "vsupcon",
            f"data.path={tiny_data_dir}", f"run.out_dir={tmp_path / 'runs'}", "data.frames=16", "data.num_workers=0",
            "encoder.args={hidden_size: 8, num_layers: 1}", "finetune.optim.epochs=1",
            "finetune.optim.batch_size=16", "supcon.hidden=16", "supcon.dim=8", "run.progress=false"]
    assert script.main(argv) == 0
    (run_dir,) = (tmp_path / "runs").glob("*-supervised-gru")
    result = json.loads((run_dir / "supervised_scratch_vsupcon.json").read_text())
    (one,) = result["results"]
    assert one["aux_losses"] == ["vsupcon"] and {"loss_supcon", "loss_kl"} <= set(one["history"][-1])
    assert result["config"]["supcon"]["variational"] is True
