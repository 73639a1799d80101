"""Typed run configuration: YAML files + `key=value` overrides, checked at start-up.

A config is a tree of dataclasses. Loading walks the YAML mapping against it, so an
unknown key or a value of the wrong type fails before anything runs, naming the key and
the valid ones. `encoder.args` is checked against the chosen encoder's constructor.

Example:
    >>> cfg = load_config(None, ["optim.lr=0.05", "encoder.args.hidden_size=64"])
    >>> cfg.optim.lr, cfg.encoder.args["hidden_size"]
    (0.05, 64)
    >>> load_config(None, ["optim.lrr=1"])
    Traceback (most recent call last):
    ...
    sslskel.engine.config.ConfigError: unknown key 'optim.lrr'; valid keys of 'optim': batch_size, epochs, gamma, lr, milestones, momentum, nesterov, optimizer, warmup_epochs, weight_decay
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..common.io import atomic_write_text
from ..data.layouts import LAYOUTS
from ..data.normalize import NORMALIZE_MODES
from ..data.readers import FILE_FORMATS
from ..data.synthetic import SyntheticConfig
from ..data.transforms import PRESETS
from ..models import ENCODERS, encoder_class


class ConfigError(ValueError):
    """A configuration key is unknown or its value has the wrong type."""


@dataclass
class DataConfig:
    path: str | None = None  # directory or file of real data; None = the embedded synthetic set
    format: str | None = None  # file layout (cmd, stgcn, aimclr, ctrgcn, pyskl, ucla, pku, ntu_raw); None = detect
    benchmark: str = "xsub"  # xsub | xview | xset (which split of the data to use)
    layout: str = "auto"  # joint order: auto (the data's), ntu25, ucla20 (Kinect SDK order), utd20, msr20
    # auto (pre-normalise what was not pre-normalised when written) | prenorm | center | none;
    # a run's config.yaml holds the mode that was applied (sslskel.data.normalize)
    normalize: str = "auto"
    modality: str = "joint"  # joint | bone | motion | bone_motion | joint_motion (stacked, 2C channels)
    frames: int = 64  # clip length the encoder sees
    augment: str = "cmd_pretrain"  # transform preset for pretraining views (sslskel.data.transforms.PRESETS)
    augment_args: dict = field(default_factory=dict)  # keyword arguments of that preset, checked at start-up
    num_workers: int = 2
    # settings of the embedded synthetic set (sslskel.data.synthetic.SyntheticConfig, whose
    # defaults apply to keys not given), e.g. {num_classes: 10, seed: 1}
    synthetic: dict = field(default_factory=dict)


@dataclass
class EncoderConfig:
    name: str = "gru"
    args: dict = field(default_factory=lambda: {"hidden_size": 128, "num_layers": 2})


@dataclass
class MocoConfig:
    queue_size: int = 16384
    momentum: float = 0.999
    temperature: float = 0.07
    feature_dim: int = 128
    mlp_hidden: int = 2048  # hidden width of the projection MLP (2048 in the paper config)


@dataclass
class HalpConfig:
    num_prototypes: int = 20
    recent_keys: int = 256  # prototypes are fitted on this many most recently enqueued keys
    refresh_every: int = 5  # steps between prototype refreshes
    num_positives: int = 100
    lam: float = 0.8  # hardness: t = (1 - u) t_max, u ~ U(0, lam)
    mu: float = 1.0  # weight of the HaLP term once it is on
    start_epoch: int = 200  # mu = 0 before this epoch
    filter: str = "rank"  # rank | variant1 | variant2 | none
    kmeans_backend: str = "torch"  # torch | geomstats
    kmeans_restarts: int = 3


@dataclass
class OptimConfig:
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    nesterov: bool = False
    batch_size: int = 64
    epochs: int = 450
    milestones: list[int] = field(default_factory=lambda: [350])
    gamma: float = 0.1
    # linear warm-up, one rate per epoch: lr * (epoch + 1) / warmup_epochs (sslskel.common.schedule)
    warmup_epochs: int = 0


@dataclass
class RunConfig:
    out_dir: str = "runs"
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = "auto"  # auto (bf16 on CUDA, off on CPU) | bf16 | off
    checkpoint_every: int = 50  # epochs between kept checkpoints (last.pt is written every epoch)
    knn_every: int = 10  # epochs between online kNN evaluations (0 = never)
    log_every: int = 10  # steps between scalar logs
    progress: bool = True  # tqdm progress bar
    deterministic: bool = False  # torch.use_deterministic_algorithms (slower on CUDA)
    threads: int = 0  # CPU threads for torch; 0 = torch's default (one per core)


@dataclass
class LinearConfig:
    epochs: int = 80
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 64
    milestones: list[int] = field(default_factory=lambda: [50, 70])
    gamma: float = 0.1
    augment: str = "linear_train"
    eval_ratio: float = 0.95
    knn_k: list[int] = field(default_factory=lambda: [1, 20])
    knn_temperature: float = 0.07
    seed: int = 0


@dataclass
class FinetuneConfig:
    """Whole-network training with labels: semi-supervised (CMD) and supervised (CTR-GCN)."""

    epochs: int = 80
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    nesterov: bool = False
    batch_size: int = 64
    milestones: list[int] = field(default_factory=lambda: [50, 70])
    gamma: float = 0.1
    warmup_epochs: int = 0  # as optim.warmup_epochs: one rate per epoch, lr * (epoch + 1) / warmup_epochs
    augment: str = "linear_train"
    eval_ratio: float = 0.95
    fractions: list[float] = field(default_factory=lambda: [0.01, 0.05, 0.1, 0.2])
    sampling: str = "class_balanced"  # class_balanced (AimCLR) | random (CMD)
    seeds: int = 3


@dataclass
class GCLConfig:
    """SkeletonGCL graph contrast during supervised training (docs/methods.md, SkeletonGCL)."""

    enabled: bool = False
    variant: str = "paper"  # paper | authors_code
    contrast: str = "graph"  # graph | feature
    per_class: int = 684  # P: instance-bank slots per class (684 NTU, 342 NW-UCLA)
    dim: int = 256
    temperature: float = 1.0
    semantic_momentum: float = 0.85
    num_hard_positives: int = 128
    num_hard_negatives: int = 512
    num_random_negatives: int = 512


@dataclass
class Config:
    method: str = "moco"
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    moco: MocoConfig = field(default_factory=MocoConfig)
    halp: HalpConfig = field(default_factory=HalpConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
    linear: LinearConfig = field(default_factory=LinearConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    gcl: GCLConfig = field(default_factory=GCLConfig)


# -- building from mappings ------------------------------------------------------------------
def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp, key: str) -> Any:
    """Check `value` against annotation `tp`; int is accepted for float, nothing else is cast."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{key}: expected {' or '.join(_type_name(o) for o in options)}, "
                          f"got {value!r}")
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp) or (Any,)
        return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is Any:
        return value
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return _build(tp, value, key)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:  # PyYAML (YAML 1.1) reads 1e-3 as a string; it is a float to anyone writing it
            return float(value)
        except ValueError:
            pass
    if tp is int and isinstance(value, bool) or not isinstance(value, tp):
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r} ({type(value).__name__})")
    return value


