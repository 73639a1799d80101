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
