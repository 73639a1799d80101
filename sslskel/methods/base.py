"""The small contract every pretraining method follows.

A method owns its encoder (the part evaluated afterwards, kept under the name `encoder` so
evaluation can load `encoder.*` weights from any method's checkpoint) and turns one `Batch`
into losses in `training_step`. The engine owns everything else: the loop, the optimisers
and their schedules, logging, checkpoints. What a method declares:

    name             the registry name (`--method NAME`)
    settings         {config section: dataclass}: the `<section>.*` keys it reads, checked
                     when the config loads (a section may be shared, as HaLP shares `moco`)
    groups           parameter-group names in stepping order; "main" first. The trainer builds
                     one optimiser and lr schedule per group: `optim` configures "main",
                     `optim.groups.<name>.<key>` overrides any setting for group <name>
    parameter_groups {group: parameters}; by default every trainable parameter is "main"
    num_views        augmented views per sample in `batch.views`
    needs_partners   whether `batch.partner_views` should hold the same performance seen by
                     another camera

`training_step(batch, progress)` returns ({group: loss}, {name: scalar to log}). Each group's
loss only updates that group's parameters: a critic's loss that flows into the encoder does
not train the encoder unless the encoder's own loss says so (detach what another group
must not see, as you would with several optimisers by hand). State that must survive a
resume (queues, counters) is kept in buffers, so it travels in `state_dict`.

Example (a method with a critic that has its own optimiser):
    >>> import torch
    >>> from torch import nn
    >>> class Probe(PretrainMethod):
    ...     name, groups, num_views = "probe", ("main", "critic"), 1
    ...     def __init__(self, cfg, in_channels=3, num_persons=2):
    ...         super().__init__(cfg, in_channels, num_persons)
    ...         self.critic = nn.Linear(self.encoder.feature_dim, 1)
    ...     def parameter_groups(self):
    ...         return {"main": list(self.encoder.parameters()), "critic": list(self.critic.parameters())}
    ...     def training_step(self, batch, progress):
    ...         z = self.encoder(batch.views[0], batch.lengths[:, 0])
    ...         return {"main": z.pow(2).mean(), "critic": self.critic(z.detach()).pow(2).mean()}, {}
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..data.batch import Batch
from ..data.modalities import modality_channels
from ..models import build_encoder


@dataclass
class Progress:
    """Where training is, for methods whose behaviour depends on it."""

    epoch: int  # 0-based epoch being trained
    step: int  # global optimiser steps done before this one


def step_generator(seed: int, step: int, stream: int, device: torch.device) -> torch.Generator:
    """A generator seeded by (run seed, optimiser step, stream) only: a method's random draws of
    a step (HaLP's k-means and targets, CV-MIM's cameras, VCL's posterior samples) are the same
    whatever ran before, so a resumed run draws what the uninterrupted one would have."""
    return torch.Generator(device=device).manual_seed((seed * 1_000_003 + step * 7 + stream) % (2**63 - 1))


def build_method_encoder(cfg, in_channels: int, num_persons: int) -> nn.Module:
    """The configured encoder for data of `in_channels` coordinates (the modality may stack more)."""
    if cfg.data.layout == "auto":
        raise ValueError("data.layout is 'auto': set it (ntu25, ucla20, utd20, msr20) or take it from the "
                         "data read (sslskel.engine.config.resolved_config(cfg, load_data(cfg.data, ...)))")
    return build_encoder(cfg.encoder.name, layout=cfg.data.layout,
                         in_channels=modality_channels(cfg.data.modality, in_channels),
                         num_persons=num_persons, **cfg.encoder.args)


def projection_mlp(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """CMD / HaLP's head: Linear-ReLU-Linear (2048-2048-128 in the paper config)."""
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True),
                         nn.Linear(hidden_dim, out_dim))


class PretrainMethod(nn.Module):
    name = ""
    settings: dict[str, type] = {}
    groups: tuple[str, ...] = ("main",)
    num_views = 2
    needs_partners = False
    # evaluation protocols beyond those every run has (linear, knn, diagnostics, single-shot):
    # "disentangle" needs `embed` -> (z_p, z_v) (CV-MIM), "uncertainty" needs `posterior` (VCL)
    extra_protocols: tuple[str, ...] = ()
    # `run.amp: auto` trains in bf16 on a CPU with native bf16 unless the method's accuracy was
    # measured lower there than in fp32 (docs/benchmarks.md, bf16); see `run_amp`
    bf16_on_cpu = True

    def __init__(self, cfg, in_channels: int = 3, num_persons: int = 2):
        super().__init__()
        self.cfg = cfg
        self.encoder = build_method_encoder(cfg, in_channels, num_persons)

    def encode_views(self, xs: list[torch.Tensor], lengths: list[torch.Tensor | None]) -> list[torch.Tensor]:
        """The encoder's representation of each view: in one call where the encoder can
        (`forward_many`, the GRU: the same numbers, 1.06-1.44x faster per step, docs/benchmarks.md),
        else one call per view."""
        many = getattr(self.encoder, "forward_many", None)
        return many(xs, lengths) if many is not None else [self.encoder(x, n) for x, n in zip(xs, lengths)]

    def build_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        """The head on the encoder; a subclass that needs another (VCL's posterior) overrides
        this instead of building its parent's and replacing it."""
        return projection_mlp(in_dim, hidden_dim, out_dim)

    @classmethod
    def check_config(cls, cfg) -> None:
        """Rules between this method's sections and the others: raise a ValueError that names
        every key involved (`KEYS: expected ..., got ...`); load_config calls it once every
        section is built and reports it as a configuration error. None by default."""

    @classmethod
    def config_warnings(cls, cfg) -> list[str]:
        """Valid settings of `cfg` that silently change what this method trains (warned about
        at start-up by sslskel.engine.startup_warnings); none by default."""
        return []

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """{group: trainable parameters}; every trainable parameter belongs to exactly one."""
        return {"main": [p for p in self.parameters() if p.requires_grad]}

    def training_step(self, batch: Batch, progress: Progress
                      ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """({group: loss}, {name: scalar to log}) for one batch."""
        raise NotImplementedError

    def after_optimizer_step(self) -> None:
        """Hook for updates that follow the gradient steps (all groups stepped)."""
