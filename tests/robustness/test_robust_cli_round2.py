"""Entry points as a user drives them: KEY=VALUE overrides in any order relative to the
options, a report of a run that has logged nothing yet, a run directory that does not exist or
cannot be written, another method's setting."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from sslskel import report
from sslskel.engine.config import load_config
from sslskel.engine.pretrain import run_pretraining

from support import REPO, TINY_OVERRIDES, load_script


@pytest.fixture(scope="module")
def finished_run(tiny_data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_round2")
    cfg = load_config(None, [f"data.path={tiny_data_dir}", f"run.out_dir={root / 'runs'}", *TINY_OVERRIDES,
                             "optim.epochs=1", "run.knn_every=0"])
    run_dir, _ = run_pretraining(cfg, run_dir=root / "run")
    return run_dir


def test_overrides_may_come_before_between_and_after_options(tiny_data_dir, tmp_path, capsys):
    config = REPO / "configs" / "synthetic" / "moco.yaml"
    first, *rest = TINY_OVERRIDES
    code = load_script("pretrain/run.py").main(["run.threads=1", first, "--config", str(config),
                                                f"data.path={tiny_data_dir}", "--method", "moco",
                                                f"run.out_dir={tmp_path}", *rest, "optim.epochs=1",
                                                "run.knn_every=0"])
    assert code == 0, capsys.readouterr().err
    (run_dir,) = tmp_path.iterdir()
    cfg = load_config(run_dir / "config.yaml")
    assert cfg.run.threads == 1 and cfg.optim.epochs == 1 and cfg.data.path == str(tiny_data_dir)


# overrides on both sides of an option, in every entry point: read as overrides (the bad key is
# named), not refused by argparse as unrecognised arguments
@pytest.mark.parametrize("script, argv, key", [
    ("pretrain/run.py", lambda run: ["run.threads=1", "--method", "moco", "optim.lrr=1"], "optim.lrr"),
    ("pretrain/run.py", lambda run: ["run.threads=1", "--resume", str(run), "optim.lrr=1"], "optim.lrr"),
    ("linear_eval/run.py", lambda run: ["run.threads=1", "--run", str(run), "linear.optim.lrr=1"],
     "linear.optim.lrr"),
    ("semi_sup/run.py", lambda run: ["run.threads=1", "--run", str(run), "finetune.optim.lrr=1"],
     "finetune.optim.lrr"),
    ("supervised/run.py", lambda run: ["run.threads=1", "--config",
                                       str(REPO / "configs/synthetic/supervised_ctrgcn.yaml"), "gcl.dimm=3"],
     "gcl.dimm"),
])
def test_overrides_on_both_sides_of_an_option_are_read_in_every_entry_point(finished_run, capsys, script, argv, key):
    capsys.readouterr()
    code = load_script(script).main(argv(finished_run))
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and key in lines[0], err


def test_a_report_of_a_run_that_logged_nothing_says_there_is_nothing_to_plot(finished_run, tmp_path, capsys):
    run_dir = shutil.copytree(finished_run, tmp_path / "run")
    (run_dir / "metrics.jsonl").write_text("")
    capsys.readouterr()
    assert report.main([str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert f"nothing to plot: {run_dir / 'metrics.jsonl'} holds no records yet" in out
    assert not (run_dir / "plots").exists()


def test_summary_json_of_a_finished_run_is_strict_json(finished_run):
    json.loads((finished_run / "summary.json").read_text(),
               parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))


@pytest.mark.parametrize("script", ["linear_eval/run.py", "semi_sup/run.py"])
def test_a_run_that_does_not_exist_is_no_such_run(script, tmp_path, capsys):
    capsys.readouterr()
    assert load_script(script).main(["--run", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {tmp_path / 'nope'}: --run: expected a run directory holding checkpoints/last.pt, "
                   f"got no such run\n")


def test_a_resume_of_a_run_that_does_not_exist_is_no_such_run(tmp_path, capsys):
    capsys.readouterr()
    assert load_script("pretrain/run.py").main(["--resume", str(tmp_path / "nope")]) == 2
    assert "no such run" in capsys.readouterr().err


def test_another_methods_setting_says_which_method_it_needs(tmp_path, capsys):
    capsys.readouterr()
    code = load_script("pretrain/run.py").main(["--method", "moco", "halp.mu=2", f"run.out_dir={tmp_path}"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "halp.* needs --method halp" in err and "'halp.mu'" in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("script", ["linear_eval/run.py", "semi_sup/run.py"])
def test_an_evaluation_of_a_read_only_run_fails_at_once_naming_the_directory(script, finished_run, tmp_path, capsys):
    run_dir = shutil.copytree(finished_run, tmp_path / "run")
    made = subprocess.run(["chattr", "+i", str(run_dir)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"needs chattr +i (root on ext4 or similar): {made.stderr.decode().strip()}")
    try:
        capsys.readouterr()
        code = load_script(script).main(["--run", str(run_dir), "run.threads=1"])
        err = capsys.readouterr().err
    finally:
        subprocess.run(["chattr", "-i", str(run_dir)], check=True)
    assert code == 2
    assert err.startswith(f"error: {run_dir}: write access: expected a directory this user can write")
    assert err.count("\n") == 1 and ".tmp" not in err
