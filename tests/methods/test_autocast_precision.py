"""The contrastive similarities, HaLP's prototypes, filters and loss and SkeletonGCL's losses
stay fp32 under bf16 autocast.

CPU bf16 autocast reproduces what GPU bf16 autocast does to these functions: it recasts every
matmul / einsum to bf16 even on fp32 operands (`.float()` on the inputs does not stop it). The
functions switch autocast off inside, so with the same fp32 inputs the results under autocast
are identical to those without. `test_plain_matmul_under_autocast_differs` shows, on the same
inputs, that the unprotected computation does differ, so these tests would catch a regression.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sslskel.cluster.spherical_kmeans import angular_inertia, fit_prototypes
from sslskel.methods.gcl.losses import instance_contrast_loss, semantic_contrast_loss
from sslskel.methods.hallucinate import (
    FILTERS,
    apply_filter,
    hallucinate_positives,
    halp_loss,
    nearest_prototype,
    rank_filter,
)
from sslskel.methods.losses import info_nce

B, D, K, TEMPERATURE = 32, 128, 1024, 0.07


def bf16_autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16)


def unit(*shape, generator):
    return F.normalize(torch.randn(*shape, generator=generator), dim=-1)


@pytest.fixture(scope="module")
def moco_inputs():
    g = torch.Generator().manual_seed(0)
    return unit(B, D, generator=g), unit(B, D, generator=g), unit(K, D, generator=g)


@pytest.fixture(scope="module")
def clustered_points():
    """320 fp32 unit points around 20 centres: enough near-ties for bf16 GEMMs to change k-means."""
    g = torch.Generator().manual_seed(1)
    centres = unit(20, D, generator=g)
    return F.normalize(centres.repeat_interleave(16, 0) + 0.2 * torch.randn(320, D, generator=g), dim=1)


@pytest.fixture(scope="module")
def halp_inputs(clustered_points):
    """(query, keys, prototypes, hallucinated positives), all fp32."""
    g = torch.Generator().manual_seed(2)
    protos = fit_prototypes(clustered_points, 20, seed=0)
    keys = F.normalize(protos[torch.arange(B) % 20] + 0.3 * torch.randn(B, D, generator=g), dim=1)
    query = unit(B, D, generator=g)
    hp = hallucinate_positives(keys, protos, 100, 0.8, generator=torch.Generator().manual_seed(3))
    return query, keys, protos, hp


@pytest.fixture(scope="module")
def gcl_inputs():
    g = torch.Generator().manual_seed(4)
    anchors, positives, negatives = unit(B, D, generator=g), unit(B, 8, D, generator=g), unit(B, 64, D, generator=g)
    pos_mask, neg_mask = torch.ones(B, 8, dtype=torch.bool), torch.ones(B, 64, dtype=torch.bool)
    pos_mask[0, 3:] = False
    neg_mask[1, 10:] = False
    class_vectors = unit(60, D, generator=g)
    labels = torch.randint(0, 60, (B,), generator=g)
    valid = torch.ones(60, dtype=torch.bool)
    valid[::7] = False
    return anchors, positives, pos_mask, negatives, neg_mask, class_vectors, labels, valid


def test_plain_matmul_under_autocast_differs(moco_inputs, halp_inputs, gcl_inputs):
    """The unprotected computations on these inputs do change under autocast (old behaviour)."""
    q, _, queue = moco_inputs
    with bf16_autocast():
        bf16_logits = (q.float() @ queue.float().t()) / TEMPERATURE
    assert bf16_logits.dtype == torch.bfloat16
    assert (bf16_logits.float() - (q @ queue.t()) / TEMPERATURE).abs().max() > 1e-4

    _, _, protos, hp = halp_inputs
    sims = hp.positives @ protos.T
    with bf16_autocast():
        bf16_sims = hp.positives @ protos.T
    assert not torch.equal(sims.argmax(dim=2), bf16_sims.argmax(dim=2))  # the rank filter's test flips

    anchors, *_, class_vectors, _, _ = gcl_inputs
    with bf16_autocast():
        bf16_semantic = anchors @ class_vectors.t()
    assert (bf16_semantic.float() - anchors @ class_vectors.t()).abs().max() > 1e-4


def test_info_nce_identical_under_autocast(moco_inputs):
    q, k, queue = moco_inputs
    q0, q1 = q.clone().requires_grad_(), q.clone().requires_grad_()
    loss0, logits0 = info_nce(q0, k, queue, TEMPERATURE)
    with bf16_autocast():
        loss1, logits1 = info_nce(q1, k, queue, TEMPERATURE)
    assert logits1.dtype == loss1.dtype == torch.float32
    assert torch.equal(logits0, logits1) and torch.equal(loss0, loss1)
    loss0.backward()
    loss1.backward()
    assert torch.equal(q0.grad, q1.grad)


def test_info_nce_promotes_bf16_and_keeps_fp64(moco_inputs):
    q, k, queue = moco_inputs
    reference, _ = info_nce(q, k, queue, TEMPERATURE)
    loss, logits = info_nce(q.bfloat16(), k.bfloat16(), queue, TEMPERATURE)
    assert loss.dtype == logits.dtype == torch.float32
    loss64, logits64 = info_nce(q.double(), k.double(), queue.double(), TEMPERATURE)
    assert logits64.dtype == torch.float64
    torch.testing.assert_close(loss64.float(), reference)


def test_fit_prototypes_torch_identical_under_autocast(clustered_points):
    reference = fit_prototypes(clustered_points, 20, seed=0)
    with bf16_autocast():
        under = fit_prototypes(clustered_points, 20, seed=0)
    assert under.dtype == torch.float32
    assert torch.equal(reference, under)


def test_fit_prototypes_geomstats_identical_under_autocast(clustered_points):
    points = clustered_points[::4]
    reference = fit_prototypes(points, 4, backend="geomstats", seed=0, max_iter=5)
    with bf16_autocast():
        under = fit_prototypes(points, 4, backend="geomstats", seed=0, max_iter=5)
    assert under.dtype == torch.float32
    assert torch.equal(reference, under)


def test_angular_inertia_identical_under_autocast(clustered_points, halp_inputs):
    protos = halp_inputs[2]
    reference = angular_inertia(clustered_points, protos)
    with bf16_autocast():
        assert angular_inertia(clustered_points, protos) == reference


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_filters_identical_under_autocast(halp_inputs, name):
    query, keys, protos, hp = halp_inputs
    reference = apply_filter(name, hp, query, keys, protos)
    with bf16_autocast():
        under = apply_filter(name, hp, query, keys, protos)
    assert torch.equal(reference, under)


def test_nearest_prototype_identical_under_autocast(halp_inputs):
    _, _, protos, hp = halp_inputs
    reference = nearest_prototype(hp.positives, protos)
    with bf16_autocast():
        assert torch.equal(nearest_prototype(hp.positives, protos), reference)


def test_hallucinate_positives_identical_under_autocast(halp_inputs):
    _, keys, protos, hp = halp_inputs
    with bf16_autocast():
        under = hallucinate_positives(keys, protos, 100, 0.8, generator=torch.Generator().manual_seed(3))
    for a, b in zip(hp, under):
        assert torch.equal(a, b)


def test_halp_loss_identical_under_autocast(halp_inputs):
    query, _, protos, hp = halp_inputs
    keep = rank_filter(hp.positives, protos, hp.p0_index)
    q0, q1 = query.clone().requires_grad_(), query.clone().requires_grad_()
    loss0 = halp_loss(q0, hp.positives, keep, TEMPERATURE)
    with bf16_autocast():
        loss1 = halp_loss(q1, hp.positives, keep, TEMPERATURE)
    assert loss1.dtype == torch.float32 and torch.equal(loss0, loss1)
    loss0.backward()
    loss1.backward()
    assert torch.equal(q0.grad, q1.grad)


def test_gcl_instance_loss_identical_under_autocast(gcl_inputs):
    anchors, positives, pos_mask, negatives, neg_mask, *_ = gcl_inputs
    a0, a1 = anchors.clone().requires_grad_(), anchors.clone().requires_grad_()
    loss0 = instance_contrast_loss(a0, positives, pos_mask, negatives, neg_mask, 0.1)
    with bf16_autocast():
        loss1 = instance_contrast_loss(a1, positives, pos_mask, negatives, neg_mask, 0.1)
    assert loss1.dtype == torch.float32 and torch.equal(loss0, loss1)
    loss0.backward()
    loss1.backward()
    assert torch.equal(a0.grad, a1.grad)


def test_gcl_semantic_loss_identical_under_autocast(gcl_inputs):
    anchors, *_, class_vectors, labels, valid = gcl_inputs
    a0, a1 = anchors.clone().requires_grad_(), anchors.clone().requires_grad_()
    loss0 = semantic_contrast_loss(a0, labels, class_vectors, valid, 0.1)
    with bf16_autocast():
        loss1 = semantic_contrast_loss(a1, labels, class_vectors, valid, 0.1)
    assert loss1.dtype == torch.float32 and torch.equal(loss0, loss1)
    loss0.backward()
    loss1.backward()
    assert torch.equal(a0.grad, a1.grad)


def test_gcl_losses_promote_bf16_inputs(gcl_inputs):
    anchors, positives, pos_mask, negatives, neg_mask, class_vectors, labels, valid = gcl_inputs
    instance = instance_contrast_loss(anchors.bfloat16(), positives, pos_mask, negatives.bfloat16(), neg_mask)
    semantic = semantic_contrast_loss(anchors.bfloat16(), labels, class_vectors, valid)
    assert instance.dtype == semantic.dtype == torch.float32
    assert semantic_contrast_loss(anchors.double(), labels, class_vectors, valid).dtype == torch.float64
