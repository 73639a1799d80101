"""Typed run configuration: YAML files + `key=value` overrides, checked at start-up.

A config is a tree of dataclasses (`sslskel.engine.config_tree`). Loading walks the YAML
mapping against it, so an unknown key or a value of the wrong type fails before anything
runs, naming the key and the valid ones. The sections of the chosen method are the method's
own settings dataclasses (`PretrainMethod.settings`): `method: halp` brings `moco` and
`halp`. `encoder.args` is checked against the chosen encoder's constructor, `data.augment_args`
against the preset's, `optim.groups` against the method's parameter groups.

Every value is checked before any data is read: each section's dataclass checks its own
ranges and names in `__post_init__` (a table of rules, `sslskel.methods.settings`), and
`check_data_settings` / `check_method_settings` check what needs a table or several sections
(`data.benchmark` for `data.format`, `moco.queue_size >= optim.batch_size`, ...). A bad value
reads `KEY: expected ..., got ...`.

Example:
    >>> cfg = load_config(None, ["optim.lr=0.05", "encoder.args.hidden_size=64"])
    >>> cfg.optim.lr, cfg.encoder.args["hidden_size"], cfg.moco.queue_size
    (0.05, 64, 16384)
    >>> load_config(None, ["optim.lrr=1"])
    Traceback (most recent call last):
    ...
    sslskel.engine.config_tree.ConfigError: unknown key 'optim.lrr'; valid keys of 'optim': batch_size, epochs, gamma, groups, lr, milestones, momentum, nesterov, optimizer, warmup_epochs, weight_decay
    >>> load_config(None, ["optim.epochs=0"])
    Traceback (most recent call last):
    ...
    sslskel.engine.config_tree.ConfigError: optim.epochs: expected an integer >= 1, got 0
    >>> load_config(None, ["method=moco", "halp.mu=2"])
    Traceback (most recent call last):
    ...
    sslskel.engine.config_tree.ConfigError: unknown key 'halp.mu' for method 'moco'; halp.* needs --method halp (method: halp)
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from ..common.io import atomic_write_text
from ..data.limits import MAX_FRAMES
from ..data.modalities import MODALITIES
from ..data.readers import BENCHMARKS_BY_FORMAT
from ..data.transforms import PRESETS
from ..methods import DEFAULT_METHOD, METHODS, method_class
from ..methods.auxiliary import AUXILIARY_SETTINGS, auxiliary_settings
from ..methods.settings import Rule, check_settings, each, integer, number, one_of
from .config_checks import check_data_settings, check_encoder_args
from .config_tree import (
    ConfigError,
    apply_override,
    build,
    coerce,
    merge,
    parse_override,
    read_config_file,
    read_yaml,
    to_dict,
)
from .method_sections import check_method_sections

__all__ = ["AMP_MODES", "BENCHMARKS_BY_FORMAT", "Config", "ConfigError", "DataConfig", "EncoderConfig",
           "FinetuneConfig", "LinearConfig", "OptimConfig", "RunConfig", "SAMPLINGS", "config_class",
           "group_optim", "load_config", "read_yaml", "resolved_config", "save_config", "to_dict"]

OPTIMIZERS = ("sgd", "adam", "adagrad")
AMP_MODES = ("auto", "bf16", "off")  # sslskel.common.device.amp_dtype
SAMPLINGS = ("class_balanced", "random")  # sslskel.eval.semi.label_subset
EVAL_PRESETS = ("eval_crop", "ucla_feeder_eval")  # deterministic test views (sslskel.data.transforms)
MAX_SEED = 2**32 - 1  # numpy's seeds are 32-bit; torch.manual_seed(2**70) overflowed
# run.threads: auto | N (sslskel.common.threads.choose_threads)
THREADS = Rule(lambda v: v == "auto" or (isinstance(v, int) and not isinstance(v, bool) and v >= 0),
               "auto or an integer >= 0 (0 = torch's default)")
# run.device: auto | cpu | cuda | cuda:N (sslskel.common.device.resolve_device)
DEVICE = Rule(lambda v: isinstance(v, str) and re.fullmatch(r"auto|cpu|cuda(:\d+)?", v) is not None,
              "one of auto, cpu, cuda, cuda:N")





@dataclass
class DataConfig:
    path: str | None = None  # directory or file of real data; None = the embedded synthetic set
    format: str | None = None  # file layout (cmd, stgcn, aimclr, ctrgcn, pyskl, ucla, pku, ntu_raw); None = detect
    benchmark: str = "xsub"  # xsub | xview | xset (which split of the data to use)
    layout: str = "auto"  # joint order: auto (the data's), ntu25, ucla20 (Kinect SDK order), utd20, msr20
    # auto (pre-normalise what was not pre-normalised when written) | prenorm | center | none;
    # a run's config.yaml holds the mode that was applied (sslskel.data.normalize; resolved_config)
    normalize: str = "auto"
    modality: str = "joint"  # joint | bone | motion | bone_motion | joint_motion (stacked, 2C channels)
    frames: int = 64  # clip length the encoder sees
    augment: str = "cmd_pretrain"  # transform preset for pretraining views (sslskel.data.transforms.PRESETS)
    augment_args: dict = field(default_factory=dict)  # keyword arguments of that preset, checked at start-up
    num_workers: int = 2
    # settings of the embedded synthetic set (sslskel.data.synthetic.SyntheticConfig, whose
    # defaults apply to keys not given), e.g. {num_classes: 10, seed: 1}
    synthetic: dict = field(default_factory=dict)
    # class ids left out of pretraining (both splits of that run, the online kNN included), so
    # that `linear_eval/run.py --protocols uncertainty` can score them as unseen classes (OOD)
    exclude_classes: list[int] = field(default_factory=list)

    def __post_init__(self):
        # layout, format, benchmark, normalize, augment: check_data_settings (they need tables)
        check_settings(self, {
            "modality": one_of(MODALITIES),
            "frames": integer(1, MAX_FRAMES),  # 100,000 frames filled 24 GB before any step
            "num_workers": integer(0),
            "exclude_classes": each(integer(0)),
        }, section="data")


@dataclass
class EncoderConfig:
    name: str = "gru"
    args: dict = field(default_factory=lambda: {"hidden_size": 128, "num_layers": 2})


@dataclass
class OptimConfig:
    optimizer: str = "sgd"  # sgd | adam | adagrad
    lr: float = 0.01
    momentum: float = 0.9  # sgd only
    weight_decay: float = 1e-4
    nesterov: bool = False  # sgd only
    batch_size: int = 64
    epochs: int = 450
    milestones: list[int] = field(default_factory=lambda: [350])
    gamma: float = 0.1
    # linear warm-up, one rate per epoch: lr * (epoch + 1) / warmup_epochs (sslskel.common.schedule)
    warmup_epochs: int = 0
    # per parameter group of the method (other than "main", which the keys above configure):
    # {group: {key: value}} overriding any key above except batch_size and epochs,
    # e.g. {critic: {lr: 0.02, optimizer: adagrad}}
    groups: dict = field(default_factory=dict)

    def __post_init__(self):
        # no section: this is optim, linear.optim, finetune.optim or a group's; build() names it
        check_settings(self, {
            "optimizer": one_of(OPTIMIZERS),
            "lr": number(0, open_low=True),
            "momentum": number(0, 1),
            "weight_decay": number(0, 1),
            "batch_size": integer(1),
            "epochs": integer(1),  # 0 or less trained nothing and exited 0
            "milestones": each(integer(0)),  # one past the end never fires: harmless
            "gamma": number(0, 1, open_low=True),  # a decay factor; 1e308 overflowed the rate
            "warmup_epochs": integer(0),
        })


GROUP_KEYS = tuple(f.name for f in dataclasses.fields(OptimConfig) if f.name not in ("batch_size", "epochs", "groups"))


def group_optim(optim: OptimConfig, group: str) -> OptimConfig:
    """The optimiser settings of parameter group `group`: `optim` with its overrides applied."""
    if group == "main":
        return dataclasses.replace(optim, groups={})
    return dataclasses.replace(optim, groups={}, **optim.groups.get(group, {}))


def check_optim_groups(optim: OptimConfig, groups: tuple[str, ...], where: str, owner: str) -> None:
    """Every `<where>.groups.<name>.<key>` names a declared group and an optimiser setting."""
    hints = typing.get_type_hints(OptimConfig)
    others = [g for g in groups if g != "main"]
    for name, overrides in optim.groups.items():
        if name == "main":
            raise ConfigError(f"{where}.groups.main: group main is set by the keys of {where} itself; "
                              f"groups.<name> is for {owner}'s other groups ({', '.join(others) or 'none'})")
        if name not in others:
            valid = ", ".join(others) if others else "none (it has one group, main, set by the keys of " + where + ")"
            raise ConfigError(f"{where}.groups.{name}: {owner} has no parameter group {name!r}; valid: {valid}")
        if not isinstance(overrides, dict):
            raise ConfigError(f"{where}.groups.{name}: expected a mapping of optimiser settings, got {overrides!r}")
        for key, value in overrides.items():
            if key not in GROUP_KEYS:
                raise ConfigError(f"unknown key '{where}.groups.{name}.{key}'; valid: {', '.join(sorted(GROUP_KEYS))}")
            overrides[key] = coerce(value, hints[key], f"{where}.groups.{name}.{key}")
        try:
            group_optim(optim, name)
        except ValueError as err:
            raise ConfigError(f"{where}.groups.{name}.{err}") from None


@dataclass
class RunConfig:
    out_dir: str = "runs"
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = "auto"  # auto (bf16 on CUDA and on CPUs with native bf16, except HaLP on CPUs) | bf16 | off
    checkpoint_every: int = 50  # epochs between kept checkpoints (last.pt is written every epoch)
    knn_every: int = 10  # epochs between online kNN evaluations (0 = never)
    log_every: int = 10  # steps between scalar logs
    progress: bool = True  # tqdm progress bar
    deterministic: bool = False  # torch.use_deterministic_algorithms (slower on CUDA)
    # CPU threads for torch: auto = the usable cores that other processes leave free (logged at
    # start; sslskel.common.threads), N = at most N, 0 = torch's default (one per core)
    threads: int | str = "auto"

    def __post_init__(self):
        check_settings(self, {
            "seed": integer(0, MAX_SEED),
            "device": DEVICE,
            "amp": one_of(AMP_MODES),
            "checkpoint_every": integer(0),  # 0 = keep last.pt only
            "knn_every": integer(0),
            "log_every": integer(1),
            "threads": THREADS,
        }, section="run")


@dataclass
class LinearConfig:
    """Linear evaluation on frozen features (CMD / HaLP protocol) and the kNN settings."""

    optim: OptimConfig = field(default_factory=lambda: OptimConfig(
        lr=0.1, weight_decay=0.0, epochs=80, milestones=[50, 70]))
    augment: str = "linear_train"
    eval_ratio: float = 0.95
    knn_k: list[int] = field(default_factory=lambda: [1, 20])
    knn_temperature: float = 0.07
    seed: int = 0
    # the single-shot cross-view protocol on these 0-based class ids only ([] = all); CV-MIM's
    # NTU60 numbers use the 49 single-person classes A1-A49: [0, 1, ..., 48]
    classes: list[int] = field(default_factory=list)

    def __post_init__(self):
        # knn_k <= the number of training samples is known once the data is read
        check_settings(self, {
            "augment": one_of(PRESETS),
            "eval_ratio": number(0, 1, open_low=True),
            "knn_k": each(integer(1)),
            "knn_temperature": number(0, open_low=True),
            "seed": integer(0, MAX_SEED),
            "classes": each(integer(0)),
        }, section="linear")


@dataclass
class FinetuneConfig:
    """Whole-network training with labels: semi-supervised (CMD) and supervised (CTR-GCN)."""

    optim: OptimConfig = field(default_factory=lambda: OptimConfig(
        lr=0.01, epochs=80, milestones=[50, 70]))
    augment: str = "linear_train"
    eval_ratio: float = 0.95
    fractions: list[float] = field(default_factory=lambda: [0.01, 0.05, 0.1, 0.2])
    sampling: str = "class_balanced"  # class_balanced (AimCLR) | random (CMD)
    seeds: int = 3
    # the test view's preset: eval_crop (a centre crop of eval_ratio) or ucla_feeder_eval
    eval_augment: str = "eval_crop"
    repeat: int = 1  # passes over the training list per epoch (CTR-GCN's NW-UCLA feeder: 5)

    def __post_init__(self):
        check_settings(self, {
            "augment": one_of(PRESETS),
            "eval_ratio": number(0, 1, open_low=True),
            "fractions": each(number(0, 1, open_low=True)),
            "sampling": one_of(SAMPLINGS),
            "seeds": integer(1),
            "eval_augment": one_of(EVAL_PRESETS),
            "repeat": integer(1, 1000),
        }, section="finetune")


@dataclass
class Config:
    """The sections every run has; `config_class(method)` adds the method's own."""

    method: str = DEFAULT_METHOD
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
    linear: LinearConfig = field(default_factory=LinearConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)


