"""Tests for sslskel.methods.gcl.losses: hard sampling against a brute-force sort, the losses
against hand-computed 2-D cases and Python loops (the references are reused by test_gcl_contrast)."""

import math

import pytest
import torch
import torch.nn.functional as F

from sslskel.methods.gcl import instance_contrast_loss, sample_contrast_sets, semantic_contrast_loss

torch.set_num_threads(1)


def unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g), dim=-1)


# --------------------------------------------------------------------------- hard sampling

def test_hard_sampling_matches_brute_force_sort():
    b, e = 5, 40
    g = torch.Generator().manual_seed(4)
    similarity = torch.rand(b, e, generator=g) * 2 - 1
    entry_labels = torch.randint(0, 4, (e,), generator=g)
    valid = torch.rand(e, generator=g) < 0.8
    labels = torch.tensor([0, 1, 2, 3, 0])
    same = entry_labels[None] == labels[:, None]
    pos_mask, neg_mask = valid & same, valid & ~same
    kp, kh, kr = 4, 6, 50  # kr larger than what remains: all remaining negatives are taken
    sets = sample_contrast_sets(similarity, pos_mask, neg_mask, kp, kh, kr,
                                torch.Generator().manual_seed(0))
    for i in range(b):
        positives = [j for j in range(e) if pos_mask[i, j]]
        negatives = [j for j in range(e) if neg_mask[i, j]]
        least_similar = sorted(positives, key=lambda j: similarity[i, j].item())[:kp]
        most_similar = sorted(negatives, key=lambda j: -similarity[i, j].item())[:kh]
        got_pos = sets.hard_positives[i][sets.hard_positives_valid[i]].tolist()
        got_neg = sets.hard_negatives[i][sets.hard_negatives_valid[i]].tolist()
        assert got_pos == least_similar  # topk order: least similar first
        assert got_neg == most_similar
        got_rand = sets.random_negatives[i][sets.random_negatives_valid[i]].tolist()
        assert sorted(got_rand) == sorted(set(negatives) - set(most_similar))


def test_random_negatives_are_distinct_seeded_and_fewer_when_scarce():
    b, e = 3, 30
    similarity = torch.randn(b, e)
    neg_mask = torch.ones(b, e, dtype=torch.bool)
    neg_mask[2, 5:] = False  # anchor 2 has only 5 negatives
    pos_mask = ~neg_mask
    draw = lambda seed: sample_contrast_sets(similarity, pos_mask, neg_mask, 2, 2, 10,  # noqa: E731
                                             torch.Generator().manual_seed(seed))
    first, again, other = draw(7), draw(7), draw(8)
    assert torch.equal(first.random_negatives, again.random_negatives)
    assert not torch.equal(first.random_negatives, other.random_negatives)
    for i in range(2):
        picked = first.random_negatives[i].tolist()
        assert len(set(picked)) == 10 and first.random_negatives_valid[i].all()
        assert not set(picked) & set(first.hard_negatives[i].tolist())
    # anchor 2: 5 negatives, 2 taken as hard, 3 left for random; 7 slots masked
    assert first.random_negatives_valid[2].sum() == 3
    assert first.hard_positives_valid[2].all() and not first.hard_positives_valid[0].any()


def test_random_negatives_cover_the_pool_uniformly():
    e, trials = 12, 3000
    neg_mask = torch.ones(1, e, dtype=torch.bool)
    neg_mask[0, :2] = False
    similarity = torch.zeros(1, e).expand(trials, e)
    sets = sample_contrast_sets(similarity, ~neg_mask.expand(trials, e), neg_mask.expand(trials, e),
                                0, 0, 4, torch.Generator().manual_seed(0))
    freq = torch.bincount(sets.random_negatives.reshape(-1), minlength=e).float() / trials
    assert freq[:2].sum() == 0
    assert torch.allclose(freq[2:], torch.full((10,), 0.4), atol=0.05)  # 4 of 10 each time


# --------------------------------------------------------------------------- losses

