"""Every setting is checked when the config loads, before any data is read.

The numeric keys are found by walking the settings dataclasses, and each must have an entry
in BOUNDS (a new numeric setting without one fails `test_every_numeric_key_has_bounds`).
For each key, values at, just inside and just outside its bounds are generated: the invalid
ones must raise a ConfigError naming the key, the valid ones must load. NaN and infinity,
every enum, the rules across sections and the pretraining entry point (exit code 2, nothing
written) are covered too.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing

import pytest

from sslskel.cluster.spherical_kmeans import BACKENDS
from sslskel.data.layouts import LAYOUTS
from sslskel.data.modalities import MODALITIES
from sslskel.data.normalize import NORMALIZE_MODES
from sslskel.data.readers import FILE_FORMATS
from sslskel.data.transforms import PRESETS
from sslskel.engine.config import (
    AMP_MODES,
    BENCHMARKS_BY_FORMAT,
    EVAL_PRESETS,
    GROUP_KEYS,
    OPTIMIZERS,
    SAMPLINGS,
    ConfigError,
    OptimConfig,
    config_class,
    load_config,
    save_config,
)
from sslskel.methods import METHODS
from sslskel.methods.auxiliary import AUXILIARY_SETTINGS
from sslskel.methods.gcl.contrast import CONTRASTS, VARIANTS
from sslskel.methods.hallucinate import FILTERS
from sslskel.methods.moco import MoCo

from support import load_script

INF = math.inf


def sections(cls, prefix: str = ""):
    """(dotted name, dataclass) of every section below `cls`, nested ones (linear.optim) too."""
    for name, tp in typing.get_type_hints(cls).items():
        if dataclasses.is_dataclass(tp):
            yield prefix + name, tp
            yield from sections(tp, f"{prefix}{name}.")


# every section of every method: data, optim, run, linear(.optim), finetune(.optim), gcl, moco, halp
# (encoder holds only the encoder's own arguments, checked against its constructor)
# every method's sections and the auxiliary losses' (gcl, supcon), which the supervised stage adds
SECTIONS = dict(section for method in sorted(METHODS)
                for section in sections(config_class(method, tuple(AUXILIARY_SETTINGS))))


@dataclasses.dataclass(frozen=True)
class Bounds:
    """low <= value <= high (strict where open); integer: the key takes ints only."""

    low: float
    high: float = INF
    open_low: bool = False
    open_high: bool = False
    integer: bool = True


def real(low, high=INF, open_low=False, open_high=False) -> Bounds:
    return Bounds(low, high, open_low, open_high, integer=False)


POSITIVE = real(0, open_low=True)
UNIT = real(0, 1)
RATIO = real(0, 1, open_low=True)  # (0, 1]
# the sane ranges of sslskel.methods.settings.SCALES
TEMPERATURE = real(1e-3, 100)
WEIGHT = real(0, 1000)
LR = real(0, 100, open_low=True)

OPTIM_BOUNDS = {"lr": LR, "momentum": UNIT, "weight_decay": UNIT, "batch_size": Bounds(1),
                "epochs": Bounds(1), "milestones": Bounds(0), "gamma": RATIO, "warmup_epochs": Bounds(0)}
BOUNDS = {
    **{f"{section}.{key}": b for section in ("optim", "linear.optim", "finetune.optim")
       for key, b in OPTIM_BOUNDS.items()},
    "data.frames": Bounds(1, 10_000), "data.num_workers": Bounds(0), "data.exclude_classes": Bounds(0),
    "run.seed": Bounds(0, 2**32 - 1), "run.checkpoint_every": Bounds(0), "run.knn_every": Bounds(0),
    "run.log_every": Bounds(1),  # run.threads (auto | N): tests/common/test_threads.py
    "linear.eval_ratio": RATIO, "linear.knn_k": Bounds(1), "linear.knn_temperature": TEMPERATURE,
    "linear.seed": Bounds(0, 2**32 - 1),
    "finetune.eval_ratio": RATIO, "finetune.fractions": RATIO, "finetune.seeds": Bounds(1),
    "finetune.repeat": Bounds(1, 1000),
    "gcl.per_class": Bounds(1), "gcl.dim": Bounds(1), "gcl.temperature": TEMPERATURE,
    "gcl.semantic_momentum": real(0, 1, open_low=True, open_high=True),
    "gcl.num_hard_positives": Bounds(1), "gcl.num_hard_negatives": Bounds(0),
    "gcl.num_random_negatives": Bounds(0),
    "moco.queue_size": Bounds(1), "moco.momentum": UNIT, "moco.temperature": TEMPERATURE,
    "moco.feature_dim": Bounds(1), "moco.mlp_hidden": Bounds(1),
    "halp.num_prototypes": Bounds(2), "halp.recent_keys": Bounds(2), "halp.refresh_every": Bounds(1),
    "halp.num_positives": Bounds(1), "halp.lam": UNIT, "halp.mu": WEIGHT, "halp.start_epoch": Bounds(0),
    "halp.kmeans_restarts": Bounds(1),
    "linear.classes": Bounds(0),
    "cvmim.pose_dim": Bounds(1), "cvmim.view_dim": Bounds(1), "cvmim.critic_hidden": Bounds(1),
    "cvmim.crop_min": RATIO, "cvmim.cross_view_weight": WEIGHT, "cvmim.representation_weight": WEIGHT, "cvmim.disentangle_weight": WEIGHT,
    "cvmim.prior_weight": WEIGHT, "cvmim.azimuth_deg": real(0, 180), "cvmim.elevation_deg": real(0, 90),
    "cvmim.roll_deg": real(0, 90),
    "simclr.temperature": TEMPERATURE, "simclr.feature_dim": Bounds(1), "simclr.mlp_hidden": Bounds(1),
    "vcl.beta": WEIGHT, "vcl.eval_samples": Bounds(1),
    "supcon.weight": WEIGHT, "supcon.temperature": TEMPERATURE, "supcon.hidden": Bounds(1), "supcon.dim": Bounds(1),
    "supcon.beta": WEIGHT,
}
# what a key's valid values need of the other keys (the rules across keys)
CONTEXT = {
    "moco.queue_size": ["optim.batch_size=1"],  # moco.queue_size >= optim.batch_size
    "halp.recent_keys": ["halp.num_prototypes=2"],  # num_prototypes <= recent_keys
    "cvmim.pose_dim": ["cvmim.fusion=cat"],  # moe / poe need pose_dim == view_dim
    "cvmim.view_dim": ["cvmim.fusion=cat"],
}


def numeric_keys() -> dict[str, object]:
    """Every int / float / list-of-number field of SECTIONS, with its annotation."""
    found = {}
    for section, cls in SECTIONS.items():
        for name, tp in typing.get_type_hints(cls).items():
            item = typing.get_args(tp)[0] if typing.get_origin(tp) is list else tp
            if item in (int, float):
                found[f"{section}.{name}"] = tp
    return found


def method_of(key: str) -> str:
    section = key.split(".")[0]
    return {"halp": "halp", "cvmim": "cvmim", "simclr": "simclr", "vcl": "vsimclr"}.get(section, "moco")


def cases(bounds: Bounds):
    """(value, valid) at, just inside and just outside the bounds."""
    step = 1 if bounds.integer else 1e-3
    out = []
    if bounds.low != -INF:
        out += [(bounds.low, not bounds.open_low), (bounds.low - step, False), (bounds.low + step, True)]
    if bounds.high != INF:
        out += [(bounds.high, not bounds.open_high), (bounds.high + step, False), (bounds.high - step, True)]
    else:
        out.append((bounds.low + 7 * step if bounds.integer else 1e3, True))
    if not bounds.integer:
        out += [(math.nan, False), (INF, False), (-INF, False)]
    return out


def yaml_number(value) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return repr(value)


def override(key: str, tp, value) -> str:
    text = yaml_number(value)
    return f"{key}=[{text}]" if typing.get_origin(tp) is list else f"{key}={text}"


def numeric_cases():
    keys = numeric_keys()
    for key, bounds in BOUNDS.items():
        for value, valid in cases(bounds):
            yield pytest.param(key, keys[key], value, valid, id=f"{key}={value}")


def load(key: str, *overrides: str):
    return load_config(None, [f"method={method_of(key)}", *CONTEXT.get(key, []), *overrides], auxiliary=True)


def test_every_numeric_key_has_bounds():
    assert {"data", "optim", "run", "linear.optim", "finetune", "gcl", "moco", "halp"} <= set(SECTIONS)
    assert set(numeric_keys()) == set(BOUNDS)


@pytest.mark.parametrize("key, tp, value, valid", list(numeric_cases()))
def test_numeric_bounds(key, tp, value, valid):
    text = override(key, tp, value)
    if valid:
        cfg = load(key, text)
        got = cfg
        for part in key.split("."):
            got = getattr(got, part)
        assert got == ([value] if typing.get_origin(tp) is list else value)
        return
    with pytest.raises(ConfigError) as info:
        load(key, text)
    assert key in named_keys(str(info.value)), info.value


def named_keys(message: str) -> list[str]:
    """The keys a `KEY[, KEY...]: expected ..., got ...` message names (list items as the list)."""
    assert ": expected " in message and ", got " in message, message
    return re.sub(r"\[\d+\]", "", message.split(": expected ", 1)[0]).split(", ")


# -- per-group optimiser overrides ------------------------------------------------------------
class TwoGroups(MoCo):
    """MoCo with a second parameter group, so optim.groups.critic.<key> can be given."""

    name = "robust_two_groups"
    groups = ("main", "critic")


@pytest.fixture
def two_groups(monkeypatch):
    monkeypatch.setitem(METHODS, TwoGroups.name, TwoGroups)
    return TwoGroups.name


def group_cases():
    for key in GROUP_KEYS:
        if key in OPTIM_BOUNDS:
            for value, valid in cases(OPTIM_BOUNDS[key]):
                tp = typing.get_type_hints(OptimConfig)[key]
                yield pytest.param(key, tp, value, valid, id=f"{key}={value}")


@pytest.mark.parametrize("key, tp, value, valid", list(group_cases()))
def test_group_overrides_have_the_same_bounds(two_groups, key, tp, value, valid):
    text = override(f"optim.groups.critic.{key}", tp, value)
    if valid:
        assert load_config(None, [f"method={two_groups}", text]).optim.groups["critic"][key] is not None
        return
    with pytest.raises(ConfigError) as info:
        load_config(None, [f"method={two_groups}", text])
    assert named_keys(str(info.value)) == [f"optim.groups.critic.{key}"], info.value


def test_nan_typed_as_text_is_refused_too():
    for text in ("optim.lr=nan", "optim.lr=inf", "optim.weight_decay=-inf", "halp.lam=NaN"):
        with pytest.raises(ConfigError, match=rf"^{text.split('=')[0]}: expected"):
            load_config(None, ["method=halp", text])


# -- enums: the valid values are listed, each is accepted --------------------------------------
ENUMS = {
    "optim.optimizer": OPTIMIZERS, "linear.optim.optimizer": OPTIMIZERS, "finetune.optim.optimizer": OPTIMIZERS,
    "data.modality": tuple(MODALITIES), "data.augment": tuple(PRESETS), "linear.augment": tuple(PRESETS),
    "finetune.augment": tuple(PRESETS), "data.layout": ("auto", *LAYOUTS), "data.normalize": NORMALIZE_MODES,
    "run.device": ("auto", "cpu", "cuda", "cuda:0", "cuda:3"), "run.amp": AMP_MODES,
    "finetune.sampling": SAMPLINGS, "finetune.eval_augment": EVAL_PRESETS, "halp.filter": FILTERS, "halp.kmeans_backend": BACKENDS,
    "gcl.variant": VARIANTS, "gcl.contrast": CONTRASTS,
}


@pytest.mark.parametrize("key", sorted(ENUMS))
def test_enum_lists_the_valid_values_and_accepts_each(key):
    for value in ENUMS[key]:
        load(key, f"{key}={value}")
    for bad in ("foo", "", "CPU" if key == "run.device" else "Foo", "cuda:x"):
        with pytest.raises(ConfigError) as info:
            load(key, f"{key}={bad!r}")
        message = str(info.value)
        assert message.startswith(key) and repr(bad) in message, message
        named = [v for v in ENUMS[key] if v not in ("cuda:0", "cuda:3")]
        assert all(v in message for v in named), message


def test_data_format_lists_the_formats():
    with pytest.raises(ConfigError, match=r"^data\.format: .*'foo'.*cmd"):
        load_config(None, ["data.path=/no/data", "data.format=foo"])
    for name in FILE_FORMATS:
        load_config(None, ["data.path=/no/data", f"data.format={name}", f"data.benchmark={BENCHMARKS_BY_FORMAT[name][0]}"])


# -- data.benchmark, by data.format ------------------------------------------------------------
def test_every_format_has_its_benchmarks():
    assert set(BENCHMARKS_BY_FORMAT) == set(FILE_FORMATS)


@pytest.mark.parametrize("file_format", FILE_FORMATS)
def test_benchmark_is_checked_against_the_format(file_format):
    base = ["data.path=/no/data", f"data.format={file_format}"]
    valid = BENCHMARKS_BY_FORMAT[file_format]
    for name in valid:
        assert load_config(None, [*base, f"data.benchmark={name}"]).data.benchmark == name
    for name in {"foo", "xsub", "xview", "xset"} - set(valid):
        with pytest.raises(ConfigError) as info:
            load_config(None, [*base, f"data.benchmark={name}"])
        message = str(info.value)
        assert message.startswith("data.benchmark: expected one of " + ", ".join(valid)), message
        assert f"data.format {file_format}" in message and repr(name) in message


def test_benchmark_without_a_format_is_any_readers_and_synthetic_its_own():
    assert load_config(None, ["data.path=/no/data", "data.benchmark=xset"]).data.benchmark == "xset"
    with pytest.raises(ConfigError, match=r"^data\.benchmark: expected one of xsub, xview, xset, got 'foo'"):
        load_config(None, ["data.path=/no/data", "data.benchmark=foo"])
    # no data.path: the synthetic set, generated for xsub and xview only
    with pytest.raises(ConfigError, match=r"^data\.benchmark: expected one of xsub, xview for the synthetic set"):
        load_config(None, ["data.benchmark=xset"])


def test_benchmark_on_cmd_data_is_checked(tiny_data_dir):
    """`data.benchmark=foo` on CMD data was silently accepted."""
    for extra in ([], ["data.format=cmd"]):
        with pytest.raises(ConfigError, match=r"^data\.benchmark: .*got 'foo'"):
            load_config(None, [f"data.path={tiny_data_dir}", *extra, "data.benchmark=foo"])


# -- rules across keys -------------------------------------------------------------------------
def test_queue_must_hold_a_batch():
    with pytest.raises(ConfigError) as info:
        load_config(None, ["moco.queue_size=63", "optim.batch_size=64"])
    assert str(info.value) == ("moco.queue_size, optim.batch_size: expected moco.queue_size >= optim.batch_size, "
                               "got 63 < 64")
    assert load_config(None, ["moco.queue_size=64", "optim.batch_size=64"]).moco.queue_size == 64
    # the linear probe's batch is not the queue's
    load_config(None, ["moco.queue_size=64", "optim.batch_size=64", "linear.optim.batch_size=256"])


def test_halp_prototypes_keys_and_queue():
    base = ["method=halp", "moco.queue_size=64", "optim.batch_size=8"]
    load_config(None, [*base, "halp.num_prototypes=64", "halp.recent_keys=64"])
    with pytest.raises(ConfigError, match=r"^halp\.recent_keys, moco\.queue_size: expected halp\.recent_keys "
                                          r"<= moco\.queue_size, got 65 > 64"):
        load_config(None, [*base, "halp.num_prototypes=2", "halp.recent_keys=65"])
    with pytest.raises(ConfigError, match=r"^halp\.num_prototypes, halp\.recent_keys: expected num_prototypes "
                                          r"<= recent_keys, got 9 > 8"):
        load_config(None, [*base, "halp.num_prototypes=9", "halp.recent_keys=8"])
    with pytest.raises(ConfigError, match=r"^halp\.num_prototypes: expected an integer >= 2, got 1"):
        load_config(None, [*base, "halp.num_prototypes=1", "halp.recent_keys=8"])


def test_milestone_past_the_end_is_harmless_and_allowed():
    assert load_config(None, ["optim.epochs=5", "optim.milestones=[10]"]).optim.milestones == [10]


# -- the entry point: exit code 2, the key named, nothing written ---------------------------------
BAD_RUNS = [  # values that once crashed late or silently did nothing
    (["optim.epochs=-1"], "optim.epochs"),
    (["moco.queue_size=0"], "moco.queue_size"),
    (["run.log_every=0"], "run.log_every"),
    (["moco.queue_size=16", "optim.batch_size=32"], "moco.queue_size"),
    (["optim.lr=nan"], "optim.lr"),
    (["optim.lr=.inf"], "optim.lr"),
    (["data.frames=0"], "data.frames"),
    (["data.frames=-4"], "data.frames"),
    (["run.threads=-3"], "run.threads"),
    (["data.benchmark=foo"], "data.benchmark"),
    (["--method", "halp", "halp.filter=foo"], "halp.filter"),
    (["--method", "halp", "halp.kmeans_backend=foo"], "halp.kmeans_backend"),
    (["optim.groups.main.lr=1"], "optim.groups.main"),
]


@pytest.fixture(scope="module")
def pretrain_script():
    return load_script("pretrain/run.py")


@pytest.mark.parametrize("args, key", BAD_RUNS, ids=[" ".join(a) for a, _ in BAD_RUNS])
def test_pretrain_refuses_a_bad_value_before_anything_runs(pretrain_script, tmp_path, capsys, args, key):
    out_dir = tmp_path / "runs"
    code = pretrain_script.main([*args, f"run.out_dir={out_dir}", "run.progress=false"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "error: " in err and key in err, err
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_resume_with_a_bad_override_is_refused_and_the_run_untouched(pretrain_script, tmp_path, capsys):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.pt").write_bytes(b"not read: the config fails first")
    save_config(load_config(None, ["optim.epochs=3"]), run_dir / "config.yaml")
    before = (run_dir / "config.yaml").read_text()
    code = pretrain_script.main(["--resume", str(run_dir), "optim.epochs=0"])
    err = capsys.readouterr().err
    assert code == 2 and "optim.epochs" in err, err
    assert (run_dir / "config.yaml").read_text() == before