@lru_cache(maxsize=None)
def _config_class(cls, auxiliary: tuple[str, ...]):
    sections = [(section, settings, field(default_factory=settings))
                for section, settings in cls.settings.items()]
    sections += [(section, auxiliary_settings(section), field(default_factory=auxiliary_settings(section)))
                 for section in auxiliary]
    suffix = "".join(f"_{section}" for section in auxiliary)
    return dataclasses.make_dataclass(f"Config_{cls.name}{suffix}", sections, bases=(Config,))


def config_class(method: str, auxiliary: tuple[str, ...] = ()):
    """`Config` plus one field per settings section of `method` (e.g. moco and halp for halp)
    and of each auxiliary loss named (`sslskel.methods.auxiliary.AUXILIARY_SETTINGS`)."""
    try:
        cls = method_class(method)
    except KeyError:
        raise ConfigError(f"method: unknown method {method!r}; valid: {', '.join(sorted(METHODS))}") from None
    return _config_class(cls, tuple(auxiliary))


def load_config(path: str | os.PathLike | None, overrides: list[str] = (), *, base: dict | None = None,
                auxiliary: bool = False):
    """Defaults <- `base` <- the YAML file at `path` (after the files its `base:` key names) <-
    `key=value` overrides, all checked. The auxiliary losses' sections (`gcl`, `supcon`) are
    there when something above names them, or all of them with `auxiliary=True` (the
    supervised stage)."""
    tree = {}
    if base:
        tree = merge(tree, base)
    if path is not None:
        tree = merge(tree, read_config_file(path)[0])  # with the files it names as `base:`
    overridden = []
    for text in overrides:
        keys, value = parse_override(text)
        apply_override(tree, keys, value)
        overridden.append(".".join(keys))
    try:
        method = tree.get("method", Config.method)
        if not isinstance(method, str):
            raise ConfigError(f"method: expected str, got {method!r}")
        cls = config_class(method, tuple(s for s in AUXILIARY_SETTINGS if auxiliary or s in tree))
        check_method_sections(tree, method)  # halp.* without --method halp: say so
        cfg = build(cls, merge(to_dict(cls()), tree))
        check_encoder_args(cfg.encoder)
        check_data_settings(cfg.data)
        check_optim_groups(cfg.optim, method_class(method).groups, "optim", f"method {method!r}")
        for section in ("linear", "finetune"):
            check_optim_groups(getattr(cfg, section).optim, ("main",), f"{section}.optim", section)
        check_method_settings(cfg)
    except ConfigError as e:
        from_file = path is not None and not _names_an_override(str(e), overridden)
        raise ConfigError(f"{path}: {e}" if from_file else str(e)) from None
    return cfg


