"""Auxiliary losses for the supervised stage: terms added to cross-entropy by the fine-tuner.

An auxiliary loss is a module that sees what the encoder produced for a batch (its features,
or the refinement graphs of a graph encoder when `needs == "graphs"`), the labels and the
dataset indices, and returns named loss terms. The fine-tuner adds the sum of every module's
terms to the cross-entropy, logs each term under its name, puts the module's trainable
parameters into its optimiser and its state (banks, generators) into its checkpoint.
Nothing of it runs at evaluation.

Example:
    >>> import torch
    >>> class FeatureNorm(AuxiliaryLoss):
    ...     name = "feature_norm"
    ...     def forward(self, inputs, labels, sample_index, num_persons=1):
    ...         return {"loss_norm": 1e-3 * inputs.pow(2).sum(1).mean()}
    >>> terms = FeatureNorm()(torch.ones(4, 8), torch.zeros(4, dtype=torch.long), torch.arange(4))
    >>> round(float(terms["loss_norm"]), 4)
    0.008
"""

from __future__ import annotations

import importlib

import torch
from torch import nn

# config section -> "module:SettingsClass" of each auxiliary loss, imported on use: a config
# holds these sections only where it names them or the supervised stage asks for them
# (`load_config(..., auxiliary=True)`), so pretraining configs do not carry them
AUXILIARY_SETTINGS: dict[str, str] = {
    "gcl": "sslskel.methods.gcl.build:GCLSettings",  # SkeletonGCL
    "supcon": "sslskel.methods.supcon:SupConSettings",  # SupCon / VSupCon
}


def auxiliary_settings(section: str) -> type:
    """The settings dataclass of the auxiliary loss configured by `section`."""
    module_name, class_name = AUXILIARY_SETTINGS[section].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def section_of(cfg, section: str):
    """`cfg.<section>`, or the loss's defaults where the config has no such section (a
    pretraining config given to the supervised stage's functions directly)."""
    found = getattr(cfg, section, None)
    return found if found is not None else auxiliary_settings(section)()


class AuxiliaryLoss(nn.Module):
    name = ""
    needs = "features"  # "features" (encoder output, (N, D)) | "graphs" (encoder(..., return_graphs=True))

    # a line for the run's log when the module had to adapt a setting to the data (else None)
    setup_message: str | None = None

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor, sample_index: torch.Tensor,
                num_persons: int = 1) -> dict[str, torch.Tensor]:
        """Named loss terms for one batch; in train mode the module may then update its state."""
        raise NotImplementedError
