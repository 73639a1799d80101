"""HaLP's hallucinated latent positives: generation, filters and loss (docs/methods.md, HaLP).

For each anchor key z (unit, detached) with nearest prototype p0, draw target prototypes
p_sel uniformly with replacement from the other k - 1 prototypes and walk from z towards
p_sel on the great circle:

    z(t) = [sin((1 - t) Omega) z + sin(t Omega) p_sel] / sin(Omega),  Omega = angle(z, p_sel)

The hardest admissible step t_max is where z(t) is equally similar to p0 and p_sel,
z(t).(p0 - p_sel) = 0, which has the closed form

    K = (1 - p_sel.p0) / (z.(p0 - p_sel)),  t_max = atan(sin Omega / (K + cos Omega)) / Omega

and the step taken is t = (1 - u) t_max with u ~ U(0, lambda). A filter then keeps the
good positives (the paper's rank filter: nearest prototype still p0) and the HaLP loss
pulls the query towards them:

    L_HaLP = - mean over kept (b, i) of (q_b . z_h[b, i]) / tau

Implementation choices (documented deviations / details):

- t_max is computed as atan2(a sin Omega, a cos Omega + (1 - p_sel.p0)) / Omega with
  a = z.(p0 - p_sel), the same angle as the closed form multiplied through by a, so that
  the quadrant is right and there is no division by a. Omega = atan2(|p_sel - cos z|, cos),
  accurate at both ends, unlike acos.
- When a <= 0 (the anchor is as close to p_sel as to p0: only through ties, e.g.
  duplicate prototypes) there is no admissible step; t_max is clamped to ``_TINY_T``.
- The slerp is evaluated in the equivalent form z(t) = cos(t Omega) z + sin(t Omega) v
  with v = (p_sel - cos(Omega) z) / sin(Omega), as two coefficients per (anchor,
  positive) that are renormalised before the one (B, P, d) combination a z + b p_sel.
  When sin(Omega) is ~0 (z equal or antipodal to p_sel; the great circle is undefined)
  it falls back to linear interpolation + renormalisation, and to z itself if that
  vector vanishes. Anchors and prototypes are renormalised first (no-op for unit input).
- The generation runs under torch.no_grad() with autocast disabled, in float32 (float64
  inputs stay float64). Positives are returned in that compute dtype.
- Precision: `nearest_prototype`, the filters and ``halp_loss`` also compute in at least
  float32 (the common dtype of their inputs, never demoted) with autocast disabled: an
  enclosing bf16 autocast would recast their matmuls to bf16 even on float32 operands,
  flipping the rank filter's close calls and rounding the loss.
- The rank filter keeps ties (p0 at least as similar as every other prototype), so a
  positive exactly at t_max (u = 0) is kept, as the constraint z(t).p0 >= z(t).p_sel
  allows.
- ``halp_loss`` takes the mean over all kept (anchor, positive) pairs in the batch (the
  authors' form). In L = L_InfoNCE + mu * L_HaLP only mu / tau matters for this term
  (the supplement's footnote): mu and tau act as one constant; tau is kept separate so
  the HaLP term stays comparable with the MoCo logits.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> protos = torch.nn.functional.normalize(torch.randn(20, 128, generator=g), dim=1)
    >>> keys = torch.nn.functional.normalize(protos[:8] + 0.3 * torch.randn(8, 128, generator=g), dim=1)
    >>> hp = hallucinate_positives(keys, protos, num_positives=100, lam=0.8, generator=g)
    >>> hp.positives.shape
    torch.Size([8, 100, 128])
    >>> keep = rank_filter(hp.positives, protos, hp.p0_index)
    >>> query = torch.nn.functional.normalize(torch.randn(8, 128), dim=1).requires_grad_()
    >>> loss = halp_loss(query, hp.positives, keep, temperature=0.07)
    >>> loss.backward(); query.grad.shape
    torch.Size([8, 128])
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

from sslskel.data.errors import DataFormatError

from .precision import no_autocast

__all__ = [
    "HallucinatedPositives",
    "nearest_prototype",
    "hallucinate_positives",
    "rank_filter",
    "variant1_filter",
    "variant2_filter",
    "no_filter",
    "apply_filter",
    "FILTERS",
    "halp_loss",
]

# Step used when no admissible step exists (ties); small enough to leave z's cell intact.
_TINY_T = 1e-6
# sin(Omega) below this: z and p_sel are (anti)parallel and the great circle is undefined.
_TINY_SIN = 1e-6


class HallucinatedPositives(NamedTuple):
    """Generated positives and how they were made (shapes for B anchors, P positives)."""

    positives: torch.Tensor  # (B, P, d) unit-norm
    t: torch.Tensor  # (B, P) step taken, in (0, 1]
    t_max: torch.Tensor  # (B, P) hardest admissible step, in (0, 1]
    p0_index: torch.Tensor  # (B,) nearest prototype of each anchor
    target_index: torch.Tensor  # (B, P) prototype walked towards (never p0_index)


def _compute_dtype(*dtypes: torch.dtype) -> torch.dtype:
    """The common dtype, at least float32 (half types promoted, float64 never demoted)."""
    result = torch.float32
    for dtype in dtypes:
        result = torch.promote_types(result, dtype)
    return result


def nearest_prototype(z: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """Index of the most similar prototype (largest dot product) for each (..., d) vector.

    In at least float32 with autocast off, so bf16 autocast cannot flip near ties.
    """
    dtype = _compute_dtype(z.dtype, prototypes.dtype)
    with torch.no_grad(), no_autocast(z):
        return (z.detach().to(dtype) @ prototypes.detach().to(z.device, dtype).T).argmax(dim=-1)


def _check_inputs(anchors: torch.Tensor, prototypes: torch.Tensor, num_positives: int, lam: float) -> None:
    where = "hallucinate_positives"
    if anchors.dim() != 2:
        raise DataFormatError(where, "anchors", "a 2-D (B, d) tensor", f"shape {tuple(anchors.shape)}")
    if prototypes.dim() != 2 or prototypes.shape[1] != anchors.shape[1]:
        raise DataFormatError(where, "prototypes", f"a 2-D (k, {anchors.shape[1]}) tensor",
                              f"shape {tuple(prototypes.shape)}")
    if prototypes.shape[0] < 2:
        raise DataFormatError(where, "prototypes", "at least 2 prototypes (targets exclude p0)",
                              f"{prototypes.shape[0]}")
    if int(num_positives) < 1:
        raise ValueError(f"{where}: num_positives: expected an integer >= 1, got {num_positives}")
    if not 0.0 <= float(lam) <= 1.0:
        raise ValueError(f"{where}: lam: expected a value in [0, 1], got {lam}")


def _draw(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device,
          high: int | None = None) -> torch.Tensor:
    """U[0, 1) floats (or integers in [0, high)) from ``generator``, delivered on ``device``."""
    source = generator.device if generator is not None else device
    if high is None:
        draws = torch.rand(shape, generator=generator, device=source)
    else:
        draws = torch.randint(0, high, shape, generator=generator, device=source)
    return draws.to(device, non_blocking=True)


def _hardest_step(cos_sel: torch.Tensor, sin_omega: torch.Tensor, omega: torch.Tensor,
                  toward_p0: torch.Tensor, proto_gap: torch.Tensor) -> torch.Tensor:
    """t_max in (0, 1] where z(t).(p0 - p_sel) = 0, all arguments (B, P).

    toward_p0 = z.(p0 - p_sel) (the "a" of the docstring), proto_gap = 1 - p_sel.p0.
    """
    angle = torch.atan2(toward_p0 * sin_omega, toward_p0 * cos_sel + proto_gap)
    t_max = angle / omega.clamp_min(_TINY_SIN)
    admissible = (toward_p0 > 0) & (sin_omega > _TINY_SIN)
    return torch.where(admissible, t_max, torch.zeros_like(t_max)).clamp(_TINY_T, 1.0)


def _slerp_coefficients(cos_omega: torch.Tensor, sin_omega: torch.Tensor, omega: torch.Tensor,
                        t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, b) with z(t) = a z + b p_sel unit-norm on the arc from z to p_sel, all (B, P).

    Working with the two coefficients keeps every step but the final combination off the
    (B, P, d) tensor. On the arc: z(t) = cos(t Omega) z + sin(t Omega) v with
    v = (p_sel - cos(Omega) z) / sin(Omega). Where sin(Omega) ~ 0 the arc is undefined:
    normalised linear interpolation, or z itself if that vanishes (antipodal, t = 1/2).
    The pair is renormalised with |a z + b p|^2 = a^2 + b^2 + 2 a b cos(Omega).
    """
    degenerate = sin_omega <= _TINY_SIN
    on_p = torch.sin(t * omega) / sin_omega.clamp_min(_TINY_SIN)
    on_z = torch.cos(t * omega) - on_p * cos_omega
    on_z = torch.where(degenerate, 1 - t, on_z)
    on_p = torch.where(degenerate, t, on_p)
    norm = (on_z.square() + on_p.square() + 2 * on_z * on_p * cos_omega).clamp_min(0).sqrt()
    vanished = norm <= _TINY_SIN
    on_z = torch.where(vanished, torch.ones_like(on_z), on_z / norm.clamp_min(_TINY_SIN))
    on_p = torch.where(vanished, torch.zeros_like(on_p), on_p / norm.clamp_min(_TINY_SIN))
    return on_z, on_p


