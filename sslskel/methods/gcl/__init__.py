"""SkeletonGCL graph contrast (Huang et al., ICLR 2023; docs/methods.md, SkeletonGCL).

An auxiliary loss of the supervised stage: total loss = CE + L_ins + L_sem. The encoder's
last unit yields refinement graphs (N*M, K=3, C, V, V); a projection head turns each sample's
graphs into a unit vector v (`heads`), which is contrasted against two memory banks (`banks`):

* instance bank, P graphs per class, first in first out: per anchor the K_H+ = 128 hardest
  positives, K_H- = 512 hardest negatives and K_R = 512 random negatives, one InfoNCE row
  per (anchor, positive) (`losses.instance_contrast_loss`);
* semantic bank, one momentum-averaged vector per class (a = 0.85): InfoNCE of each anchor
  over the class vectors, its own class being the positive (`losses.semantic_contrast_loss`).

Modules: `heads` (graph / feature projection), `banks` (the three banks, the P cap),
`losses` (hard sampling and the two losses, pure functions), `contrast` (the auxiliary-loss
modules: `PaperGraphContrast`, and `AuthorsCodeGraphContrast` for the authors' released
code, which differs from the paper), `build` (`GCLSettings`, the config's `gcl:` section,
and `build_graph_contrast`). Where the paper is silent, each module's docstring says what
was chosen and why. Nothing of this runs at inference.

Example:
    >>> import torch
    >>> from sslskel.methods.auxiliary import AuxiliaryLoss
    >>> gcl = PaperGraphContrast(num_classes=3, num_joints=5, per_class=4, dim=8)
    >>> gcl.name, gcl.needs, isinstance(gcl, AuxiliaryLoss)
    ('gcl', 'graphs', True)
    >>> sorted(gcl(torch.randn(4, 3, 2, 5, 5), torch.tensor([0, 1, 2, 0]), None))
    ['loss_instance', 'loss_semantic']
"""

from __future__ import annotations

from .banks import InstanceMemoryBank, SampleMemoryBank, SemanticMemoryBank, cap_per_class, rank_within_class
from .build import GCLSettings, build_graph_contrast, graph_encoders, require_graphs, returns_graphs
from .contrast import CONTRASTS, VARIANTS, AuthorsCodeGraphContrast, GraphContrastBase, PaperGraphContrast
from .heads import FeatureProjectionHead, GraphProjectionHead, average_graphs
from .losses import ContrastSets, instance_contrast_loss, sample_contrast_sets, semantic_contrast_loss

__all__ = [
    "AuthorsCodeGraphContrast", "CONTRASTS", "ContrastSets", "FeatureProjectionHead",
    "GCLSettings", "GraphContrastBase", "GraphProjectionHead",
    "InstanceMemoryBank", "PaperGraphContrast", "SampleMemoryBank", "SemanticMemoryBank",
    "VARIANTS", "average_graphs", "build_graph_contrast", "cap_per_class", "graph_encoders",
    "instance_contrast_loss", "rank_within_class", "require_graphs", "returns_graphs",
    "sample_contrast_sets", "semantic_contrast_loss",
]
