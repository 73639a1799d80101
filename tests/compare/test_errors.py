"""Bad input gets one `error:` line and exit code 2 before anything runs (nothing is written)."""

from __future__ import annotations

import pytest

from sslskel.compare import main
from sslskel.compare.cli import build_parser
from sslskel.compare.jobs import study_jobs
from sslskel.compare.plan import make_study, parse_protocols

from support import MSR_DIR, REPO, needs_msr


def run_error(capsys, tmp_path, *argv) -> str:
    out_dir = tmp_path / "study"
    assert main([*argv, "--out", str(out_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert not out_dir.exists()  # nothing ran, nothing was written
    return err[0]


def test_unknown_method(capsys, tmp_path):
    line = run_error(capsys, tmp_path, "--methods", "moco,nope")
    assert "--methods: nope: expected one of" in line and "halp" in line


def test_unknown_protocol(capsys, tmp_path):
    assert "got 'bogus'" in run_error(capsys, tmp_path, "--protocols", "linear,bogus")


def test_bad_label_fraction(capsys, tmp_path):
    assert "semi" in run_error(capsys, tmp_path, "--protocols", "linear,semi:1.5")


def test_uncertainty_on_a_deterministic_method(capsys, tmp_path):
    line = run_error(capsys, tmp_path, "--methods", "vmoco,moco", "--protocols", "uncertainty")
    assert "moco, a deterministic method" in line


@needs_msr
def test_single_shot_on_a_single_camera_set(capsys, tmp_path):
    line = run_error(capsys, tmp_path, "--data", str(MSR_DIR), "--methods", "moco", "--protocols", "single-shot")
    assert "single-shot" in line and "one camera" in line


def test_dataset_without_a_config(capsys, tmp_path):
    ntu = tmp_path / "ntu_raw"
    ntu.mkdir()
    (ntu / "S001C001P001R001A001.skeleton").write_text("")  # NTU's raw format: xsub or xview?
    line = run_error(capsys, tmp_path, "--data", str(ntu))
    assert "--data" in line and "config" in line and "ntu_raw" in line


def test_config_folder_without_the_method(capsys, tmp_path):
    line = run_error(capsys, tmp_path, "--config-dir", str(tmp_path), "--methods", "moco")
    assert "moco.yaml" in line and "no such file" in line


def test_bad_override_names_the_key(capsys, tmp_path):
    assert "optim.lr" in run_error(capsys, tmp_path, "--methods", "moco", "optim.lr=abc")


def test_baseline_must_be_studied(capsys, tmp_path):
    assert "--baseline" in run_error(capsys, tmp_path, "--methods", "moco", "--baseline", "halp")


def test_protocol_list_parsing():
    assert parse_protocols("semi:0.05,0.1,knn") == [("semi", (0.05, 0.1)), ("knn", None)]
    assert parse_protocols("linear") == [("linear", None)]
    with pytest.raises(ValueError):
        parse_protocols("linear,linear")


def test_study_file_settings_are_checked(capsys, tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text("methods: [moco, nope]\nseeds: [0, 1]\n")
    assert "nope" in run_error(capsys, tmp_path, "--study", str(study))
    study.write_text("methods: moco\nepochs: 3\n")
    assert "epochs" in run_error(capsys, tmp_path, "--study", str(study))


def test_disentangle_needs_pose_and_view_embeddings(capsys, tmp_path):
    assert "cvmim" in run_error(capsys, tmp_path, "--methods", "moco", "--protocols", "linear,disentangle")


def test_single_shot_on_a_multi_camera_set_is_accepted():
    args = build_parser().parse_args(["--methods", "moco,cvmim", "--protocols", "linear,single-shot"])
    args.overrides = []
    study = make_study(args)  # the synthetic set: several cameras, so nothing is refused
    assert study.eval_protocols == ["linear", "single-shot"] and study.dataset == "synthetic"


def test_unknown_supervised_variant(capsys, tmp_path):
    line = run_error(capsys, tmp_path, "--methods", "moco", "--supervised", "ce,bogus")
    assert "--supervised: bogus: expected a comma list of ce, supcon, vsupcon, gcl" in line


def test_skeletongcl_needs_an_encoder_with_graphs(capsys, tmp_path):
    line = run_error(capsys, tmp_path, "--methods", "moco", "--supervised", "ce,gcl")  # moco.yaml: the BiGRU
    assert "--supervised gcl" in line and "gru" in line


def test_no_methods_needs_a_supervised_config(capsys, tmp_path):
    line = run_error(capsys, tmp_path, "--methods", "none", "--supervised", "ce,supcon")
    assert "--methods" in line and "--supervised-config" in line


def test_a_study_of_supervised_runs_only(tmp_path):
    args = build_parser().parse_args(["--methods", "none", "--supervised", "ce,gcl", "--supervised-config",
                                      str(REPO / "configs" / "synthetic" / "supervised_ctrgcn.yaml")])
    args.overrides = []
    study = make_study(args)
    assert study.methods == [] and study.supervised == ["ce", "gcl"] and not study.floors
    jobs = study_jobs(study, tmp_path)
    assert [job.name for job in jobs] == [f"supervised {v} s{s}" for s in (0, 1, 2) for v in ("ce", "gcl")]
    argv, _ = jobs[1].command(1, {})
    assert "--gcl" in argv and "run.seed=0" in argv and str(study.supervised_config) in argv
    assert len({job.key for job in jobs}) == 6  # each variant and seed its own run


def test_a_method_override_names_a_studied_method(capsys, tmp_path):
    line = run_error(capsys, tmp_path, "--methods", "moco,halp", "cvmim:optim.epochs=3")
    assert "cvmim:optim.epochs=3" in line and "moco, halp" in line
    # a key the named method's config lacks still fails, naming it
    assert "halp.start_epoch" in run_error(capsys, tmp_path, "--methods", "moco,halp", "halp.start_epoch=9")


def test_a_method_override_reaches_that_method_only(tmp_path):
    args = build_parser().parse_args(["--methods", "moco,halp", "optim.epochs=4", "halp:halp.start_epoch=2"])
    args.overrides = args.items
    study = make_study(args)
    assert study.pretrain_overrides("halp", 0)[-2:] == ["optim.epochs=4", "halp.start_epoch=2"]
    assert study.pretrain_overrides("moco", 0)[-1] == "optim.epochs=4"
    jobs = {job.name: job for job in study_jobs(study, tmp_path)}
    halp_argv, _ = jobs["pretrain halp s0"].command(1, {})
    moco_argv, _ = jobs["pretrain moco s0"].command(1, {})
    assert "halp.start_epoch=2" in halp_argv and not any("start_epoch" in a for a in moco_argv)
    # a plain override keeps its hash: moco's run is the one a study without the halp override makes
    plain = build_parser().parse_args(["--methods", "moco,halp", "optim.epochs=4"])
    plain.overrides = plain.items
    assert jobs["pretrain moco s0"].key == {j.name: j for j in study_jobs(make_study(plain), tmp_path)}[
        "pretrain moco s0"].key
