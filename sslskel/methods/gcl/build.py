"""The `gcl:` config section (`GCLSettings`) and the module it builds for a training set.

`build_graph_contrast` picks the variant's class, checks that the encoder can return its
refinement graphs (contrast="graph"), reads the number of joints from the data's layout,
caps P with the training class counts (paper variant) or sizes the per-sample bank (authors'
code variant). `require_graphs` is also what other graph users (`--graph-distances`) call.

Example:
    >>> import numpy as np
    >>> from sslskel.data.container import SkeletonData
    >>> from sslskel.models import build_encoder
    >>> data = SkeletonData(np.zeros((6, 3, 8, 25, 2), np.float32), [8] * 6, [0, 1, 2] * 2, list("abcdef"))
    >>> encoder = build_encoder("ctrgcn", base_channels=8)
    >>> gcl = build_graph_contrast(GCLSettings(per_class=4, dim=16), encoder, data, seed=0)
    >>> type(gcl).__name__, gcl.needs, gcl.instance_bank.per_class, gcl.setup_message is not None
    ('PaperGraphContrast', 'graphs', 2, True)
    >>> GCLSettings(variant="authors")
    Traceback (most recent call last):
    ...
    ValueError: gcl.variant: expected one of paper, authors_code, got 'authors'
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
from torch import nn

from ...data.layouts import get_layout
from ...errors import UserError
from ...models import ENCODERS, encoder_class
from ..settings import check_settings, integer, number, one_of
from .contrast import CONTRASTS, VARIANTS, AuthorsCodeGraphContrast, GraphContrastBase, PaperGraphContrast

# field -> what its value must be (sslskel.methods.settings); a wrong type reads as a bad value
_CHECKS = {
    "variant": one_of(VARIANTS),
    "contrast": one_of(CONTRASTS),
    "per_class": integer(1),
    "dim": integer(1),
    "temperature": number(0, open_low=True),
    "semantic_momentum": number(0, 1, open_low=True, open_high=True),
    "num_hard_positives": integer(1),
    "num_hard_negatives": integer(0),
    "num_random_negatives": integer(0),
}


@dataclass
class GCLSettings:
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

    def __post_init__(self):
        self.check()

    def check(self) -> None:
        """Raise a ValueError naming the first bad key (`gcl.<field>`) and what it must be."""
        check_settings(self, _CHECKS, section="gcl")
        if self.num_hard_negatives + self.num_random_negatives < 1:
            # without a negative no InfoNCE row exists: the instance loss would always be 0
            raise ValueError("gcl.num_hard_negatives, gcl.num_random_negatives: expected at least "
                             "one negative in all, got 0 and 0")


def returns_graphs(encoder: nn.Module | type) -> bool:
    """Whether the encoder's (or encoder class's) forward takes `return_graphs`."""
    return "return_graphs" in inspect.signature(encoder.forward).parameters


def graph_encoders() -> list[str]:
    """Names of the registered encoders that can return graphs."""
    return sorted(name for name in ENCODERS if returns_graphs(encoder_class(name)))


def require_graphs(encoder: nn.Module | type, what: str = "SkeletonGCL (--gcl)") -> None:
    """Raise a UserError (a ValueError) naming the encoder when it cannot return refinement graphs."""
    if not returns_graphs(encoder):
        name = encoder.__name__ if isinstance(encoder, type) else type(encoder).__name__
        raise UserError(f"{what} needs the encoder's refinement graphs, but encoder {name} "
                         f"returns none (its forward has no return_graphs argument); encoders that "
                         f"support it: {', '.join(graph_encoders())} (set encoder.name)"
                         + (", or use gcl.contrast=feature" if "GCL" in what else ""))


def build_graph_contrast(settings: GCLSettings, encoder: nn.Module, train_data,
                         seed: int) -> GraphContrastBase:
    """The SkeletonGCL module of `settings` for this encoder and training (sub)set.

    Builds it whether or not `settings.enabled` (that switch is the caller's). The projection
    head's init draws from torch's global RNG, so seed torch first for a reproducible run;
    `seed` seeds the random-negative draws. Paper variant: P is capped at the smallest
    training class size and the message is in `.setup_message`.
    """
    settings.check()
    if settings.contrast == "graph":
        require_graphs(encoder)
    num_classes = int(train_data.num_classes)
    common = dict(num_classes=num_classes, num_joints=get_layout(train_data.layout).num_joints,
                  dim=settings.dim, temperature=settings.temperature,
                  num_hard_positives=settings.num_hard_positives,
                  num_hard_negatives=settings.num_hard_negatives,
                  num_random_negatives=settings.num_random_negatives,
                  contrast=settings.contrast, feature_dim=encoder.feature_dim, seed=seed)
    if settings.variant == "authors_code":
        return AuthorsCodeGraphContrast(num_samples=len(train_data), **common)
    counts = np.bincount(train_data.labels, minlength=num_classes)
    return PaperGraphContrast(per_class=settings.per_class,
                              semantic_momentum=settings.semantic_momentum,
                              class_counts=counts, **common)