def _build(cls, mapping: dict, prefix: str = ""):
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in mapping.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            where = f"of {prefix!r}" if prefix else "at the top level"
            raise ConfigError(f"unknown key {full!r}; valid keys {where}: {', '.join(sorted(names))}")
        kwargs[key] = _coerce(value, hints[key], full)
    return cls(**kwargs)


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "args":
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """`optim.lr=0.1` -> (['optim', 'lr'], 0.1); the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. optim.lr=0.05")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw) if raw.strip() else None


def _apply_override(tree: dict, path: list[str], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def read_yaml(path: str | os.PathLike) -> dict:
    try:
        with open(path) as f:
            loaded = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(loaded).__name__}")
    return loaded


def load_config(path: str | os.PathLike | None, overrides: list[str] = (), *,
                cls=Config, base: dict | None = None):
    """Defaults <- `base` <- the YAML file at `path` <- `key=value` overrides, all checked."""
    tree = to_dict(cls())
    if base:
        tree = _merge(tree, base)
    if path is not None:
        tree = _merge(tree, read_yaml(path))
    for text in overrides:
        keys, value = parse_override(text)
        _apply_override(tree, keys, value)
    try:
        cfg = _build(cls, tree)
        if isinstance(cfg, Config):
            check_encoder_args(cfg.encoder)
            check_data_settings(cfg.data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}" if path is not None else str(e)) from None
    return cfg


def check_encoder_args(encoder_cfg: EncoderConfig) -> None:
    """Fail at start-up when `encoder.args` names an argument the encoder does not take."""
    if encoder_cfg.name not in ENCODERS:
        raise ConfigError(f"encoder.name: unknown encoder {encoder_cfg.name!r}; valid: "
                          f"{', '.join(sorted(ENCODERS))}")
    check_arguments(encoder_class(encoder_cfg.name).__init__, encoder_cfg.args, "encoder.args",
                    f"encoder {encoder_cfg.name!r}", reserved={"layout", "in_channels", "num_persons"},
                    set_by=lambda key: "the data section")


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


def check_data_settings(data_cfg: DataConfig) -> None:
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
    if data_cfg.normalize not in NORMALIZE_MODES:
        raise ConfigError(f"data.normalize: expected one of {', '.join(NORMALIZE_MODES)}, got {data_cfg.normalize!r}")
    if data_cfg.augment not in PRESETS:
        raise ConfigError(f"data.augment: unknown preset {data_cfg.augment!r}; valid: {', '.join(sorted(PRESETS))}")
    check_arguments(PRESETS[data_cfg.augment], data_cfg.augment_args, "data.augment_args",
                    f"preset {data_cfg.augment!r}", reserved={"frames", "layout", "modality"},
                    set_by=lambda key: f"data.{key}")


def save_config(cfg, path: str | os.PathLike) -> None:
    atomic_write_text(Path(path), yaml.safe_dump(to_dict(cfg), sort_keys=False))
