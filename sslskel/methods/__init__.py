"""Pretraining methods, one file each, picked by name (`--method NAME`).

Adding a method: write `sslskel/methods/<name>.py` (a `PretrainMethod` subclass with its
settings dataclass; see base.py), add one line to METHODS, and a config under configs/. A
method defined elsewhere (a notebook, a test) can be registered at run time instead:

    >>> sorted(METHODS)
    ['cvmim', 'halp', 'moco', 'simclr', 'vmoco', 'vsimclr']
    >>> register_method(method_class("moco"), name="moco_again") is method_class("moco_again")
    True
    >>> _ = METHODS.pop("moco_again")
"""

from __future__ import annotations

import importlib

import torch

# name -> "module:Class", imported on use so each method's optional needs stay its own
# (a class object is accepted too: register_method)
METHODS: dict[str, object] = {
    "moco": "sslskel.methods.moco:MoCo",
    "halp": "sslskel.methods.halp:HaLP",
    "cvmim": "sslskel.methods.cvmim:CVMIM",
    "simclr": "sslskel.methods.simclr:SimCLR",
    "vsimclr": "sslskel.methods.vsimclr:VSimCLR",
    "vmoco": "sslskel.methods.vmoco:VMoCo",
}


DEFAULT_METHOD = "moco"  # a config without `method:`


def method_class(name: str):
    if name not in METHODS:
        raise KeyError(f"unknown method {name!r}; valid: {', '.join(sorted(METHODS))}")
    entry = METHODS[name]
    if isinstance(entry, str):
        module_name, class_name = entry.split(":")
        entry = getattr(importlib.import_module(module_name), class_name)
    return entry


def register_method(cls, name: str | None = None):
    """Make `cls` available as `method: <name>` (default `cls.name`); returns `cls`."""
    METHODS[name or cls.name] = cls
    return cls


def build_method(cfg, in_channels: int = 3, num_persons: int = 2):
    return method_class(cfg.method)(cfg, in_channels=in_channels, num_persons=num_persons)


def run_amp(cfg, device) -> str:
    """`cfg.run.amp` for this run's method on `device`: `auto` becomes `off` on a CPU for a method
    that keeps fp32 there (`bf16_on_cpu = False`: HaLP, VSimCLR, where bf16 measured a cost in accuracy);
    anything else is returned as it is (`sslskel.common.device.amp_dtype` resolves it).

    >>> from sslskel.engine.config import load_config
    >>> run_amp(load_config(None, ["method=halp"]), "cpu"), run_amp(load_config(None, ["method=moco"]), "cpu")
    ('off', 'auto')
    """
    keeps_fp32 = not method_class(cfg.method).bf16_on_cpu
    if cfg.run.amp == "auto" and keeps_fp32 and torch.device(device).type == "cpu":
        return "off"
    return cfg.run.amp
