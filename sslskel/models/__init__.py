"""Encoders: (N, C, T, V, M) skeleton clips -> (N, feature_dim) representations.

Every encoder takes `layout`, `in_channels` and `num_persons` plus its own size arguments,
has a `feature_dim` attribute and is called as `encoder(x, lengths=None)`. Projection and
classification heads belong to the methods, not here.

Example:
    >>> enc = build_encoder("gru", hidden_size=16, num_layers=1)
    >>> enc.feature_dim
    32
"""

from __future__ import annotations

import importlib

from torch import nn

# name -> (module, class); imported on use so a missing optional piece breaks only itself
ENCODERS = {
    "gru": ("sslskel.models.gru", "BiGRUEncoder"),
    "stgcn": ("sslskel.models.stgcn", "STGCN"),
    "ctrgcn": ("sslskel.models.ctrgcn", "CTRGCN"),
    "pose_mlp": ("sslskel.models.pose_mlp", "PoseMLP"),
}


def encoder_class(name: str) -> type:
    """The encoder class registered under `name` (imported, not instantiated)."""
    if name not in ENCODERS:
        raise KeyError(f"unknown encoder {name!r}; valid: {sorted(ENCODERS)}")
    module_name, class_name = ENCODERS[name]
    return getattr(importlib.import_module(module_name), class_name)


def build_encoder(name: str, **kwargs) -> nn.Module:
    return encoder_class(name)(**kwargs)
