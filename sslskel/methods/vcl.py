"""What VSimCLR and VMoCo share (docs/methods.md, VCL): the `vcl:` settings and the
posterior projector.

The projector's hidden layer (Linear - ReLU, as the deterministic methods' MLP) feeds two
heads, the mean mu and the log-variance of a diagonal Gaussian; the embedding is a sample of
the projected normal, z = normalize(mu + sigma * eps) (`sample_projected_normal`), and the
loss adds beta times the KL bound normalised by the dimension (`normalized_kl`), for every
view with a gradient. At evaluation the encoder's representation is used, as for every
method; `posterior(x, lengths)` gives (mu, logvar) for the uncertainty scores.

Example:
    >>> import torch
    >>> projector = PosteriorProjector(16, 32, 8)
    >>> mu, logvar = projector(torch.randn(4, 16))
    >>> mu.shape, logvar.shape
    (torch.Size([4, 8]), torch.Size([4, 8]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import step_generator
from .settings import check_settings, integer, number
from .variational import VariationalHead, normalized_kl, sample_projected_normal


@dataclass
class VCLSettings:
    """The `vcl:` section: weight of the normalised KL term, samples for the uncertainty score."""

    beta: float = 1.0  # the abstract adds "a normalised KL term": weight 1 (a choice)
    eval_samples: int = 16  # S posterior samples for the mean resultant length at evaluation

    def __post_init__(self):
        check_settings(self, {"beta": number(0), "eval_samples": integer(1)}, section="vcl")


class PosteriorProjector(nn.Module):
    """h -> (mu, logvar): the projector's hidden layer, then the variational head."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True))
        self.head = VariationalHead(hidden_dim, out_dim)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.hidden(h))


class Variational:
    """Mixin of VSimCLR and VMoCo: a posterior projector on the encoder, one sample per view."""

    extra_protocols = ("uncertainty",)  # the posterior's uncertainty scores (sslskel.eval.uncertainty)

    def build_projector(self, in_dim: int, hidden_dim: int, out_dim: int) -> nn.Module:
        """The parent's constructor calls this for its projector: a posterior one instead of
        the deterministic MLP, which is never built (9M parameters at the paper config)."""
        return PosteriorProjector(in_dim, hidden_dim, out_dim)

    def setup_posterior(self, cfg) -> None:
        self.beta, self.seed = cfg.vcl.beta, cfg.run.seed

    def posterior(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        """(mu, logvar) of q(z | x), each (N, out_dim), fp32."""
        return self.projector(self.encoder(x, lengths))

    def sample_view(self, x: torch.Tensor, lengths: torch.Tensor, step: int, view: int):
        """(a posterior sample on the sphere, {"kl": beta * normalised KL}) of one view."""
        return self.sample_features(self.encoder(x, lengths), step, view)

    def sample_features(self, h: torch.Tensor, step: int, view: int):
        """`sample_view` from the encoder's representation `h` of the view."""
        mu, logvar = self.projector(h)
        z = sample_projected_normal(mu, logvar, generator=step_generator(self.seed, step, view, mu.device),
                                    global_batch=True)
        return z, {"kl": self.beta * normalized_kl(mu, logvar)}
