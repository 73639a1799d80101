"""Values that passed the start-up checks and then crashed or misled: each is now refused at
start-up with one `error:` line naming the key (exit 2, no run directory), or warned about.

Covers the sane ranges of temperatures, loss weights and learning rates, the augmentation
preset's arguments, encoder sizes, seeds, devices, rules between keys, schedules that never
take effect, too little data for a batch or for a contrast, a layout that contradicts the
data, a loop of symbolic links, and which source (config file or command line) a bad value
is blamed on.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from sslskel.data.build import load_data
from sslskel.data.errors import DataFormatError
from sslskel.data.prepare import write_cmd_layout
from sslskel.engine.config import ConfigError, load_config
from sslskel.engine.startup_warnings import schedule_warnings
from sslskel.errors import UserError
from sslskel.eval.protocols import evaluate
from sslskel.methods import build_method
from sslskel.methods.base import build_method_encoder

from support import REPO, TINY_OVERRIDES, load_script, make_tiny_clips


@pytest.fixture(scope="module")
def pretrain_script():
    return load_script("pretrain/run.py")


def run_refused(script, tmp_path, capsys, args, key):
    """`pretrain/run.py ARGS` exits 2 with one `error:` line naming `key`; no run directory."""
    out_dir = tmp_path / "runs"
    code = script.main([*args, f"run.out_dir={out_dir}", "run.progress=false", "run.threads=1"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and key in lines[0], err
    assert "Traceback" not in err, err
    assert not out_dir.exists() or not any(out_dir.iterdir())
    return lines[0]


# -- sane ranges: a temperature, a loss weight, a learning rate ---------------------------------------
OVERFLOWS = [  # each passed start-up and overflowed in the first steps, or ended with Infinity in summary.json
    ("cvmim", "cvmim.cross_view_weight=1e308"),
    ("simclr", "simclr.temperature=1e-45"),
    ("vsimclr", "vcl.beta=1e308"),
    ("moco", "optim.lr=1e300"),
    ("cvmim", "optim.groups.q.lr=1e300"),
    ("moco", "moco.temperature=1e-30"),
    ("simclr", "simclr.temperature=1e-30"),
    ("vmoco", "vcl.beta=1e30"),
    ("cvmim", "cvmim.prior_weight=1e38"),
    ("halp", "halp.mu=1e30"),
    ("moco", "linear.knn_temperature=1e-30"),
    ("moco", "optim.gamma=1e308"),
    ("moco", "optim.weight_decay=1e30"),
]


@pytest.mark.parametrize("method, override", OVERFLOWS, ids=[o for _, o in OVERFLOWS])
def test_scales_out_of_their_sane_range_are_refused_at_start_up(pretrain_script, tmp_path, capsys, method, override):
    key = override.split("=")[0]
    line = run_refused(pretrain_script, tmp_path, capsys, ["--method", method, "optim.epochs=1", override], key)
    assert line.startswith(f"error: {key}: expected a number in "), line


def test_the_paper_values_stay_valid():
    load_config(REPO / "configs/ntu60_xsub/cvmim.yaml", [])
    for method in ("moco", "halp", "simclr", "vsimclr", "vmoco", "cvmim"):
        load_config(REPO / f"configs/synthetic/{method}.yaml", ["optim.lr=30", "linear.optim.lr=30"])


# -- the augmentation preset's arguments, by name ------------------------------------------------------
AUGMENT_ARGS = ["max_angle=.nan", "noise_std=-1", "crop=[2,1]", "crop=abc", "p_corrupt=5", "bone_scale=2",
                "min_frames=-5", "corrupt_joints=3", "shear=.inf", "crop=[0.5]"]


@pytest.mark.parametrize("arg", AUGMENT_ARGS)
def test_augment_arguments_are_checked_by_name(arg):
    key = "data.augment_args." + arg.split("=")[0]
    with pytest.raises(ConfigError) as info:
        load_config(None, ["data.augment=small_pretrain", f"data.augment_args.{arg}"])
    assert str(info.value).startswith(f"{key}: expected "), info.value
    assert "preset small_pretrain" in str(info.value)


def test_every_argument_of_every_preset_has_a_rule():
    from sslskel.data.transforms import PRESETS
    from sslskel.engine.argument_rules import PRESET_ARGUMENTS

    for name, factory in PRESETS.items():
        params = set(inspect.signature(factory).parameters) - {"frames", "layout", "modality"}
        assert params <= set(PRESET_ARGUMENTS), (name, params - set(PRESET_ARGUMENTS))


def test_augment_arguments_within_range_load():
    cfg = load_config(None, ["data.augment=small_pretrain", "data.augment_args={crop: [0.3, 1.0], max_angle: 0.5, "
                             "noise_std: 0.01, bone_scale: 0.2, p_corrupt: 1, corrupt_joints: 0.5, min_frames: 4}"])
    assert cfg.data.augment_args["crop"] == [0.3, 1.0]


def test_augment_argument_crashing_the_run_is_refused_at_start_up(pretrain_script, tmp_path, capsys):
    run_refused(pretrain_script, tmp_path, capsys, ["data.augment=small_pretrain", "data.augment_args.crop=[2,1]"],
                "data.augment_args.crop")


# -- encoder sizes, seed, device, rules between keys -------------------------------------------------
START_UP = [
    (["encoder.args.hidden_size=0"], "encoder.args.hidden_size"),
    (["encoder.args.num_layers=0"], "encoder.args.num_layers"),
    (["encoder.args.dropout=1.5"], "encoder.args.dropout"),
    ([f"run.seed={2**70}"], "run.seed"),
    (["--method", "simclr", "optim.batch_size=1"], "optim.batch_size"),
    (["--method", "cvmim", "cvmim.project_2d=true", "data.modality=bone"], "cvmim.project_2d"),
    (["data.frames=100000"], "data.frames"),
    (["run.device=cuda:99"], "run.device"),
]


@pytest.mark.parametrize("args, key", START_UP, ids=[" ".join(a) for a, _ in START_UP])
def test_start_up_refuses(pretrain_script, tmp_path, capsys, args, key):
    run_refused(pretrain_script, tmp_path, capsys, [*args, "optim.epochs=1"], key)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device: run.device=cuda is valid")
def test_cuda_without_a_gpu_is_one_line(pretrain_script, tmp_path, capsys):
    line = run_refused(pretrain_script, tmp_path, capsys, ["run.device=cuda", "optim.epochs=1"], "run.device")
    assert "no CUDA device" in line


# -- schedules that silently change the method: warned about at start-up ------------------------------
def test_schedule_warnings_name_each_key():
    cfg = load_config(None, ["method=halp", "optim.epochs=3", "halp.start_epoch=3", "optim.milestones=[1, 3]",
                             "run.knn_every=4", "linear.knn_k=[1, 1000]"])
    found = schedule_warnings(cfg, num_train=96)
    assert len(found) == 4, found
    assert found[0].startswith("halp.start_epoch=3 >= optim.epochs=3") and "plain MoCo" in found[0]
    assert found[1].startswith("optim.milestones [3] >= optim.epochs=3")
    assert found[2].startswith("run.knn_every=4 > optim.epochs=3")
    assert found[3].startswith("linear.knn_k [1000] > the 96 training clips")
    fine = load_config(None, ["method=halp", "optim.epochs=3", "halp.start_epoch=2", "optim.milestones=[2]",
                              "run.knn_every=3", "linear.knn_k=[1, 20]"])
    assert schedule_warnings(fine, num_train=96) == []


def test_group_milestones_past_the_end_are_warned_about():
    cfg = load_config(None, ["method=cvmim", "optim.epochs=2", "optim.milestones=[1]", "optim.groups.q.milestones=[9]",
                             "run.knn_every=1"])
    assert schedule_warnings(cfg) == ["optim.groups.q.milestones [9] >= optim.epochs=2: the learning rate never "
                                      "steps down there"]


def test_pretraining_prints_the_warnings_as_lines(tiny_data_dir, tmp_path):
    """In a process of its own: pytest would catch the warnings before they print."""
    args = ["--method", "halp", f"data.path={tiny_data_dir}", f"run.out_dir={tmp_path}", *TINY_OVERRIDES,
            "halp.num_prototypes=2", "halp.recent_keys=16", "optim.epochs=1", "optim.milestones=[5]",
            "halp.start_epoch=1", "run.knn_every=3", "linear.knn_k=[1000]", "run.threads=1"]
    done = subprocess.run([sys.executable, str(REPO / "pretrain/run.py"), *args], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    for text in ("halp.start_epoch=1 >= optim.epochs=1", "optim.milestones [5]", "run.knn_every=3",
                 "linear.knn_k [1000] > the 48 training clips"):
        assert any(text in line for line in warned), done.stderr
    assert "UserWarning" not in done.stderr, done.stderr


# -- too little data, a layout that contradicts it, a loop of links -------------------------------------
def write_cmd(root, n_train, n_val=6, num_classes=3):
    for split, n, seed in (("train", n_train, 0), ("val", n_val, 1)):
        data, lengths, labels, names = make_tiny_clips(n, num_classes, 24, seed)
        write_cmd_layout(root, split, data, num_frames=lengths, labels=labels, names=names)
    return root


DATA_CASES = {
    "one training clip": (1, ["optim.batch_size=1"], "training clips"),
    "fewer clips than a batch": (48, ["optim.batch_size=64", "moco.queue_size=64"], "training clips"),
    "exclude_classes leaving one class": (48, ["data.exclude_classes=[0, 1]"], "data.exclude_classes"),
    "a layout the data contradicts": (48, ["data.layout=ucla20"], "data.layout"),
}


@pytest.mark.parametrize("case", sorted(DATA_CASES))
def test_data_that_cannot_train_is_one_line(pretrain_script, tmp_path, capsys, case):
    n_train, extra, key = DATA_CASES[case]
    root = write_cmd(tmp_path / "data", n_train)
    run_refused(pretrain_script, tmp_path, capsys,
                [f"data.path={root}", *TINY_OVERRIDES, "run.knn_every=0", *extra], key)


def test_a_run_of_one_ntu_layout_on_msr_data_names_the_layout(tmp_path):
    """What linear_eval of an NTU run meets on MSR data: the run's config says ntu25."""
    for name in ("a01_s01_e01", "a02_s02_e01"):
        np.savetxt(tmp_path / f"{name}_skeleton3D.txt", np.ones((20 * 3, 4)))
    cfg = load_config(None, [f"data.path={tmp_path}", "data.layout=ntu25"])
    with pytest.raises(DataFormatError, match=r"data\.layout: expected the layout of the data, msr20 .*got 'ntu25'"):
        load_data(cfg.data, "train")