def _names_an_override(message: str, overridden: list[str]) -> bool:
    """Whether the key a ConfigError starts with was set on the command line (then the
    config file is not where the mistake is, and is left out of the message)."""
    head = message.split(":")[0]
    key = head.split("'")[1] if head.startswith("unknown key '") else head.split(",")[0].strip()
    key = re.sub(r"\[\d+\]", "", key)  # a list item, optim.milestones[0], is its list's key
    return any(key == k or key.startswith(k + ".") or k.startswith(key + ".") for k in overridden)


def check_method_settings(cfg) -> None:
    """The method's own rules between its sections and the others (`PretrainMethod.check_config`)."""
    try:
        method_class(cfg.method).check_config(cfg)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def save_config(cfg, path: str | os.PathLike) -> None:
    atomic_write_text(Path(path), yaml.safe_dump(to_dict(cfg), sort_keys=False))


def resolved_config(cfg, data):
    """A copy of `cfg` whose `data.layout` and `data.normalize` are what `data` was read as
    (`load_data` resolves `auto`: the data's `layout` and `normalization`); `cfg` is unchanged.
    A run builds its model from this copy and saves it, so every later evaluation of the run
    reads its data the same way.

    Example:
        train = load_data(cfg.data, "train")
        cfg = resolved_config(cfg, train)  # data.layout: auto -> ntu25, data.normalize: auto -> none
    """
    data_cfg = dataclasses.replace(cfg.data, layout=data.layout, normalize=data.normalization)
    return dataclasses.replace(cfg, data=data_cfg)
