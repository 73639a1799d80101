"""compare.jobs: the command line each job runs, and where collect finds its numbers."""

import json

from sslskel.compare.cli import build_parser
from sslskel.compare.collect import RANDOM_ROW, collect
from sslskel.compare.jobs import study_jobs
from sslskel.compare.plan import make_study


def semi_study(*extra):
    args = build_parser().parse_args(["--methods", "moco", "--seeds", "0,1", "--protocols", "semi:0.05,0.1",
                                      "--no-floors", "--no-ceiling", *extra])
    args.overrides = args.items
    return make_study(args)


def test_the_semi_protocol_has_a_scratch_row_per_seed(tmp_path):
    jobs = {job.name: job for job in study_jobs(semi_study("optim.epochs=2"), tmp_path)}
    assert set(jobs) == {"pretrain moco s0", "semi moco s0", "semi scratch s0",
                         "pretrain moco s1", "semi moco s1", "semi scratch s1"}
    argv, _ = jobs["semi scratch s1"].command(1, {})
    # from random weights, the baseline's config and overrides, the pretrained runs' label subset (seed 1)
    assert argv[argv.index("--init") + 1] == "scratch" and "run.seed=1" in argv and "optim.epochs=2" in argv
    assert argv[argv.index("--fractions") + 1] == "0.05,0.1" and argv[argv.index("--seeds") + 1] == "1"
    assert jobs["semi scratch s0"].key != jobs["semi scratch s1"].key
    assert not any("scratch" in job.name for job in study_jobs(semi_study("--no-random-init"), tmp_path))


def test_a_scratch_fine_tune_fills_the_random_init_row(tmp_path):
    study = semi_study()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    summary = {"summary": [{"fraction": 0.05, "final_top1_mean": 26.0}, {"fraction": 0.1, "final_top1_mean": 30.5}]}
    (run_dir / "semi_scratch_class_balanced.json").write_text(json.dumps(summary))
    marker = {"kind": "semi_scratch", "seed": 1, "method": "moco", "run_dir": str(run_dir)}
    assert collect(study, {"semi scratch s1": marker}) == {RANDOM_ROW: {"semi 0.05": {1: 26.0},
                                                                        "semi 0.1": {1: 30.5}}}
