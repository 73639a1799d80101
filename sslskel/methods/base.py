"""The small base every pretraining method builds on.

A method owns its encoder (the part evaluated afterwards, kept under the name `encoder` so
evaluation can load `encoder.*` weights from any method's checkpoint) and turns one batch
into a loss in `training_step`. The engine owns everything else: the loop, the optimiser,
logging, checkpoints. State that must survive a resume (queues, counters) is kept in
buffers, so it travels in `state_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..data.modalities import modality_channels
from ..models import build_encoder


@dataclass
class Progress:
    """Where training is, for methods whose behaviour depends on it."""

    epoch: int  # 0-based epoch being trained
    step: int  # global optimiser steps done before this one


def build_method_encoder(cfg, in_channels: int, num_persons: int) -> nn.Module:
    """The configured encoder for data of `in_channels` coordinates (the modality may stack more)."""
    if cfg.data.layout == "auto":
        raise ValueError("data.layout is 'auto': set it (ntu25, ucla20, utd20, msr20) or load the data "
                         "first (sslskel.data.build.load_data resolves it)")
    return build_encoder(cfg.encoder.name, layout=cfg.data.layout,
                         in_channels=modality_channels(cfg.data.modality, in_channels),
                         num_persons=num_persons, **cfg.encoder.args)


def projection_mlp(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """CMD / HaLP's head: Linear-ReLU-Linear (2048-2048-128 in the paper config)."""
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True),
                         nn.Linear(hidden_dim, out_dim))


class PretrainMethod(nn.Module):
    name = ""
    num_views = 2

    def __init__(self, cfg, in_channels: int = 3, num_persons: int = 2):
        super().__init__()
        self.cfg = cfg
        self.encoder = build_method_encoder(cfg, in_channels, num_persons)

    def training_step(self, views: list[torch.Tensor], lengths: torch.Tensor,
                      progress: Progress) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return (loss, scalars to log) for one batch of `num_views` augmented views."""
        raise NotImplementedError

    def after_optimizer_step(self) -> None:
        """Hook for updates that follow the gradient step."""