def reference_instance_loss(anchors, positives, pos_mask, negatives, neg_mask, t):
    rows = []
    for i in range(anchors.shape[0]):
        negs = [negatives[i, j] for j in range(negatives.shape[1]) if neg_mask[i, j]]
        if not negs:
            continue
        denominator_negs = sum(math.exp(float(anchors[i] @ n) / t) for n in negs)
        for j in range(positives.shape[1]):
            if pos_mask[i, j]:
                pos = math.exp(float(anchors[i] @ positives[i, j]) / t)
                rows.append(-math.log(pos / (pos + denominator_negs)))
    return sum(rows) / len(rows) if rows else 0.0


def test_instance_loss_hand_2d():
    anchor = torch.tensor([[1.0, 0.0]])
    positives = torch.tensor([[[0.0, 1.0], [5.0, 5.0]]])
    pos_mask = torch.tensor([[True, False]])
    negatives = torch.tensor([[[1.0, 0.0], [-1.0, 0.0], [9.0, 9.0]]])
    neg_mask = torch.tensor([[True, True, False]])
    loss = instance_contrast_loss(anchor, positives, pos_mask, negatives, neg_mask, temperature=1.0)
    assert loss.item() == pytest.approx(math.log(1 + math.e + 1 / math.e), rel=1e-6)
    loss = instance_contrast_loss(anchor, positives, pos_mask, negatives, neg_mask, temperature=0.5)
    assert loss.item() == pytest.approx(math.log(1 + math.e ** 2 + math.e ** -2), rel=1e-6)


@pytest.mark.parametrize("temperature", [0.5, 0.8, 1.0])
def test_instance_loss_equals_python_loop(temperature):
    b, pp, nn_, d = 4, 3, 5, 6
    anchors, positives, negatives = unit(b, d, seed=1), unit(b, pp, d, seed=2), unit(b, nn_, d, seed=3)
    g = torch.Generator().manual_seed(5)
    pos_mask = torch.rand(b, pp, generator=g) < 0.7
    neg_mask = torch.rand(b, nn_, generator=g) < 0.7
    neg_mask[1] = False  # an anchor without negatives is left out
    pos_mask[0, 0] = neg_mask[0, 0] = True
    loss = instance_contrast_loss(anchors, positives, pos_mask, negatives, neg_mask, temperature)
    expected = reference_instance_loss(anchors, positives, pos_mask, negatives, neg_mask, temperature)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def reference_semantic_loss(anchors, labels, class_vectors, valid, t):
    rows = []
    for i in range(anchors.shape[0]):
        c = int(labels[i])
        others = [k for k in range(class_vectors.shape[0]) if valid[k] and k != c]
        if not valid[c] or not others:
            continue
        pos = math.exp(float(anchors[i] @ class_vectors[c]) / t)
        neg = sum(math.exp(float(anchors[i] @ class_vectors[k]) / t) for k in others)
        rows.append(-math.log(pos / (pos + neg)))
    return sum(rows) / len(rows) if rows else 0.0


def test_semantic_loss_hand_2d():
    anchor = torch.tensor([[1.0, 0.0]])
    class_vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    valid = torch.tensor([True, True, False])
    loss = semantic_contrast_loss(anchor, torch.tensor([0]), class_vectors, valid, temperature=1.0)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)
    loss = semantic_contrast_loss(anchor, torch.tensor([1]), class_vectors, valid, temperature=1.0)
    assert loss.item() == pytest.approx(math.log(1 + math.e), rel=1e-6)


def test_semantic_loss_equals_python_loop():
    anchors, class_vectors = unit(6, 4, seed=6), unit(5, 4, seed=7)
    labels = torch.tensor([0, 1, 2, 3, 4, 1])
    valid = torch.tensor([True, True, False, True, True])
    loss = semantic_contrast_loss(anchors, labels, class_vectors, valid, temperature=0.8)
    expected = reference_semantic_loss(anchors, labels, class_vectors, valid, 0.8)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_losses_are_zero_with_nothing_to_contrast_and_backward_works():
    anchors = unit(3, 4, seed=8).requires_grad_()
    empty = torch.zeros(3, 2, 4)
    none = torch.zeros(3, 2, dtype=torch.bool)
    loss = instance_contrast_loss(anchors, empty, none, empty, none) + semantic_contrast_loss(
        anchors, torch.tensor([0, 1, 2]), torch.zeros(3, 4), torch.zeros(3, dtype=torch.bool))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(anchors.grad, torch.zeros(3, 4))
