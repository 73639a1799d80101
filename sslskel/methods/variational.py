"""VCL's building blocks: a projected-normal posterior on the unit sphere, its KL bound, its uncertainty.

VCL (variational contrastive learning, 2025; only the abstract is available; docs/methods.md,
VCL) replaces a contrastive method's deterministic embedding by a sample of an
approximate posterior q(z|x) on the unit sphere S^{d-1}, and adds a normalised KL term to the
uniform prior. Every detail below is our design, marked "our choice" where it is one:

* `VariationalHead`: mean and log-variance heads (one nn.Linear each) on the projector's
  hidden layer, in place of its last Linear; the log-variance is bounded smoothly.
* `sample_projected_normal`: z = normalize(mu + sigma * eps), eps ~ N(0, I): a sample of the
  projected normal PN(mu, diag sigma^2), reparameterised so gradients reach mu and logvar.
* `kl_to_standard_normal`, `normalized_kl`: KL(N(mu, diag sigma^2) || N(0, I)), an upper
  bound on KL(PN(mu, diag sigma^2) || Uniform(S^{d-1})) (data-processing inequality), and
  its batch mean divided by d.
* `mean_posterior_variance`, `mean_resultant_length`: the two candidate uncertainty scores.

Precision: everything computes in at least fp32 with autocast switched off inside (bf16
inputs or a caller under bf16 autocast give fp32; fp64 stays fp64): exp(logvar), the KL's
sum of d terms and the normalisation would lose digits in bf16, and these tensors are small.

Example:
    >>> import torch
    >>> head = VariationalHead(16, 4)
    >>> mu, logvar = head(torch.randn(3, 16))
    >>> z = sample_projected_normal(mu, logvar, generator=torch.Generator().manual_seed(0))
    >>> z.shape, bool(torch.allclose(z.norm(dim=1), torch.ones(3)))
    (torch.Size([3, 4]), True)
    >>> kl_to_standard_normal(torch.zeros(2, 4), torch.zeros(2, 4))  # q = p: no divergence
    tensor([0., 0.])
    >>> samples = sample_projected_normal(mu, logvar, num_samples=8)
    >>> samples.shape, mean_resultant_length(samples).shape
    (torch.Size([8, 3, 4]), torch.Size([3]))
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..distributed import draw_local_rows
from .precision import at_least_fp32, no_autocast


class VariationalHead(nn.Module):
    """q(z|x)'s parameters from the projector's hidden layer h: (mu, logvar), each (N, out_dim), fp32.

    Two nn.Linear(in_dim, out_dim) side by side: the mean head takes the place of the
    projector's last Linear (Linear-ReLU-Linear becomes Linear-ReLU-[mean, logvar]), so
    in_dim is the projector's hidden width (2048 in the paper config) and out_dim the
    embedding's (128). Our choices:

    * The log-variance is bounded smoothly, logvar = B * tanh(raw / B) with B = `logvar_bound`
      (10 by default: sigma in (e^-5, e^5) = (0.0067, 148)). Near 0 this is the identity
      (within 3 % for |raw| <= 3), it never stops the gradient as a hard clamp does, and it
      keeps exp(logvar) finite so neither the KL nor the samples overflow.
    * The log-variance head starts with a mean log-variance of `init_logvar` (-4 by default,
      sigma = 0.135): its bias is set to B * atanh(init_logvar / B), weights as nn.Linear's.
      Only sigma / |mu| decides a sample's direction; with nn.Linear's initialisation |mu|
      starts near sqrt(d * E[h^2] / 3), so sigma = 1 (logvar 0) would start training with
      samples that are mostly noise, and a small sigma lets the contrastive term start as
      plain SimCLR / MoCo and learn where noise is affordable.
    * Both heads run in fp32 with autocast off: h is cast up, so mu and logvar are fp32 even
      under bf16 autocast (exp(logvar) in bf16 would be off by up to 0.4 %, and these are two
      small matmuls).
    """

    def __init__(self, in_dim: int, out_dim: int, logvar_bound: float = 10.0, init_logvar: float = -4.0):
        super().__init__()
        if not logvar_bound > 0:
            raise ValueError(f"VariationalHead: logvar_bound: expected a positive number, got {logvar_bound!r}")
        if not abs(init_logvar) < logvar_bound:
            raise ValueError(f"VariationalHead: init_logvar: expected a number in (-logvar_bound, logvar_bound) = "
                             f"({-logvar_bound}, {logvar_bound}), got {init_logvar!r}")
        self.logvar_bound = float(logvar_bound)
        self.mean = nn.Linear(in_dim, out_dim)
        self.logvar = nn.Linear(in_dim, out_dim)
        with torch.no_grad():
            self.logvar.bias.fill_(self.logvar_bound * math.atanh(init_logvar / self.logvar_bound))

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with no_autocast(h):
            h = at_least_fp32(h)
            if h.dtype != self.mean.weight.dtype:
                h = h.to(self.mean.weight.dtype)
            mu = self.mean(h)
            logvar = self.logvar_bound * torch.tanh(self.logvar(h) / self.logvar_bound)
        return mu, logvar


def _check_pair(name: str, mu: torch.Tensor, logvar: torch.Tensor) -> None:
    if mu.shape != logvar.shape or mu.dim() < 1:
        raise ValueError(f"{name}: expected mu and logvar of one shape (..., D), got {tuple(mu.shape)} "
                         f"and {tuple(logvar.shape)}")


def sample_projected_normal(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None,
                            num_samples: int | None = None, global_batch: bool = False) -> torch.Tensor:
    """Samples z = normalize(mu + exp(logvar / 2) * eps) of PN(mu, diag exp(logvar)), on the unit sphere.

    mu, logvar: (N, D). num_samples None (the default): one sample per row, (N, D), for
    training; an int S: (S, N, D), S samples per row (for the uncertainty scores), also
    when S = 1 (our choice: the shape follows the argument's kind, never its value). eps ~ N(0, I)
    is drawn from `generator` (on mu's device; None: the global generator), so a seeded
    generator gives the same samples again. Reparameterised: gradients reach mu and logvar.
    fp32 at least (module docstring). `global_batch=True` (training under torchrun): eps is
    drawn for the whole global batch and this process takes its rows, as one process would.
    """
    _check_pair("sample_projected_normal", mu, logvar)
    if num_samples is not None and (isinstance(num_samples, bool) or not isinstance(num_samples, int)
                                    or num_samples < 1):
        raise ValueError(f"sample_projected_normal: num_samples: expected None or a positive int, got {num_samples!r}")
    with no_autocast(mu):
        mu, logvar = at_least_fp32(mu), at_least_fp32(logvar)
        shape = mu.shape if num_samples is None else (num_samples, *mu.shape)
        if global_batch and num_samples is None:
            eps = draw_local_rows(lambda n: torch.randn((n, *shape[1:]), generator=generator, device=mu.device,
                                                        dtype=mu.dtype), shape[0])
        else:
            eps = torch.randn(shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return F.normalize(mu + torch.exp(0.5 * logvar) * eps, dim=-1)


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) per row, (N,) for (N, D) inputs, fp32 at least.

        KL = 1/2 sum_k (mu_k^2 + sigma_k^2 - 1 - log sigma_k^2),   sigma_k^2 = exp(logvar_k)

    This bounds KL(PN(mu, diag sigma^2) || Uniform(S^{D-1})) from above, the KL of the
    posterior on the sphere that VCL's ELBO asks for, which has no closed form: normalisation
    x -> x / |x| is a deterministic map, it pushes N(mu, Sigma) to PN(mu, Sigma) and N(0, I) to
    the uniform law on the sphere (N(0, I) is rotation invariant), and by the data-processing
    inequality no map increases a KL divergence. The bound is tight at mu = 0, sigma = 1
    (both sides 0) and loose where |mu| is large: scaling mu and sigma together leaves PN
    unchanged but grows the bound, so the term also pulls |mu| toward 0 (watch |mu| and
    sigma in training: docs/methods.md, VCL).
    """
    _check_pair("kl_to_standard_normal", mu, logvar)
    with no_autocast(mu):
        mu, logvar = at_least_fp32(mu), at_least_fp32(logvar)
        return 0.5 * (mu.pow(2) + torch.exp(logvar) - 1.0 - logvar).sum(dim=-1)


def normalized_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """VCL's "normalised KL term": the batch mean of `kl_to_standard_normal` divided by D, a scalar.

    Dividing by the dimension D is our reading of "normalised" (docs/methods.md, VCL): it
    keeps the weight beta comparable across embedding widths (the KL is a sum of D terms). The
    method applies beta * normalized_kl to each view's posterior (our choice, as summaries of
    the paper describe the objective as symmetrised over the two views).
    """
    return kl_to_standard_normal(mu, logvar).mean() / mu.shape[-1]


def mean_posterior_variance(logvar: torch.Tensor) -> torch.Tensor:
    """Uncertainty score: the mean over dimensions of sigma^2 = exp(logvar), (N,); larger = more uncertain.

    It is the variance before normalisation: it ignores |mu|, though a sample's spread on the
    sphere depends on sigma / |mu| (`mean_resultant_length` sees both).
    """
    with no_autocast(logvar):
        return torch.exp(at_least_fp32(logvar)).mean(dim=-1)


def mean_resultant_length(samples: torch.Tensor) -> torch.Tensor:
    """R = |mean of the S unit vectors| per row, (N,), for samples (S, N, D) on the unit sphere.

    R lies in [0, 1]: 1 when all S samples coincide (a certain posterior), near 0 when they
    scatter over the sphere (about 1 / sqrt(S) for uniform samples). The uncertainty score is
    1 - R: larger = more uncertain. The samples are not renormalised here (take them from
    `sample_projected_normal`); for unit vectors R <= 1 by the triangle inequality.
    """
    if samples.dim() != 3:
        raise ValueError(f"mean_resultant_length: samples: expected (S, N, D), got shape {tuple(samples.shape)}")
    with no_autocast(samples):
        return at_least_fp32(samples).mean(dim=0).norm(dim=-1)