def test_evaluating_an_ntu_run_on_msr_data_is_one_line(pretrain_script, tiny_data_dir, tmp_path, capsys):
    out_dir = tmp_path / "runs"
    assert pretrain_script.main([f"data.path={tiny_data_dir}", f"run.out_dir={out_dir}", *TINY_OVERRIDES,
                                 "optim.epochs=1", "run.knn_every=0", "run.threads=1"]) == 0
    (run_dir,) = out_dir.iterdir()
    msr = tmp_path / "msr"
    msr.mkdir()
    for name in ("a01_s01_e01", "a02_s02_e01"):
        np.savetxt(msr / f"{name}_skeleton3D.txt", np.ones((20 * 3, 4)))
    capsys.readouterr()
    code = load_script("linear_eval/run.py").main(["--run", str(run_dir), "--protocols", "knn", f"data.path={msr}",
                                                   "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert [line for line in err.splitlines() if line.startswith("error: ")] == [
        f"error: {msr}: data.layout: expected the layout of the data, msr20 (set data.layout=msr20 or auto), "
        "got 'ntu25'"], err
    assert "Traceback" not in err


def test_a_loop_of_symbolic_links_is_one_line(pretrain_script, tmp_path, capsys):
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    line = run_refused(pretrain_script, tmp_path, capsys, [f"data.path={loop}", "optim.epochs=1"], str(loop))
    assert "loop of symbolic links" in line
    folder = tmp_path / "msr"
    folder.mkdir()
    for name in ("a01_s01_e01", "a02_s02_e01", "a01_s03_e01"):
        np.savetxt(folder / f"{name}_skeleton3D.txt", np.ones((20 * 3, 4)))
    os.symlink(folder / "x", folder / "a03_s01_e01_skeleton3D.txt")
    os.symlink(folder / "a03_s01_e01_skeleton3D.txt", folder / "x")
    with pytest.raises(DataFormatError, match="a03_s01_e01_skeleton3D.txt: path: .*loop of symbolic links"):
        load_data(load_config(None, [f"data.path={folder}"]).data, "train")


# -- which source a bad value is blamed on --------------------------------------------------------------
@pytest.mark.parametrize("override, key", [("optim.groups.q.milestones=[-1]", "optim.groups.q.milestones[0]"),
                                           ("data.exclude_classes=[-1]", "data.exclude_classes[0]"),
                                           ("optim.milestones=[1, -2]", "optim.milestones[1]")])
def test_a_bad_value_from_the_command_line_is_not_blamed_on_the_file(override, key):
    config = REPO / "configs/synthetic/cvmim.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(config, [override])
    assert str(info.value).startswith(f"{key}: expected "), info.value


def test_a_bad_value_in_the_file_is_blamed_on_the_file(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("data:\n  exclude_classes: [-1]\n")
    with pytest.raises(ConfigError, match=rf"^{config}: data\.exclude_classes\[0\]: expected"):
        load_config(config, ["optim.epochs=2"])


def eval_config(tiny_data_dir, *extra):
    return load_config(None, [f"data.path={tiny_data_dir}", *TINY_OVERRIDES, "data.layout=ntu25",
                              "run.device=cpu", *extra])


def test_exclude_classes_under_the_uncertainty_protocol_is_named_as_such(tiny_data_dir):
    cfg = eval_config(tiny_data_dir, "method=vmoco", "data.exclude_classes=[500]")
    method = build_method(cfg, in_channels=3, num_persons=2)
    with pytest.raises(UserError) as info:
        evaluate(cfg, method, protocols=("uncertainty",), progress=False)
    assert str(info.value).startswith("data.exclude_classes: class ids: expected 0-based ids in [0, 2]"), info.value
    with pytest.raises(UserError, match=r"^--ood-classes: class ids"):
        evaluate(cfg, method, protocols=("uncertainty",), progress=False, ood_classes=[400])


def test_single_shot_classes_outside_the_data_are_refused_before_training(tiny_data_dir):
    cfg = eval_config(tiny_data_dir, "linear.classes=[500]")
    encoder = build_method_encoder(cfg, 3, 2)
    with pytest.raises(UserError, match=r"^linear\.classes: class ids: expected 0-based ids in \[0, 2\].*got \[500\]"):
        evaluate(cfg, encoder, protocols=("single-shot",), progress=False)
    with pytest.raises(UserError, match=r"^linear\.classes: class ids: expected at least two classes"):
        evaluate(eval_config(tiny_data_dir, "linear.classes=[1]"), encoder, protocols=("single-shot",), progress=False)


def test_knn_k_larger_than_the_training_set_is_warned_about_in_evaluation(tiny_data_dir):
    cfg = eval_config(tiny_data_dir, "linear.knn_k=[5000]")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate(cfg, build_method_encoder(cfg, 3, 2), protocols=("knn",), progress=False)
    assert any("linear.knn_k [5000] > the 48 training clips" in str(w.message) for w in caught)
