"""Start-up checks of the config sections that need a table: the encoder's and the augmentation
preset's arguments (by their constructors' signatures and `argument_rules`), the layout, file
format, normalisation mode, preset and benchmark names. Each raises a ConfigError that names
the key, what was expected and what was given.

Example:
    >>> from sslskel.engine.config import DataConfig
    >>> try:
    ...     check_benchmark(DataConfig(benchmark="xset"))
    ... except ConfigError as error:
    ...     print(error)
    data.benchmark: expected one of xsub, xview for the synthetic set (data.path: null), got 'xset'
"""

from __future__ import annotations

import inspect

from ..data.layouts import LAYOUTS
from ..data.normalize import check_mode
from ..data.readers import BENCHMARKS_BY_FORMAT, FILE_FORMATS
from ..data.synthetic import BENCHMARKS as SYNTHETIC_BENCHMARKS
from ..data.synthetic import SyntheticConfig
from ..data.transforms import PRESETS
from ..models import ENCODERS, encoder_class
from .argument_rules import ENCODER_ARGUMENTS, PRESET_ARGUMENTS
from .config_tree import ConfigError

ALL_BENCHMARKS = tuple(dict.fromkeys(b for names in BENCHMARKS_BY_FORMAT.values() for b in names))


def check_encoder_args(encoder_cfg) -> None:
    """Fail at start-up when `encoder.args` names an argument the encoder does not take."""
    if encoder_cfg.name not in ENCODERS:
        raise ConfigError(f"encoder.name: unknown encoder {encoder_cfg.name!r}; valid: "
                          f"{', '.join(sorted(ENCODERS))}")
    init = encoder_class(encoder_cfg.name).__init__
    check_arguments(init, encoder_cfg.args, "encoder.args", f"encoder {encoder_cfg.name!r}",
                    reserved={"layout", "in_channels", "num_persons"}, set_by=lambda key: "the data section")
    defaults = {name: p.default for name, p in inspect.signature(init).parameters.items()}
    for key, value in encoder_cfg.args.items():
        rule = ENCODER_ARGUMENTS.get(type(defaults[key]))  # by the kind of its default
        if rule is not None and not rule.test(value):
            raise ConfigError(f"encoder.args.{key}: expected {rule.expected} (encoder {encoder_cfg.name}), "
                              f"got {value!r}")


def check_arguments(fn, given: dict, where: str, owner: str, reserved: set, set_by) -> None:
    """Every key of `given` is a parameter of `fn` and not one the config sets elsewhere
    (`reserved`; `set_by(key)` says where)."""
    params = [p for p in inspect.signature(fn).parameters if p != "self"]
    for key in given:
        if key in reserved:
            raise ConfigError(f"{where}.{key}: set by {set_by(key)}, not here")
        if key not in params:
            raise ConfigError(f"unknown key '{where}.{key}' for {owner}; "
                              f"valid: {', '.join(sorted(set(params) - reserved))}")


def check_data_settings(data_cfg) -> None:
    """Fail at start-up on an unknown layout, normalisation mode, preset or preset argument."""
    if data_cfg.layout != "auto" and data_cfg.layout not in LAYOUTS:
        raise ConfigError(f"data.layout: unknown layout {data_cfg.layout!r}; valid: auto, {', '.join(sorted(LAYOUTS))}")
    if data_cfg.format is not None and data_cfg.format not in FILE_FORMATS:
        raise ConfigError(f"data.format: unknown file format {data_cfg.format!r}; valid: null (detect), "
                          f"{', '.join(FILE_FORMATS)}")
    try:
        SyntheticConfig.from_mapping(data_cfg.synthetic)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    check_benchmark(data_cfg)
    try:
        check_mode(data_cfg.normalize)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if data_cfg.augment not in PRESETS:
        raise ConfigError(f"data.augment: unknown preset {data_cfg.augment!r}; valid: {', '.join(sorted(PRESETS))}")
    check_arguments(PRESETS[data_cfg.augment], data_cfg.augment_args, "data.augment_args",
                    f"preset {data_cfg.augment!r}", reserved={"frames", "layout", "modality"},
                    set_by=lambda key: f"data.{key}")
    for key, value in data_cfg.augment_args.items():
        rule = PRESET_ARGUMENTS[key]
        if not rule.test(value):
            raise ConfigError(f"data.augment_args.{key}: expected {rule.expected} "
                              f"(preset {data_cfg.augment}), got {value!r}")


def check_benchmark(data_cfg) -> None:
    """`data.benchmark` is one the data's reader accepts: the format's (`BENCHMARKS_BY_FORMAT`)
    when `data.format` is set, the synthetic set's without `data.path`, else any reader's."""
    if data_cfg.path is None:
        valid, whose = SYNTHETIC_BENCHMARKS, " for the synthetic set (data.path: null)"
    elif data_cfg.format is not None:
        valid, whose = BENCHMARKS_BY_FORMAT[data_cfg.format], f" for data.format {data_cfg.format}"
    else:
        valid, whose = ALL_BENCHMARKS, ""
    if data_cfg.benchmark not in valid:
        raise ConfigError(f"data.benchmark: expected one of {', '.join(valid)}{whose}, "
                          f"got {data_cfg.benchmark!r}")