def hallucinate_positives(anchors: torch.Tensor, prototypes: torch.Tensor, num_positives: int = 100,
                          lam: float = 0.8, generator: torch.Generator | None = None) -> HallucinatedPositives:
    """Generate ``num_positives`` hallucinated positives per anchor (no gradient).

    Args:
        anchors: (B, d) unit-norm keys (detached here).
        prototypes: (k, d) unit-norm prototypes, k >= 2.
        num_positives: P, positives per anchor (paper: 100).
        lam: hardness range; t = (1 - u) t_max with u ~ U(0, lam) (paper: 0.8).
        generator: torch.Generator for the draws (any device); None uses the global RNG.

    Returns:
        HallucinatedPositives(positives (B, P, d), t, t_max (B, P), p0_index (B,),
        target_index (B, P)) on the anchors' device.
    """
    _check_inputs(anchors, prototypes, num_positives, lam)
    batch, num_protos, device = anchors.shape[0], prototypes.shape[0], anchors.device
    dtype = _compute_dtype(anchors.dtype, prototypes.dtype)
    with torch.no_grad(), torch.autocast(device_type=device.type, enabled=False):
        z = F.normalize(anchors.detach().to(dtype), dim=1)
        protos = F.normalize(prototypes.detach().to(device=device, dtype=dtype), dim=1)
        # Angles from every anchor to every prototype, (B, k): small next to (B, P, d).
        cos_all = z @ protos.T
        sin_all = (protos.unsqueeze(0) - cos_all.unsqueeze(-1) * z.unsqueeze(1)).norm(dim=-1)
        p0_index = cos_all.argmax(dim=1)
        # Uniform over the other k - 1 prototypes: draw from k - 1 and skip over p0.
        target_index = _draw((batch, num_positives), generator, device, high=num_protos - 1)
        target_index = target_index + (target_index >= p0_index.unsqueeze(1)).long()
        u = lam * _draw((batch, num_positives), generator, device).to(dtype)

        cos_sel = torch.gather(cos_all, 1, target_index)
        sin_sel = torch.gather(sin_all, 1, target_index)
        omega = torch.atan2(sin_sel, cos_sel)
        cos_p0 = torch.gather(cos_all, 1, p0_index.unsqueeze(1))
        proto_gap = 1 - (protos @ protos.T)[p0_index.unsqueeze(1), target_index]
        t_max = _hardest_step(cos_sel, sin_sel, omega, cos_p0 - cos_sel, proto_gap)
        t = (1 - u) * t_max
        on_z, on_p = _slerp_coefficients(cos_sel, sin_sel, omega, t)
        positives = on_z.unsqueeze(-1) * z.unsqueeze(1) + on_p.unsqueeze(-1) * protos[target_index]
    return HallucinatedPositives(positives, t, t_max, p0_index, target_index)


