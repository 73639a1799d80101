"""Typed configuration trees: dataclasses filled from YAML mappings, every key and type checked.

`build(cls, mapping)` walks a mapping against dataclass `cls`: an unknown key or a value of
the wrong type raises `ConfigError` naming the full key and the valid ones; int is accepted
for float, nothing else is cast. A dataclass that checks its own values (`__post_init__`
raising ValueError) reports through the same error. `merge`, `parse_override` and
`read_yaml` assemble the mapping from defaults, files and `key=value` overrides.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Optim:
    ...     lr: float = 0.1
    ...     epochs: int = 10
    >>> build(Optim, {"lr": 1})
    Optim(lr=1.0, epochs=10)
    >>> build(Optim, {"epochs": 1.5}, "optim")
    Traceback (most recent call last):
    ...
    sslskel.engine.config_tree.ConfigError: optim.epochs: expected int, got 1.5 (float)
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError


class ConfigError(UserError):
    """A configuration key is unknown or its value has the wrong type or range."""


class _Loader(yaml.SafeLoader):
    """YAML 1.2's booleans, true and false only: YAML 1.1 also reads on/off/yes/no as booleans,
    which made `run.amp=off` a bool that no str setting takes."""


_BOOL = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def load_yaml(text):
    r"""`text` (a string or an open file) read as YAML with only true/false as booleans.

    >>> load_yaml("amp: off\nprogress: false")
    {'amp': 'off', 'progress': False}
    """
    return yaml.load(text, Loader=_Loader)


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value: Any, tp, key: str) -> Any:
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
                return coerce(value, option, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{key}: expected {' or '.join(_type_name(o) for o in options)}, "
                          f"got {value!r}")
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp) or (Any,)
        return [coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is Any:
        return value
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return build(tp, value, key)
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


def build(cls, mapping: dict, prefix: str = ""):
    """An instance of dataclass `cls` from `mapping` (keys under `prefix` in messages)."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in mapping.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            where = f"of {prefix!r}" if prefix else "at the top level"
            raise ConfigError(f"unknown key {full!r}; valid keys {where}: {', '.join(sorted(names))}"
                              + _moved_hint(hints, key, prefix))
        kwargs[key] = coerce(value, hints[key], full)
    try:
        return cls(**kwargs)
    except ValueError as err:  # the dataclass's own checks (__post_init__)
        message = str(err)
        if prefix and not message.startswith(prefix + "."):
            message = f"{prefix}.{message}"
        raise ConfigError(message) from None


def _moved_hint(hints: dict, key: str, prefix: str) -> str:
    """Where an unknown key lives when it is a key of a nested section (finetune.lr -> finetune.optim.lr)."""
    for name, tp in hints.items():
        if dataclasses.is_dataclass(tp) and key in {f.name for f in dataclasses.fields(tp)}:
            return f" (did you mean '{prefix + '.' if prefix else ''}{name}.{key}'?)"
    return ""


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def flatten(tree: dict, prefix: str = "") -> dict:
    """{"a.b": value} for every leaf of a nested dict (lists and empty dicts are leaves).

    >>> flatten({"a": {"b": 1, "c": [1, 2]}, "d": None})
    {'a.b': 1, 'a.c': [1, 2], 'd': None}
    """
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "args":
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """`optim.lr=0.1` -> (['optim', 'lr'], 0.1); the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. optim.lr=0.05")
    key, raw = text.split("=", 1)
    return key.strip().split("."), load_yaml(raw) if raw.strip() else None


def apply_override(tree: dict, path: list[str], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def read_config_file(path: str | os.PathLike, _chain: tuple[Path, ...] = ()) -> tuple[dict, dict[str, str]]:
    """(tree, {dotted key: file that set it}) of a config file and the files it inherits from.

    A top-level `base: FILE` (a path relative to the file's folder, or a list of them, merged
    in order) is read first and the file's own keys merged over it, so a method's config can
    hold only what differs from its dataset's base. Bases may have bases; a cycle is an error.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "base.yaml").write_text("optim: {lr: 0.1, epochs: 5}\\n")
    >>> _ = (folder / "moco.yaml").write_text("base: base.yaml\\noptim: {lr: 0.2}\\n")
    >>> tree, sources = read_config_file(folder / "moco.yaml")
    >>> tree["optim"], Path(sources["optim.epochs"]).name, Path(sources["optim.lr"]).name
    ({'lr': 0.2, 'epochs': 5}, 'base.yaml', 'moco.yaml')
    """
    path = Path(path)
    if path.resolve() in _chain:
        cycle = " -> ".join(str(p) for p in (*_chain, path.resolve()))
        raise ConfigError(f"{path}: base: the files inherit from each other in a cycle ({cycle})")
    own = read_yaml(path)
    bases = own.pop("base", None)
    if bases is None:
        bases = []
    elif isinstance(bases, str):
        bases = [bases]
    elif not (isinstance(bases, list) and all(isinstance(b, str) for b in bases)):
        raise ConfigError(f"{path}: base: expected a file name or a list of file names, got {bases!r}")
    tree, sources = {}, {}
    for name in bases:
        base_path = path.parent / name
        if not base_path.is_file():
            raise ConfigError(f"{path}: base: no such file {base_path}")
        base_tree, base_sources = read_config_file(base_path, (*_chain, path.resolve()))
        tree = merge(tree, base_tree)
        sources.update(base_sources)
    sources.update({key: str(path) for key in leaf_keys(own)})
    return merge(tree, own), sources


def leaf_keys(tree: dict, prefix: str = "") -> list[str]:
    """Dotted keys of the values of a nested mapping (`encoder.args` counts as one value, as
    `merge` replaces it whole)."""
    keys = []
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and key != "args":
            keys.extend(leaf_keys(value, dotted + "."))
        else:
            keys.append(dotted)
    return keys


def read_yaml(path: str | os.PathLike) -> dict:
    try:
        with open(path) as f:
            loaded = load_yaml(f) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(loaded).__name__}")
    return loaded
