"""SupCon and VSupCon as auxiliary losses of the supervised stage (docs/methods.md, VCL).

The fine-tuner trains the encoder and a linear classifier with cross-entropy; this module
adds a projector on the encoder's features and Khosla et al.'s supervised contrastive loss
over the batch (positives: the other clips of the same class; one view per clip, as the
fine-tuner gives). With `variational`, the embedding is a sample of the projected normal
posterior and beta times the normalised KL bound is added (VSupCon):

    SupCon:  L = w * SupCon(normalize(g(h)), y)
    VSupCon: L = w * SupCon(normalize(mu + sigma * eps), y) + beta * KL(q(z | x)) / d

Example:
    >>> import torch
    >>> aux = SupervisedContrast(SupConSettings(enabled=True, variational=True, hidden=16, dim=8), in_dim=12, seed=0)
    >>> terms = aux(torch.randn(6, 12), torch.tensor([0, 0, 1, 1, 2, 2]), torch.arange(6))
    >>> sorted(terms)
    ['loss_kl', 'loss_supcon']
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..distributed import gather_rows, gather_rows_with_grad
from .auxiliary import AuxiliaryLoss
from .base import projection_mlp, step_generator
from .losses import supcon
from .settings import check_settings, integer, number
from .variational import normalized_kl, sample_projected_normal
from .vcl import PosteriorProjector


@dataclass
class SupConSettings:
    """The `supcon:` section: SupCon / VSupCon next to cross-entropy in supervised training."""

    enabled: bool = False  # --supcon switches it on
    variational: bool = False  # VSupCon: posterior samples + beta * normalised KL
    weight: float = 1.0
    temperature: float = 0.07  # the SupCon paper's
    hidden: int = 256
    dim: int = 128
    beta: float = 1.0  # weight of the normalised KL term (variational only)

    def __post_init__(self):
        check_settings(self, {"weight": number(0), "temperature": number(0, open_low=True),
                              "hidden": integer(1), "dim": integer(1), "beta": number(0)}, section="supcon")


class SupervisedContrast(AuxiliaryLoss):
    needs = "features"

    def __init__(self, settings: SupConSettings, in_dim: int, seed: int = 0):
        super().__init__()
        self.settings, self.seed = settings, seed
        self.name = "vsupcon" if settings.variational else "supcon"
        if settings.variational:
            self.projector = PosteriorProjector(in_dim, settings.hidden, settings.dim)
        else:
            self.projector = projection_mlp(in_dim, settings.hidden, settings.dim)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))  # seeds the samples; resumes exactly

    @staticmethod
    def global_batch(z, labels):
        """Under torchrun, every process's (z, labels): positives and negatives from the global
        batch, as with one process (gradients return to each process's own rows)."""
        return gather_rows_with_grad(z), gather_rows(labels)

    def forward(self, inputs, labels, sample_index=None, num_persons=1):
        s = self.settings
        if not s.variational:
            z = F.normalize(self.projector(inputs).float(), dim=1)
            return {"loss_supcon": s.weight * supcon(*self.global_batch(z, labels), s.temperature)}
        mu, logvar = self.projector(inputs)
        generator = step_generator(self.seed, int(self.calls), 0, mu.device)
        if self.training:
            self.calls += 1
        z = sample_projected_normal(mu, logvar, generator=generator, global_batch=True)
        return {"loss_supcon": s.weight * supcon(*self.global_batch(z, labels), s.temperature),
                "loss_kl": s.beta * normalized_kl(mu, logvar)}
