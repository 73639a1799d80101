"""Pretraining methods, one file each, picked by name (`--method NAME`).

Example:
    >>> sorted(METHODS)[:1]
    ['halp']
"""

from __future__ import annotations

import importlib

# name -> (module, class), imported on use so each method's optional needs stay its own
METHODS = {
    "moco": ("sslskel.methods.moco", "MoCo"),
    "halp": ("sslskel.methods.halp", "HaLP"),
}


def method_class(name: str):
    if name not in METHODS:
        raise KeyError(f"unknown method {name!r}; valid: {', '.join(sorted(METHODS))}")
    module_name, class_name = METHODS[name]
    return getattr(importlib.import_module(module_name), class_name)


def build_method(cfg, in_channels: int = 3, num_persons: int = 2):
    return method_class(cfg.method)(cfg, in_channels=in_channels, num_persons=num_persons)