# ------------------------------------------------------------------------------ filters


def rank_filter(positives: torch.Tensor, prototypes: torch.Tensor, p0_index: torch.Tensor) -> torch.Tensor:
    """(B, P) bool: the positive's nearest prototype is still p0 (ties kept). Paper default.

    In at least float32 with autocast off: bf16 similarities would misjudge positives near t_max.
    """
    dtype = _compute_dtype(positives.dtype, prototypes.dtype)
    with torch.no_grad(), no_autocast(positives):
        sims = positives.detach().to(dtype) @ prototypes.detach().to(positives.device, dtype).T  # (B, P, k)
        to_p0 = torch.gather(sims, 2, p0_index.view(-1, 1, 1).expand(-1, sims.shape[1], 1)).squeeze(2)
        return to_p0 >= sims.amax(dim=2)


def variant1_filter(query: torch.Tensor, positives: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """(B, P) bool: z_q . z_h >= z_q . z_k (supplement B.1, variant-1; strict).

    In at least float32 with autocast off: bf16 would round both sides of the comparison.
    """
    dtype = _compute_dtype(query.dtype, positives.dtype, keys.dtype)
    with torch.no_grad(), no_autocast(positives):
        q = query.detach().to(dtype)
        to_positive = torch.einsum("bd,bpd->bp", q, positives.detach().to(dtype))
        to_key = (q * keys.detach().to(dtype)).sum(dim=1, keepdim=True)
        return to_positive >= to_key


def variant2_filter(positives: torch.Tensor, anchors: torch.Tensor, prototypes: torch.Tensor,
                    target_index: torch.Tensor) -> torch.Tensor:
    """(B, P) bool: z_k . z_h >= p_sel . z_k (supplement B.1, variant-2; keeps ~all).

    In at least float32 with autocast off: bf16 would round both sides of the comparison.
    """
    dtype = _compute_dtype(positives.dtype, anchors.dtype, prototypes.dtype)
    with torch.no_grad(), no_autocast(positives):
        z = anchors.detach().to(dtype)
        to_positive = torch.einsum("bd,bpd->bp", z, positives.detach().to(dtype))
        to_target = torch.gather(z @ prototypes.detach().to(z.device, dtype).T, 1, target_index)
        return to_positive >= to_target


def no_filter(positives: torch.Tensor) -> torch.Tensor:
    """(B, P) bool, all True: keep every generated positive."""
    return torch.ones(positives.shape[:2], dtype=torch.bool, device=positives.device)


# Uniform adapters: filter(hallucinated, query, anchors, prototypes) -> (B, P) bool.
FilterFn = Callable[[HallucinatedPositives, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
FILTERS: dict[str, FilterFn] = {
    "rank": lambda hp, query, anchors, protos: rank_filter(hp.positives, protos, hp.p0_index),
    "variant1": lambda hp, query, anchors, protos: variant1_filter(query, hp.positives, anchors),
    "variant2": lambda hp, query, anchors, protos: variant2_filter(hp.positives, anchors, protos,
                                                                   hp.target_index),
    "none": lambda hp, query, anchors, protos: no_filter(hp.positives),
}


def apply_filter(name: str, hallucinated: HallucinatedPositives, query: torch.Tensor, anchors: torch.Tensor,
                 prototypes: torch.Tensor) -> torch.Tensor:
    """Run the filter called ``name`` (a key of FILTERS); returns the (B, P) keep mask."""
    if name not in FILTERS:
        raise ValueError(f"apply_filter: name: expected one of {sorted(FILTERS)}, got {name!r}")
    return FILTERS[name](hallucinated, query, anchors, prototypes)


# --------------------------------------------------------------------------------- loss


def halp_loss(query: torch.Tensor, positives: torch.Tensor, keep: torch.Tensor, temperature: float,
              count: torch.Tensor | None = None) -> torch.Tensor:
    """- mean over kept (b, i) of (q_b . z_h[b, i]) / temperature; gradient into q only.

    Args:
        query: (B, d) unit-norm queries (with grad).
        positives: (B, P, d) hallucinated positives (treated as constants).
        keep: (B, P) bool mask from a filter.
        temperature: tau; with the loss weight mu only mu / tau matters.
        count: what the sum is divided by instead of keep's count (under torchrun: the global
            batch's count over the processes, so the processes' mean is the global mean).

    Returns:
        Scalar loss in at least float32 (float64 if an input is), computed with autocast off
        (a bf16 einsum would round the similarities that the 1/tau factor then magnifies);
        exactly 0 (still connected to ``query``) when nothing is kept.
    """
    if query.dim() != 2 or positives.dim() != 3 or positives.shape[0] != query.shape[0] \
            or positives.shape[2] != query.shape[1] or keep.shape != positives.shape[:2]:
        raise DataFormatError("halp_loss", "query/positives/keep", "shapes (B, d), (B, P, d), (B, P)",
                              f"{tuple(query.shape)}, {tuple(positives.shape)}, {tuple(keep.shape)}")
    if not temperature > 0:
        raise ValueError(f"halp_loss: temperature: expected a value > 0, got {temperature}")
    dtype = _compute_dtype(query.dtype, positives.dtype)
    with no_autocast(query):
        sims = torch.einsum("bd,bpd->bp", query.to(dtype), positives.detach().to(query.device, dtype))
        weights = keep.to(dtype)
        # Dividing by max(count, 1) keeps the graph (and a zero loss) when nothing is kept,
        # without a host synchronisation to test for that case.
        kept = weights.sum() if count is None else count.to(dtype)
        return -(sims * weights).sum() / (kept.clamp_min(1.0) * temperature)
