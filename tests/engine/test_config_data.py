"""The `data` section of the config: augmentation presets and their arguments, the `auto`
defaults of layout / normalize (resolved on the data read, never in the config; written into
the copy a run saves), and the encoder built from the data settings."""

from __future__ import annotations

import copy
import dataclasses
import warnings

import pytest
import yaml

from sslskel.common.checkpoint import load_checkpoint
from sslskel.data.build import build_transform, load_data
from sslskel.data.transforms import PRESETS
from sslskel.engine.config import ConfigError, DataConfig, load_config, resolved_config, to_dict
from sslskel.engine.pretrain import run_pretraining
from sslskel.errors import UserError
from sslskel.eval.protocols import load_run_encoder
from sslskel.methods.base import build_method_encoder

RESERVED = ("frames", "layout", "modality")  # preset arguments set from the data section


def _valid_list(message: str) -> set[str]:
    """The names after 'valid: ' in a ConfigError message."""
    assert "valid: " in message, message
    return {name.strip() for name in message.split("valid: ", 1)[1].split(",")}


# -- data.augment / data.augment_args ------------------------------------------------------------
def test_preset_argument_is_accepted_and_kept():
    cfg = load_config(None, ["data.augment=small_pretrain", "data.augment_args.bone_scale=0.1"])
    assert cfg.data.augment == "small_pretrain"
    assert cfg.data.augment_args == {"bone_scale": 0.1}


def test_accepted_arguments_reach_the_preset():
    cfg = load_config(None, ["data.augment=small_pretrain", "data.augment_args.bone_scale=0.1",
                             "data.augment_args.max_angle=0.2", "data.layout=msr20"])
    assert type(build_transform(cfg.data, train=True)).__name__ == "Compose"


def test_unknown_preset_argument_names_the_key_and_the_valid_ones():
    with pytest.raises(ConfigError) as info:
        load_config(None, ["data.augment=small_pretrain", "data.augment_args.foo=1"])
    message = str(info.value)
    assert "'data.augment_args.foo'" in message and "small_pretrain" in message
    valid = _valid_list(message)
    assert {"bone_scale", "crop", "max_angle", "shear"} <= valid
    assert not valid & set(RESERVED)  # the data section sets those: not offered here


def test_argument_of_another_preset_is_refused():
    # bone_scale is small_pretrain's; the default preset (cmd_pretrain) does not take it
    assert load_config(None).data.augment == "cmd_pretrain"
    with pytest.raises(ConfigError) as info:
        load_config(None, ["data.augment_args.bone_scale=0.1"])
    message = str(info.value)
    assert "'data.augment_args.bone_scale'" in message and "cmd_pretrain" in message
    assert "bone_scale" not in _valid_list(message) and "min_frames" in _valid_list(message)


@pytest.mark.parametrize("key", RESERVED)
def test_reserved_preset_argument_points_to_the_data_key(key):
    with pytest.raises(ConfigError) as info:
        load_config(None, ["data.augment=small_pretrain", f"data.augment_args.{key}=3"])
    message = str(info.value)
    assert f"data.augment_args.{key}" in message
    assert f"data.{key}" in message.replace(f"data.augment_args.{key}", "")  # where to set it instead


def test_reserved_frames_argument_mentions_data_frames():
    with pytest.raises(ConfigError, match=r"data\.augment_args\.frames.*data\.frames"):
        load_config(None, ["data.augment_args.frames=3"])


def test_unknown_preset_lists_the_presets():
    with pytest.raises(ConfigError) as info:
        load_config(None, ["data.augment=nope"])
    message = str(info.value)
    assert "data.augment" in message and "'nope'" in message
    valid = _valid_list(message)
    assert {"cmd_pretrain", "small_pretrain", "aimclr_pretrain"} <= valid
    assert valid == set(PRESETS)


# -- auto defaults ---------------------------------------------------------------------------
def test_layout_and_normalize_default_to_auto():
    cfg = load_config(None)
    assert cfg.data.layout == "auto"
    assert cfg.data.normalize == "auto"
    assert cfg.data.format is None


def test_encoder_needs_a_resolved_layout():
    cfg = load_config(None)
    with pytest.raises(ValueError) as info:
        build_method_encoder(cfg, 3, 2)
    message = str(info.value)
    assert "data.layout" in message and "auto" in message
    assert "set it" in message and "load" in message and "ntu25" in message


