"""Tests for sslskel.methods.hallucinate (HaLP positives, filters, loss)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sslskel.cluster import fit_prototypes
from sslskel.data.errors import DataFormatError
from sslskel.methods.hallucinate import (
    FILTERS,
    apply_filter,
    hallucinate_positives,
    halp_loss,
    nearest_prototype,
    rank_filter,
    variant1_filter,
    variant2_filter,
)

torch.set_num_threads(1)


def unit(x):
    return F.normalize(x, dim=-1)


def clustered_keys(n, d, clusters, noise, seed, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    centres = unit(torch.randn(clusters, d, generator=generator, dtype=dtype))
    members = torch.randint(0, clusters, (n,), generator=generator)
    return unit(centres[members] + noise * torch.randn(n, d, generator=generator, dtype=dtype)), centres


def gathered(prototypes, index):
    return prototypes[index]


@pytest.fixture
def float64_case():
    keys, centres = clustered_keys(48, 16, 6, 0.25, seed=0, dtype=torch.float64)
    return keys, centres


# -------------------------------------------------------------------- hand-worked example


def test_three_d_worked_example():
    # Prototypes e1, e2, e3; anchor 30 degrees from e1 towards e3, so p0 = e1.
    alpha = math.radians(30)
    anchor = torch.tensor([[math.cos(alpha), 0.0, math.sin(alpha)]], dtype=torch.float64)
    prototypes = torch.eye(3, dtype=torch.float64)
    hp = hallucinate_positives(anchor, prototypes, num_positives=40, lam=0.0,
                               generator=torch.Generator().manual_seed(0))
    assert int(hp.p0_index) == 0
    to_e2 = hp.target_index[0] == 1
    to_e3 = hp.target_index[0] == 2
    assert to_e2.any() and to_e3.any() and (to_e2 | to_e3).all()
    # Towards e3 (same great circle as e1): equidistant point at 45 degrees, reached after
    # 15 of the 60 degrees of arc.
    torch.testing.assert_close(hp.t_max[0, to_e3], torch.full((int(to_e3.sum()),), 0.25, dtype=torch.float64))
    expected_e3 = torch.tensor([math.sqrt(0.5), 0.0, math.sqrt(0.5)], dtype=torch.float64)
    torch.testing.assert_close(hp.positives[0, to_e3], expected_e3.expand(int(to_e3.sum()), 3))
    # Towards e2 (Omega = 90 deg): z(s) = cos(s) z + sin(s) e2; equal similarity to e1 and
    # e2 when cos(s) cos(alpha) = sin(s), i.e. s = atan(cos(alpha)) = 40.89 deg.
    s = math.atan(math.cos(alpha))
    torch.testing.assert_close(hp.t_max[0, to_e2], torch.full((int(to_e2.sum()),), s / (math.pi / 2),
                                                              dtype=torch.float64))
    expected_e2 = torch.tensor([math.cos(s) * math.cos(alpha), math.sin(s), math.cos(s) * math.sin(alpha)],
                               dtype=torch.float64)
    torch.testing.assert_close(hp.positives[0, to_e2], expected_e2.expand(int(to_e2.sum()), 3))
    # With lambda = 0, t = t_max exactly.
    torch.testing.assert_close(hp.t, hp.t_max)


def test_two_d_closed_form_matches_hand_angle():
    # On the circle: anchor at 10 deg, p0 at 0 deg, p_sel at 90 deg; the bisector is 45 deg,
    # so t_max = (45 - 10) / (90 - 10) and z(t) sits at 10 + t * 80 degrees.
    anchor = torch.tensor([[math.cos(math.radians(10)), math.sin(math.radians(10))]], dtype=torch.float64)
    prototypes = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    hp = hallucinate_positives(anchor, prototypes, num_positives=5, lam=0.8, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(hp.t_max, torch.full((1, 5), 35 / 80, dtype=torch.float64))
    angles = torch.atan2(hp.positives[..., 1], hp.positives[..., 0])
    torch.testing.assert_close(angles, torch.deg2rad(10 + hp.t * 80))


# -------------------------------------------------------------------------- invariants


def test_t_max_point_is_equidistant_in_float64(float64_case):
    keys, centres = float64_case
    hp = hallucinate_positives(keys, centres, num_positives=30, lam=0.0, generator=torch.Generator().manual_seed(2))
    p0 = gathered(centres, hp.p0_index).unsqueeze(1)
    p_sel = gathered(centres, hp.target_index)
    gap = (hp.positives * (p0 - p_sel)).sum(-1)
    assert gap.abs().max() < 1e-6


def test_points_before_t_max_are_closer_to_p0(float64_case):
    keys, centres = float64_case
    hp = hallucinate_positives(keys, centres, num_positives=30, lam=0.8, generator=torch.Generator().manual_seed(3))
    inside = hp.t < hp.t_max * (1 - 1e-9)
    p0 = gathered(centres, hp.p0_index).unsqueeze(1)
    p_sel = gathered(centres, hp.target_index)
    gap = (hp.positives * (p0 - p_sel)).sum(-1)
    assert inside.any()
    assert (gap[inside] > 0).all()


def test_positives_lie_on_great_circle_of_anchor_and_target(float64_case):
    keys, centres = float64_case
    hp = hallucinate_positives(keys, centres, num_positives=10, lam=0.8, generator=torch.Generator().manual_seed(4))
    z = keys.unsqueeze(1).expand_as(hp.positives)
    p_sel = gathered(centres, hp.target_index)
    omega = torch.acos((z * p_sel).sum(-1))
    # Reference: the slerp formula of the paper, written out directly.
    t = hp.t.unsqueeze(-1)
    reference = (torch.sin((1 - t) * omega.unsqueeze(-1)) * z + torch.sin(t * omega.unsqueeze(-1)) * p_sel) \
        / torch.sin(omega).unsqueeze(-1)
    torch.testing.assert_close(hp.positives, reference)


def test_ranges_unit_norm_and_targets(float64_case):
    keys, centres = float64_case
    lam = 0.8
    hp = hallucinate_positives(keys, centres, num_positives=50, lam=lam, generator=torch.Generator().manual_seed(5))
    assert hp.positives.shape == (48, 50, 16) and hp.t.shape == hp.t_max.shape == (48, 50)
    torch.testing.assert_close(hp.positives.norm(dim=-1), torch.ones(48, 50, dtype=torch.float64))
    assert (hp.t > 0).all() and (hp.t <= 1).all() and (hp.t_max > 0).all() and (hp.t_max <= 1).all()
    ratio = hp.t / hp.t_max
    assert (ratio >= 1 - lam - 1e-12).all() and (ratio <= 1 + 1e-12).all()
    torch.testing.assert_close(hp.p0_index, nearest_prototype(keys, centres))
    assert (hp.target_index != hp.p0_index.unsqueeze(1)).all()
    assert ((hp.target_index >= 0) & (hp.target_index < 6)).all()


def test_targets_are_uniform_over_other_prototypes():
    prototypes = torch.eye(5)
    anchors = unit(torch.tensor([[1.0, 0.1, 0.1, 0.1, 0.1]])).repeat(4, 1)  # p0 = 0
    hp = hallucinate_positives(anchors, prototypes, num_positives=5000, generator=torch.Generator().manual_seed(6))
    counts = torch.bincount(hp.target_index.flatten(), minlength=5).float() / hp.target_index.numel()
    assert counts[0] == 0
    torch.testing.assert_close(counts[1:], torch.full((4,), 0.25), atol=0.02, rtol=0)


def test_seeded_generation_is_deterministic(float64_case):
    keys, centres = float64_case
    first = hallucinate_positives(keys, centres, 20, generator=torch.Generator().manual_seed(7))
    second = hallucinate_positives(keys, centres, 20, generator=torch.Generator().manual_seed(7))
    for a, b in zip(first, second):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


# ---------------------------------------------------------------------- degenerate cases


def test_anchor_equal_to_duplicate_target_gives_finite_unit_output():
    # Duplicate prototypes: the anchor equals both, so Omega = 0 and there is no step.
    e1 = torch.tensor([[1.0, 0.0, 0.0]])
    prototypes = torch.cat([e1, e1])
    hp = hallucinate_positives(e1, prototypes, num_positives=8, generator=torch.Generator().manual_seed(8))
    assert torch.isfinite(hp.positives).all() and torch.isfinite(hp.t).all()
    torch.testing.assert_close(hp.positives, e1.expand(1, 8, 3).contiguous())
    assert (hp.t > 0).all()


def test_antipodal_target_gives_finite_unit_output():
    e1 = torch.tensor([[1.0, 0.0, 0.0]])
    prototypes = torch.cat([e1, -e1])
    hp = hallucinate_positives(e1, prototypes, num_positives=8, generator=torch.Generator().manual_seed(9))
    assert torch.isfinite(hp.positives).all()
    torch.testing.assert_close(hp.positives.norm(dim=-1), torch.ones(1, 8))
    assert rank_filter(hp.positives, prototypes, hp.p0_index).all()


def test_nearly_equal_anchor_and_target_is_finite():
    anchor = unit(torch.tensor([[1.0, 1e-7, 0.0]]))
    prototypes = torch.tensor([[1.0, 0.0, 0.0], [1.0, 2e-7, 0.0]])
    prototypes = unit(prototypes)
    hp = hallucinate_positives(anchor, prototypes, num_positives=4, generator=torch.Generator().manual_seed(10))
    assert torch.isfinite(hp.positives).all() and torch.isfinite(hp.t_max).all()
    torch.testing.assert_close(hp.positives.norm(dim=-1), torch.ones(1, 4))


def test_bad_input_raises():
    with pytest.raises(DataFormatError, match="prototypes"):
        hallucinate_positives(torch.ones(2, 3), torch.ones(1, 3))
    with pytest.raises(DataFormatError, match="prototypes"):
        hallucinate_positives(torch.ones(2, 3), torch.ones(4, 5))
    # bad arguments (not bad data) are plain ValueErrors
    for call, field in ((lambda: hallucinate_positives(torch.ones(2, 3), torch.eye(3), lam=1.5), "lam"),
                        (lambda: hallucinate_positives(torch.ones(2, 3), torch.eye(3), num_positives=0),
                         "num_positives"),
                        (lambda: apply_filter("best", None, None, None, None), "name"),
                        (lambda: halp_loss(torch.ones(2, 3), torch.ones(2, 4, 3),
                                           torch.ones(2, 4, dtype=torch.bool), 0.0), "temperature")):
        with pytest.raises(ValueError, match=field) as err:
            call()
        assert not isinstance(err.value, DataFormatError)


# ------------------------------------------------------------------------------ filters


def test_rank_filter_matches_loop_and_kept_have_p0_nearest(float64_case):
    keys, centres = float64_case
    hp = hallucinate_positives(keys, centres, num_positives=25, generator=torch.Generator().manual_seed(11))
    keep = rank_filter(hp.positives, centres, hp.p0_index)
    for b in range(keys.shape[0]):
        for i in range(25):
            sims = [float(hp.positives[b, i] @ p) for p in centres]
            assert bool(keep[b, i]) == (sims[int(hp.p0_index[b])] >= max(sims))
    assert (nearest_prototype(hp.positives[keep], centres) == hp.p0_index.unsqueeze(1).expand_as(keep)[keep]).all()


def test_variant_filters_match_loop_reference(float64_case):
    keys, centres = float64_case
    query = unit(keys + 0.1 * torch.randn(keys.shape, generator=torch.Generator().manual_seed(12), dtype=keys.dtype))
    hp = hallucinate_positives(keys, centres, num_positives=10, generator=torch.Generator().manual_seed(13))
    keep1 = variant1_filter(query, hp.positives, keys)
    keep2 = variant2_filter(hp.positives, keys, centres, hp.target_index)
    for b in range(keys.shape[0]):
        for i in range(10):
            z_h = hp.positives[b, i]
            assert bool(keep1[b, i]) == (float(query[b] @ z_h) >= float(query[b] @ keys[b]))
            p_sel = centres[int(hp.target_index[b, i])]
            assert bool(keep2[b, i]) == (float(keys[b] @ z_h) >= float(p_sel @ keys[b]))
    # A positive lies on the arc between z_k and p_sel, so variant-2 keeps all (paper: 100/100).
    assert keep2.all()
    by_name = {name: apply_filter(name, hp, query, keys, centres) for name in FILTERS}
    assert set(by_name) == {"rank", "variant1", "variant2", "none"}
    assert torch.equal(by_name["variant1"], keep1) and torch.equal(by_name["variant2"], keep2)
    assert by_name["none"].all() and by_name["none"].shape == (48, 10)


def low_rank_clustered_keys(n, d, clusters, rank, noise, seed):
    """Keys whose cluster centres span only ``rank`` dimensions, as MoCo keys largely do."""
    generator = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(d, rank, generator=generator))[0]
    centres = unit(torch.randn(clusters, rank, generator=generator) @ basis.T)
    members = torch.randint(0, clusters, (n,), generator=generator)
    return unit(centres[members] + noise / math.sqrt(d) * torch.randn(n, d, generator=generator))


def test_rank_filter_fraction_kept_on_realistic_clustered_keys():
    # 256 recent keys in 20 clusters (centres in an 8-d subspace of 128-d), prototypes
    # from our k-means, 64 anchors, 100 positives each (the paper reports ~91 % kept).
    keys = low_rank_clustered_keys(256, 128, 20, rank=8, noise=0.6, seed=14)
    prototypes = fit_prototypes(keys, 20, seed=0)
    anchors = keys[-64:]
    hp = hallucinate_positives(anchors, prototypes, 100, 0.8, generator=torch.Generator().manual_seed(15))
    kept = rank_filter(hp.positives, prototypes, hp.p0_index).float().mean().item()
    print(f"rank filter kept fraction on clustered keys: {kept:.3f}")
    # Most positives stay in p0's cell, but walks that pass near a third prototype leave it.
    assert 0.8 < kept < 1.0


# --------------------------------------------------------------------------------- loss


def reference_halp_loss(query, positives, keep, temperature):
    total, count = 0.0, 0
    for b in range(query.shape[0]):
        for i in range(positives.shape[1]):
            if keep[b, i]:
                total += float(query[b] @ positives[b, i]) / temperature
                count += 1
    return -total / count if count else 0.0


def test_halp_loss_matches_loop_reference(float64_case):
    keys, centres = float64_case
    hp = hallucinate_positives(keys, centres, num_positives=12, generator=torch.Generator().manual_seed(16))
    query = unit(torch.randn(keys.shape, generator=torch.Generator().manual_seed(17), dtype=keys.dtype))
    keep = torch.rand(48, 12, generator=torch.Generator().manual_seed(18)) < 0.6
    loss = halp_loss(query, hp.positives, keep, temperature=0.07)
    assert loss.item() == pytest.approx(reference_halp_loss(query, hp.positives, keep, 0.07), rel=1e-10)


def test_halp_loss_hand_computed():
    # q = e1; positives (1, 0) and (0.6, 0.8) kept, (0, 1) dropped: -(1 + 0.6) / 2 / 0.5 = -1.6.
    query = torch.tensor([[1.0, 0.0]])
    positives = torch.tensor([[[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]])
    keep = torch.tensor([[True, True, False]])
    assert halp_loss(query, positives, keep, temperature=0.5).item() == pytest.approx(-1.6)


def test_gradient_reaches_query_only():
    generator = torch.Generator().manual_seed(19)
    raw_keys = torch.randn(8, 16, generator=generator, requires_grad=True)
    raw_query = torch.randn(8, 16, generator=generator, requires_grad=True)
    prototypes = unit(torch.randn(5, 16, generator=generator))
    hp = hallucinate_positives(unit(raw_keys), prototypes, 20, generator=generator)
    assert not hp.positives.requires_grad
    keep = rank_filter(hp.positives, prototypes, hp.p0_index)
    halp_loss(unit(raw_query), hp.positives, keep, 0.07).backward()
    assert raw_query.grad is not None and raw_query.grad.abs().sum() > 0
    assert raw_keys.grad is None
    # d/dq of -(mean kept q.z_h)/tau for an unnormalised q checked on the leaf itself.
    q = unit(torch.randn(8, 16, generator=generator)).requires_grad_()
    halp_loss(q, hp.positives, keep, 0.07).backward()
    expected = -(hp.positives * keep.unsqueeze(-1)).sum(1) / (keep.sum() * 0.07)
    torch.testing.assert_close(q.grad, expected)


def test_nothing_kept_gives_zero_loss_with_graph():
    query = unit(torch.randn(4, 8)).requires_grad_()
    positives = unit(torch.randn(4, 3, 8))
    loss = halp_loss(query, positives, torch.zeros(4, 3, dtype=torch.bool), 0.07)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(query.grad, torch.zeros(4, 8))


def test_bf16_autocast_context_computes_in_float32():
    keys, centres = clustered_keys(16, 32, 4, 0.2, seed=20)
    query = unit(torch.randn(16, 32)).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        hp = hallucinate_positives(keys.bfloat16(), centres, 10, generator=torch.Generator().manual_seed(21))
        keep = rank_filter(hp.positives, centres, hp.p0_index)
        loss = halp_loss(query, hp.positives, keep, 0.07)
    assert hp.positives.dtype == torch.float32 and loss.dtype == torch.float32
    torch.testing.assert_close(hp.positives.norm(dim=-1), torch.ones(16, 10))
    loss.backward()
    assert torch.isfinite(query.grad).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_generation_and_loss():
    keys, centres = clustered_keys(16, 32, 4, 0.2, seed=22)
    keys, centres = keys.cuda(), centres.cuda()
    hp = hallucinate_positives(keys, centres, 10, generator=torch.Generator(device="cuda").manual_seed(0))
    assert hp.positives.is_cuda and hp.target_index.is_cuda
    keep = rank_filter(hp.positives, centres, hp.p0_index)
    query = unit(torch.randn(16, 32, device="cuda")).requires_grad_()
    halp_loss(query, hp.positives, keep, 0.07).backward()
    assert query.grad.is_cuda
