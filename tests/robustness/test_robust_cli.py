"""Every entry point as a hostile user drives it, in-process through main(argv): a bad config
key, a missing path, a corrupt checkpoint, a data file with a bad field. Each is one `error:`
line on stderr naming the key or file, exit code 2, no traceback, and nothing written; --debug
and SSLSKEL_DEBUG=1 show the traceback; a bug (any other exception) still propagates; Ctrl-C
exits 130; a label subset that leaves classes without a label warns."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest

from sslskel import report
from sslskel.cli import evaluate as cli_evaluate
from sslskel.cli import pretrain as cli_pretrain
from sslskel.cli import semi as cli_semi
from sslskel.common.cli import INTERRUPTED, run_cli, sslskel_warnings_as_lines, user_error_message
from sslskel.engine.config import load_config
from sslskel.engine.pretrain import run_pretraining
from sslskel.errors import UserError
from sslskel.eval import semi

from support import REPO, TINY_OVERRIDES, load_script

SCRIPTS = {name: load_script(name) for name in
           ("pretrain/run.py", "linear_eval/run.py", "semi_sup/run.py", "supervised/run.py")}
FAST_FINETUNE = ["finetune.optim.batch_size=16", "finetune.optim.epochs=1", "finetune.optim.milestones=[]",
                 "run.progress=false"]
GARBAGE = bytes(range(256)) * 20  # not a zip archive, not a pickle


@pytest.fixture(scope="module")
def ctx(tmp_path_factory, tiny_data_dir):
    """The inputs: a good pretraining run, its copy with a garbage last.pt, a data folder whose
    train_label.pkl is garbage, a garbage checkpoint file, and paths that do not exist."""
    root = tmp_path_factory.mktemp("robust_cli")
    cfg = load_config(None, [f"data.path={tiny_data_dir}", f"run.out_dir={root / 'pretrained'}",
                             *TINY_OVERRIDES, "optim.epochs=1", "run.knn_every=0"])
    run_dir, _ = run_pretraining(cfg)
    broken = root / "broken_run"
    shutil.copytree(run_dir, broken)
    for old in (broken / "checkpoints").glob("*.pt"):  # no older checkpoint to fall back on
        old.unlink()
    (broken / "checkpoints" / "last.pt").write_bytes(GARBAGE)
    bad_metrics = root / "bad_metrics_run"
    shutil.copytree(run_dir, bad_metrics)
    (bad_metrics / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2, oops\n{"step": 3}\n')
    corrupt = root / "corrupt_data"
    shutil.copytree(tiny_data_dir, corrupt)
    (corrupt / "train_label.pkl").write_bytes(GARBAGE)
    garbage = root / "garbage.pt"
    garbage.write_bytes(GARBAGE)
    return SimpleNamespace(data=tiny_data_dir, run=run_dir, broken=broken, bad_metrics=bad_metrics,
                           corrupt=corrupt, garbage=garbage, missing=root / "no_such_dir", root=root)


def snapshot(*dirs: Path) -> dict:
    """Every file and folder under `dirs` with its size and mtime: compare to see nothing was written."""
    return {str(p): (p.is_dir() or p.stat().st_size, p.stat().st_mtime_ns)
            for d in dirs if d.exists() for p in [d, *sorted(d.rglob("*"))]}


def pretrain_args(c, out, *extra):
    return ["--method", "moco", f"data.path={c.data}", f"run.out_dir={out}", *TINY_OVERRIDES, *extra]


def scratch_args(c, out, *extra):
    return ["--quiet", "--config", str(REPO / "configs/synthetic/supervised_ctrgcn.yaml"), f"data.path={c.data}",
            f"run.out_dir={out}", "data.frames=16", "data.num_workers=0", "encoder.args={base_channels: 8}",
            *FAST_FINETUNE, *extra]


# (entry point, argv from (ctx, fresh output folder), what the one error line must name)
CASES = {
    "pretrain-config-key": ("pretrain/run.py", lambda c, out: pretrain_args(c, out, "optim.lrr=0.1"),
                            ["optim.lrr"]),
    "pretrain-config-file": ("pretrain/run.py", lambda c, out: ["--config", str(c.missing / "x.yaml")],
                             ["x.yaml"]),
    "pretrain-data-path": ("pretrain/run.py", lambda c, out: pretrain_args(c, out, f"data.path={c.missing}"),
                           ["no_such_dir"]),
    "pretrain-data-label": ("pretrain/run.py", lambda c, out: pretrain_args(c, out, f"data.path={c.corrupt}"),
                            ["train_label.pkl"]),
    "pretrain-resume-checkpoint": ("pretrain/run.py", lambda c, out: ["--resume", str(c.broken)], ["last.pt"]),
    "pretrain-resume-missing": ("pretrain/run.py", lambda c, out: ["--resume", str(c.missing)],
                                ["no_such_dir", "last.pt"]),
    "linear-checkpoint-garbage": ("linear_eval/run.py", lambda c, out: ["--checkpoint", str(c.garbage)],
                                  ["garbage.pt"]),
    "linear-checkpoint-missing": ("linear_eval/run.py", lambda c, out: ["--checkpoint", str(c.missing / "a.pt")],
                                  ["a.pt"]),
    "linear-config-key": ("linear_eval/run.py", lambda c, out: ["--run", str(c.run), "linear.optim.lrr=1"],
                          ["linear.optim.lrr"]),
    "linear-data-label": ("linear_eval/run.py", lambda c, out: ["--run", str(c.run), "--quiet",
                                                                f"data.path={c.corrupt}"],
                          ["train_label.pkl"]),
    "linear-no-runs": ("linear_eval/run.py", lambda c, out: ["--runs", str(c.missing)], ["no_such_dir"]),
    "semi-config-key": ("semi_sup/run.py", lambda c, out: ["--run", str(c.run), "finetune.optim.lrr=1"],
                        ["finetune.optim.lrr"]),
    "semi-checkpoint-garbage": ("semi_sup/run.py", lambda c, out: ["--checkpoint", str(c.garbage)],
                                ["garbage.pt"]),
    "semi-run-checkpoint-garbage": ("semi_sup/run.py", lambda c, out: ["--run", str(c.broken)], ["last.pt"]),
    "semi-data-label": ("semi_sup/run.py", lambda c, out: ["--run", str(c.run), f"data.path={c.corrupt}",
                                                           *FAST_FINETUNE],
                        ["train_label.pkl"]),
    "semi-weights-do-not-fit": ("semi_sup/run.py",
                                lambda c, out: ["--run", str(c.run), "encoder.args.hidden_size=12", *FAST_FINETUNE],
                                ["last.pt", "method.encoder.", "shape"]),
    "semi-scratch-data-label": ("semi_sup/run.py",
                                lambda c, out: ["--init", "scratch", *scratch_args(c, out, f"data.path={c.corrupt}")],
                                ["train_label.pkl"]),
    "semi-gcl-without-graphs": ("semi_sup/run.py",
                                lambda c, out: ["--init", "scratch", "--gcl", *scratch_args(c, out, "encoder.name=gru",
                                                                                            "encoder.args={}")],
                                ["encoder.name", "BiGRUEncoder"]),
    "supervised-config-key": ("supervised/run.py", lambda c, out: scratch_args(c, out, "gcl.dimm=3"), ["gcl.dimm"]),
    "supervised-data-path": ("supervised/run.py", lambda c, out: scratch_args(c, out, f"data.path={c.missing}"),
                             ["no_such_dir"]),
    "supervised-data-label": ("supervised/run.py", lambda c, out: scratch_args(c, out, f"data.path={c.corrupt}"),
                              ["train_label.pkl"]),
    "report-missing-dir": ("report", lambda c, out: [str(c.missing)], ["no_such_dir", "metrics.jsonl"]),
    "report-checkpoint-garbage": ("report", lambda c, out: [str(c.broken)], ["last.pt"]),
    "report-metrics-line": ("report", lambda c, out: [str(c.bad_metrics)], ["metrics.jsonl", "line 2"]),
}


def entry_main(name: str):
    return report.main if name == "report" else SCRIPTS[name].main


def run_case(case: str, c, tmp_path, capsys, *extra: str) -> tuple[int, str]:
    name, make_argv, _ = CASES[case]
    capsys.readouterr()
    code = entry_main(name)([*make_argv(c, tmp_path / "runs"), *extra])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_user_error_is_one_line_exit_2_and_writes_nothing(case, ctx, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SSLSKEL_DEBUG", raising=False)
    before = snapshot(ctx.root)
    code, err = run_case(case, ctx, tmp_path, capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for named in CASES[case][2]:
        assert named in lines[0], (named, lines[0])
    assert not (tmp_path / "runs").exists()  # no run directory was started
    assert snapshot(ctx.root) == before  # nothing written into the runs read (no eval JSON, no plots)


DEBUG_CASES = ["pretrain-data-label", "linear-checkpoint-garbage", "semi-config-key",
               "supervised-data-path", "report-metrics-line"]


@pytest.mark.parametrize("case", DEBUG_CASES)
@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback_and_still_exits_2(case, how, ctx, tmp_path, capsys, monkeypatch):
    if how == "env":
        monkeypatch.setenv("SSLSKEL_DEBUG", "1")
    code, err = run_case(case, ctx, tmp_path, capsys, *(["--debug"] if how == "flag" else []))
    assert code == 2
    assert err.startswith("Traceback (most recent call last)") and "Error: " in err.splitlines()[-1]


# what to make raise inside each entry point, after its arguments are parsed
BUG_SITES = {
    "pretrain/run.py": (lambda: cli_pretrain, "run_pretraining"),
    "linear_eval/run.py": (lambda: cli_evaluate, "load_run_model"),
    "semi_sup/run.py": (lambda: cli_semi, "pretraining_source"),
    "supervised/run.py": (lambda: cli_semi, "pretraining_source"),
    "report": (lambda: report, "make_plots"),
}


@pytest.mark.parametrize("name", sorted(BUG_SITES))
@pytest.mark.parametrize("exception", [RuntimeError, ValueError, KeyError])
def test_a_bug_keeps_its_traceback(name, exception, ctx, monkeypatch):
    module, attribute = BUG_SITES[name]

    def broken(*args, **kwargs):
        raise exception("a bug")

    monkeypatch.setattr(module(), attribute, broken)
    argv = [str(ctx.run)] if name == "report" else ["--run", str(ctx.run)] if name != "pretrain/run.py" else []
    with pytest.raises(exception, match="a bug"):
        entry_main(name)(argv)


def test_ctrl_c_exits_130_with_the_engines_message_and_no_traceback(ctx, capsys, monkeypatch):
    def interrupted(cfg, resume_dir=None):
        print("\ninterrupted: runs/x/checkpoints/last.pt holds epoch 3; continue with --resume runs/x")
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_pretrain, "run_pretraining", interrupted)
    assert SCRIPTS["pretrain/run.py"].main(pretrain_args(ctx, ctx.root / "unused")) == INTERRUPTED == 130
    out, err = capsys.readouterr()
    assert "interrupted: runs/x/checkpoints/last.pt holds epoch 3" in out
    assert err == ""


def test_argparse_usage_errors_keep_argparses_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        SCRIPTS["linear_eval/run.py"].main(["--protocols", "knn,svm"])
    assert exit_info.value.code == 2
    assert "--protocols" in capsys.readouterr().err


def test_a_random_label_subset_missing_classes_warns_through_semi_sup(ctx, tmp_path):
    argv = ["--checkpoint", str(ctx.run / "checkpoints" / "last.pt"), "--runs", str(tmp_path),
            "--sampling", "random", "--fractions", "0.05", "--seeds", "1", "--quiet", *FAST_FINETUNE]
    shutil.rmtree(ctx.run / "semi_random", ignore_errors=True)
    with pytest.warns(semi.LabelSubsetWarning, match=r"fraction 0.05 .*: [12] of 3 classes got no label"):
        assert SCRIPTS["semi_sup/run.py"].main(argv) == 0


def test_as_a_process_semi_sup_prints_the_label_subset_warning_as_one_line(ctx, tmp_path):
    """`python semi_sup/run.py` itself (pytest's own warning capture is not in the way here)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("SSLSKEL_DEBUG", None)
    argv = ["--checkpoint", str(ctx.run / "checkpoints" / "last.pt"), "--sampling", "random",
            "--fractions", "0.05", "--seeds", "1", "--quiet", "--overwrite", *FAST_FINETUNE]
    done = subprocess.run([sys.executable, str(REPO / "semi_sup" / "run.py"), *argv], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^warning: label subset fraction 0.05 .*of 3 classes got no label", done.stderr, re.M)


# ----------------------------------------------------------------------------- run_cli itself

def test_run_cli_turns_os_path_errors_into_one_line(capsys):
    def run(args, parser):
        open(Path(args.path) / "x.yaml")

    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    assert run_cli(run, parser, ["/no/such/dir"]) == 2
    assert capsys.readouterr().err == ("error: /no/such/dir/x.yaml: path: expected an existing file or "
                                       "directory, got no such file or directory\n")


def test_a_multi_line_user_error_prints_as_one_line():
    error = UserError("cfg.yaml", "yaml", "valid YAML", "while parsing\n  in line 3\n    ^")
    assert user_error_message(error) == "cfg.yaml: yaml: expected valid YAML, got while parsing in line 3 ^"


def test_sslskel_warnings_print_as_one_warning_line():
    with sslskel_warnings_as_lines():
        ours = warnings.formatwarning("3 of 20 classes got no label", semi.LabelSubsetWarning, semi.__file__, 1)
        theirs = warnings.formatwarning("deprecated", DeprecationWarning, "/elsewhere/lib.py", 7)
    assert ours == "warning: 3 of 20 classes got no label\n"
    assert theirs.startswith("/elsewhere/lib.py:7: DeprecationWarning: deprecated")