# -- auto resolved on the data, not in the config ----------------------------------------------
@pytest.mark.parametrize("normalize, applied", [("auto", "none"), ("center", "center")])
def test_load_data_only_reads_the_config_and_the_data_carries_what_was_resolved(tiny_config, normalize, applied):
    cfg = tiny_config(f"data.normalize={normalize}")
    before = copy.deepcopy(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # auto: the tiny CMD files are not centred, as check_prenormalized says
        splits = [load_data(cfg.data, split) for split in ("train", "val")]
    assert cfg == before and to_dict(cfg) == to_dict(before)  # nothing written back, however deep
    assert (cfg.data.layout, cfg.data.normalize) == ("auto", normalize)
    for data in splits:  # CMD files: auto is the NTU joint order, read as stored
        assert (data.file_format, data.layout, data.normalization) == ("cmd", "ntu25", applied)


def test_resolved_config_is_a_copy_with_the_data_settings_written_in(tiny_config):
    cfg = tiny_config()
    before = copy.deepcopy(cfg)
    train = load_data(cfg.data, "train")
    resolved = resolved_config(cfg, train)
    assert (resolved.data.layout, resolved.data.normalize) == ("ntu25", "none")
    assert cfg == before  # a copy: the config given is unchanged
    assert dataclasses.replace(resolved, data=dataclasses.replace(resolved.data, layout="auto", normalize="auto")) \
        == cfg  # and nothing else differs
    assert build_method_encoder(resolved, 3, 2).feature_dim > 0  # the encoder needs the resolved layout


def test_build_transform_takes_the_layout_of_the_data():
    auto = DataConfig(modality="bone")
    assert repr(build_transform(auto, train=False, layout="msr20")) == \
        repr(build_transform(DataConfig(modality="bone", layout="msr20"), train=False))
    assert repr(build_transform(auto, train=True, layout="ucla20")) == \
        repr(build_transform(DataConfig(modality="bone", layout="ucla20"), train=True))
    with pytest.raises(ValueError, match=r"data.layout is 'auto'.*layout=data.layout"):
        build_transform(auto, train=False)


def test_a_run_saves_its_config_as_the_data_was_read_and_evaluation_reads_it_back(tiny_config, capsys):
    cfg = tiny_config("optim.epochs=1", "run.knn_every=1")
    before = copy.deepcopy(cfg)
    run_dir, _ = run_pretraining(cfg)
    assert cfg == before  # the caller's config: still auto
    out = capsys.readouterr().out
    assert "data.layout: auto -> ntu25 (cmd data)" in out and "data.normalize: auto -> none (cmd data)" in out
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert (saved["data"]["layout"], saved["data"]["normalize"]) == ("ntu25", "none")
    del saved["data"]["layout"], saved["data"]["normalize"]
    expected = to_dict(cfg)
    del expected["data"]["layout"], expected["data"]["normalize"]
    assert saved == expected  # the rest as given
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "last.pt")["config"]["data"]
    assert (checkpoint["layout"], checkpoint["normalize"]) == ("ntu25", "none")
    evaluated, encoder, _ = load_run_encoder(run_dir=run_dir)
    assert (evaluated.data.layout, evaluated.data.normalize) == ("ntu25", "none")

    # a resume may leave them auto (it reads the data as the run did), not change them
    with pytest.raises(UserError, match=r"data.normalize: expected 'none'.*got 'center'"):
        run_pretraining(tiny_config("optim.epochs=2", "data.normalize=center"), resume_dir=run_dir)
    longer = tiny_config("optim.epochs=2")
    _, summary = run_pretraining(longer, resume_dir=run_dir)
    assert summary["epochs"] == 2 and longer.data.layout == "auto"
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())["data"]
    assert (saved["layout"], saved["normalize"]) == ("ntu25", "none")


# -- encoder input size from the data section -----------------------------------------------------
@pytest.mark.parametrize("modality, layout, persons, features", [
    ("joint_motion", "ntu25", 2, 2 * 3 * 25 * 2),  # joint and motion stacked: 6 channels
    ("joint", "ntu25", 2, 3 * 25 * 2),
    ("bone", "ntu25", 2, 3 * 25 * 2),
    ("joint_motion", "msr20", 1, 2 * 3 * 20 * 1),
])
def test_gru_input_norm_width_follows_modality_layout_and_persons(modality, layout, persons, features):
    cfg = load_config(None, ["encoder.name=gru", f"data.modality={modality}", f"data.layout={layout}",
                             "encoder.args={hidden_size: 8, num_layers: 1}"])
    encoder = build_method_encoder(cfg, 3, persons)
    assert type(encoder).__name__ == "BiGRUEncoder"
    assert encoder.input_norm.num_features == features
    assert encoder.gru.input_size == features


def test_data_synthetic_is_checked_against_the_one_synthetic_config():
    from sslskel.data.synthetic import SyntheticConfig

    cfg = load_config(None, ["data.synthetic={num_classes: 10, seed: 3, idle_frames: [2, 20]}"])
    built = SyntheticConfig.from_mapping(cfg.data.synthetic)
    assert (built.num_classes, built.seed, built.idle_frames, built.num_subjects) == (10, 3, (2, 20), 20)
    assert SyntheticConfig.from_mapping({}) == SyntheticConfig()  # the default config: the default set
    with pytest.raises(ConfigError, match=r"unknown key 'data.synthetic.num_class'.*num_classes"):
        load_config(None, ["data.synthetic.num_class=3"])
    with pytest.raises(ConfigError, match=r"data.synthetic: num_classes must be in \[1, 30\]"):
        load_config(None, ["data.synthetic.num_classes=99"])
