"""CV-MIM losses (Zhao et al., CVPR 2021) as pure functions of tensors.

* `jsd_mi_loss`: the Jensen-Shannon MI estimator (paper Eq. 6) with the encode-and-dot-product
  critic, used for the representation term and the cross-view term (Eq. 11).
* `fuse` / `fused_dim`: the fusion of z_p and z_v the representation term scores (MOE, POE, CAT).
* `gaussian_log_likelihood`, `club_upper_bound`, `q_log_likelihood_loss`: the CLUB upper bound
  with the Gaussian network Q (Eq. 7) and Q's maximum-likelihood loss (Eq. 8).
* `prior_points`, `discriminator_loss`, `prior_matching_loss`, `gradient_penalty`,
  `discriminator_loss_with_penalty`: the uniform prior matching game (Eq. 10).

Where the paper leaves a detail open, the authors' TensorFlow code (google-research,
poem/cv_mim/losses.py and algorithms.py; docs/methods.md, CV-MIM) decides, and each docstring says so.

Precision: every function computes in at least fp32 with autocast switched off inside, so bf16
inputs (or a caller under bf16 autocast) give fp32 results; fp64 inputs stay fp64. The scores,
log-likelihoods and penalties here are sums of many small terms that bf16 would round away, and
the tensors are tiny (N x N at most), so fp32 costs nothing.

Example:
    >>> import torch
    >>> z = torch.zeros(4, 3)
    >>> float(jsd_mi_loss(z, z))  # all scores 0: softplus(0) = log 2 on both sides cancels
    0.0
    >>> fuse(torch.ones(2, 3), torch.zeros(2, 3), "moe")
    tensor([[0.5000, 0.5000, 0.5000],
            [0.5000, 0.5000, 0.5000]])
    >>> mean, logvar, target = torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 2)
    >>> float(club_upper_bound(mean, logvar, target))  # every pair equally likely: no information
    0.0
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .precision import at_least_fp32 as _f32
from .precision import no_autocast

FUSIONS = ("moe", "poe", "cat")
LOG2 = math.log(2.0)


def _check_pairs(name: str, *tensors: torch.Tensor) -> int:
    """All (N, d) with the same shape and N >= 2 (a mismatched pair must exist); returns N."""
    shapes = [tuple(t.shape) for t in tensors]
    if any(len(s) != 2 for s in shapes) or len(set(shapes)) != 1:
        raise ValueError(f"{name}: expected (N, d) tensors of one shape, got shapes {shapes}")
    n = shapes[0][0]
    if n < 2:
        raise ValueError(f"{name}: expected a batch of N >= 2 (one negative pair at least), got N = {n}")
    return n


# ----------------------------------------------------------------------------- JSD estimator

def jsd_mi_loss(anchors: torch.Tensor, candidates: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
    """Jensen-Shannon MI estimator loss with the encode-and-dot-product critic (paper Eq. 6).

    anchors, candidates: (N, d); row i of each forms the positive pair, every (i, j != i) a
    negative. With scores s = anchors @ candidates.T (N x N):

        loss = mean_{(i,j) negative} [softplus(-s_ij) + s_ij - log 2] - mean_i [log 2 - softplus(-s_ii)]
             = mean_{(i,j) negative} softplus(s_ij) + mean_i softplus(-s_ii) - 2 log 2

    (the code's compute_fenchel_dual_loss with measure JSD and the identity as positive
    indicator; softplus(-s) + s is computed as softplus(s), which is exact and does not
    overflow). `groups` (N,), e.g. performance ids: a pair (i, j) with groups[i] == groups[j]
    is no negative (another camera's view of the same take, or another frame of the same clip,
    is not a different sample); the negative mean runs over the remaining pairs, and is 0
    when none remain, as the code divides by max(count, 1e-12).
    In CV-MIM anchors are the critic g(x) and candidates the fusion of z_p and z_v
    (representation term), or z_p of one view and z_p of the other (cross-view term).
    Raises ValueError for N < 2 (no negative pair) or mismatched shapes.
    """
    n = _check_pairs("jsd_mi_loss", anchors, candidates)
    if groups is not None and tuple(groups.shape) != (n,):
        raise ValueError(f"jsd_mi_loss: expected groups of shape ({n},), got {tuple(groups.shape)}")
    with no_autocast(anchors):
        scores = _f32(anchors) @ _f32(candidates).t()
        positive = scores.diagonal()
        if groups is None:
            negatives = ~torch.eye(n, dtype=torch.bool, device=scores.device)
        else:
            groups = groups.to(scores.device)
            negatives = groups[:, None] != groups[None, :]
        negative = scores[negatives]
        if not len(negative):  # nothing left to contrast against: the code's 0 / max(0, 1e-12)
            return F.softplus(-positive).mean() - LOG2
        return F.softplus(negative).mean() + F.softplus(-positive).mean() - 2 * LOG2


# ----------------------------------------------------------------------------- fusion

def _check_mode(mode: str) -> None:
    if mode not in FUSIONS:
        raise ValueError(f"fusion: expected one of {', '.join(FUSIONS)}, got {mode!r}")


def fused_dim(pose_dim: int, view_dim: int, mode: str) -> int:
    """Width of `fuse(z_p, z_v, mode)`: pose_dim + view_dim for "cat", else pose_dim.

    "moe" and "poe" combine z_p and z_v entry by entry, so they need pose_dim == view_dim
    (ValueError otherwise, as in the authors' code).
    """
    _check_mode(mode)
    if mode == "cat":
        return pose_dim + view_dim
    if pose_dim != view_dim:
        raise ValueError(f"fusion {mode!r}: expected pose_dim == view_dim, got {pose_dim} and {view_dim}")
    return pose_dim


def fuse(z_p: torch.Tensor, z_v: torch.Tensor, mode: str = "moe") -> torch.Tensor:
    """Fusion z_p (.) z_v of paper Eq. 11, as the authors' code computes it (result in >= fp32).

    * "moe" (mixture of experts, the paper's default): 0.5 (z_p + z_v);
    * "poe" (product of experts): z_p * z_v, entry by entry;
    * "cat": concat(z_p, z_v) along the last dimension.

    The paper cites Shi et al. [44] for MOE and Wu & Goodman [52] for POE, which mix or
    multiply Gaussian densities; the encoder outputs points, not densities (no variances), and
    the code applies the point versions above (equal-weight average; elementwise product). That
    reading is followed here. Unknown modes raise ValueError listing the valid ones.
    """
    _check_mode(mode)
    z_p, z_v = _f32(z_p), _f32(z_v)
    if mode == "cat":
        return torch.cat([z_p, z_v], dim=-1)
    if z_p.shape != z_v.shape:
        raise ValueError(f"fusion {mode!r}: expected z_p and z_v of one shape, "
                         f"got {tuple(z_p.shape)} and {tuple(z_v.shape)}")
    return 0.5 * (z_p + z_v) if mode == "moe" else z_p * z_v


# ----------------------------------------------------------------------------- CLUB with Q

def gaussian_log_likelihood(mean: torch.Tensor, logvar: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-row log q(target_i | x_i) under the diagonal Gaussian (mean_i, exp(logvar_i)), (N,).

        ll_i = mean_k [ -(mean_ik - target_ik)^2 / exp(logvar_ik) / 2 - logvar_ik / 2 ]

    The code's compute_log_likelihood (mean over dimensions, no -log(2 pi)/2 constant, which
    cancels in the CLUB difference and does not move Q's optimum).
    """
    mean, logvar, target = _f32(mean), _f32(logvar), _f32(target)
    return (-(mean - target).pow(2) * torch.exp(-logvar) / 2 - logvar / 2).mean(dim=-1)


def q_log_likelihood_loss(mean: torch.Tensor, logvar: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Q's own loss (paper Eq. 8 by maximum likelihood): -mean_i log q(target_i | x_i).

    Matched pairs only. Pass detached embeddings so that this loss trains Q alone.
    """
    return -gaussian_log_likelihood(mean, logvar, target).mean()


def club_upper_bound(mean: torch.Tensor, logvar: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CLUB upper bound on I(x; y) with the Gaussian q (paper Eq. 7; the code's clipping at 0).

    mean, logvar: (N, d), Q's outputs for the conditioning inputs x_i (z_p for the intra term);
    target: (N, d), the y_i (z_v). With ll(i, j) = log q(y_j | x_i) as in
    `gaussian_log_likelihood`:

        bound = max(0, mean_i ll(i, i) - mean_{i != j} ll(i, j))

    (the code's compute_contrastive_log_ratio with the identity as positive indicator).
    The mismatched mean is exact without an N x N x d tensor: per dimension k,
        sum_j (m_ik - y_jk)^2 = N (m_ik - ybar_k)^2 + N var_k
    (var_k the batch variance of y_k, dividing by N), so the sum over all pairs costs O(N d);
    the matched pairs are then subtracted. Centring on ybar keeps this free of the
    cancellation of the expanded square m^2 - 2 m y + y^2. Gradients reach mean, logvar and
    target; the encoder's disentanglement loss passes Q's outputs on the encoder's z (with Q's
    parameters left out of that optimiser). Raises ValueError for N < 2 or mismatched shapes.
    """
    n = _check_pairs("club_upper_bound", mean, logvar, target)
    with no_autocast(mean):
        mean, logvar, target = _f32(mean), _f32(logvar), _f32(target)
        precision = torch.exp(-logvar)
        matched = gaussian_log_likelihood(mean, logvar, target)  # (N,)
        centre = target.mean(dim=0)
        spread = (target - centre).pow(2).mean(dim=0)  # (d,)
        # sum over j of ll(i, j), for each i: (N,)
        all_pairs = (-(mean - centre).pow(2).add(spread) * precision / 2 - logvar / 2).mean(dim=-1) * n
        mismatched = (all_pairs.sum() - matched.sum()) / (n * (n - 1))
        return torch.clamp(matched.mean() - mismatched, min=0.0)


# ----------------------------------------------------------------------------- prior matching

def prior_points(z_p: torch.Tensor, z_v: torch.Tensor, generator: torch.Generator | None = None):
    """(real, fake) for the prior discriminator (paper section 3.3, the code's choice of points).

    fake = sigmoid(concat(z_p, z_v)) rescales the embedding into (0, 1); real ~ U(0, 1) of the
    same shape (drawn with `generator` when given). Both in >= fp32.
    """
    fake = torch.sigmoid(torch.cat([_f32(z_p), _f32(z_v)], dim=-1))
    real = torch.rand(fake.shape, generator=generator, dtype=fake.dtype, device=fake.device)
    return real, fake


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's GAN loss (paper Eq. 10, maximised by D), as the code scales it:

        0.5 [ mean softplus(-D(real)) + mean softplus(D(fake)) ]

    i.e. the binary cross-entropy of D's logits with real = 1, fake = 0, averaged over the two.
    """
    return 0.5 * (F.softplus(-_f32(real_logits)).mean() + F.softplus(_f32(fake_logits)).mean())


def prior_matching_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """E's non-saturating prior loss: mean softplus(-D(fake)) (the code's generator loss "NS").

    fake_logits must come from D applied to non-detached fake points, so that it trains E.
    """
    return F.softplus(-_f32(fake_logits)).mean()


def _penalty_and_logits(discriminator, points: torch.Tensor):
    """(R1-style penalty, D's logits) at `points`, treated as constants."""
    with torch.enable_grad(), no_autocast(points):
        x = _f32(points.detach()).requires_grad_(True)
        logits = _f32(discriminator(x))
        # The sum's gradient is each row's own gradient because D handles rows independently
        # (an MLP without batch norm, as in the paper and code).
        (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
        penalty = grad.reshape(len(x), -1).pow(2).sum(dim=1).mean()
    return penalty, logits


def gradient_penalty(discriminator, points: torch.Tensor) -> torch.Tensor:
    """Batch mean of |grad_x D(x)|^2 at the given points themselves (the code's
    compute_gradient_penalty, after Mescheder et al. 2018: R1 at real, R2 at fake points),
    not WGAN-GP on interpolates.

    The points are detached (the penalty regularises D only); the gradient is taken with
    create_graph=True so the penalty is differentiable in D's parameters. Assumes D treats
    the rows of its input independently (no batch norm).
    """
    return _penalty_and_logits(discriminator, points)[0]


def discriminator_loss_with_penalty(discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """D's full loss, the code's compute_discriminator_loss:

        discriminator_loss(D(real), D(fake)) + 0.5 (GP(real) + GP(fake))

    with GP = `gradient_penalty` (weight 1). fake is detached, so this trains D only; one D
    forward per set of points serves both the GAN term and the penalty.
    """
    penalty_real, real_logits = _penalty_and_logits(discriminator, real)
    penalty_fake, fake_logits = _penalty_and_logits(discriminator, fake)
    return discriminator_loss(real_logits, fake_logits) + 0.5 * (penalty_real + penalty_fake)
