"""Tests for sslskel.methods.gcl: banks against plain FIFO / loop references, hard sampling
against a brute-force sort, losses against hand-computed 2-D cases and Python loops."""

import io
import math

import pytest
import torch
import torch.nn.functional as F

from sslskel.data.errors import DataFormatError
from sslskel.methods.gcl import (FeatureProjectionHead, GraphContrast, GraphProjectionHead,
                                 InstanceMemoryBank, SampleMemoryBank, SemanticMemoryBank,
                                 cap_per_class, instance_contrast_loss,
                                 rank_within_class, sample_contrast_sets, semantic_contrast_loss)

torch.set_num_threads(1)


def unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g), dim=-1)


# --------------------------------------------------------------------------- heads

def test_graph_head_averages_persons_and_channels_like_a_loop():
    n, m, k, c, v = 3, 2, 3, 4, 5
    graphs = torch.randn(n * m, k, c, v, v)
    head = GraphProjectionHead(num_joints=v, num_subsets=k, dim=7)
    flat = head.flatten_graphs(graphs, num_persons=m)
    for i in range(n):
        expected = torch.zeros(k, v, v)
        for p in range(m):
            for ch in range(c):
                expected += graphs[i * m + p, :, ch] / (m * c)
        assert torch.allclose(flat[i], expected.reshape(-1), atol=1e-6)
    out = head(graphs, num_persons=m)
    assert out.shape == (n, 7)
    assert torch.allclose(out.norm(dim=1), torch.ones(n), atol=1e-6)
    assert torch.allclose(out, F.normalize(head.fc(flat), dim=1), atol=1e-6)


def test_graph_head_ntu_size_and_bad_input():
    head = GraphProjectionHead()
    assert head.fc.in_features == 1875 and head.fc.out_features == 256
    with pytest.raises(DataFormatError, match="graphs"):
        head(torch.randn(4, 3, 8, 24, 25), num_persons=2)
    with pytest.raises(DataFormatError, match="num_persons"):
        head(torch.randn(5, 3, 8, 25, 25), num_persons=2)


def test_feature_head():
    head = FeatureProjectionHead(in_dim=10, dim=6)
    out = head(torch.randn(4, 10))
    assert out.shape == (4, 6)
    assert torch.allclose(out.norm(dim=1), torch.ones(4), atol=1e-6)
    with pytest.raises(DataFormatError, match="features"):
        head(torch.randn(4, 9))


# --------------------------------------------------------------------------- instance bank

def test_rank_within_class_counts_in_batch_order():
    labels = torch.tensor([2, 0, 2, 2, 1, 0])
    rank, counts = rank_within_class(labels, 4)
    assert rank.tolist() == [0, 0, 1, 2, 0, 1]
    assert counts.tolist() == [2, 1, 3, 0]


def test_instance_bank_fifo_keeps_last_p_in_order():
    p = 3
    bank = InstanceMemoryBank(num_classes=3, per_class=p, dim=2)
    items = torch.arange(2 * (2 * p + 1), dtype=torch.float32).reshape(2 * p + 1, 2)
    for i, item in enumerate(items):
        bank.enqueue(item[None], torch.tensor([1]))
        assert int(bank.fill_count[1]) == min(i + 1, p)
    assert torch.equal(bank.ordered(1), items[-p:])  # oldest first: items 4, 5, 6
    assert bank.fill_count.tolist() == [0, p, 0]
    assert bank.valid_mask().sum().item() == p
    assert bank.ordered(0).shape == (0, 2)
    # slot contents: item 6 went to slot (6 % 3) = 0, items 4, 5 to slots 1, 2
    assert torch.equal(bank.vectors[1], items[[6, 4, 5]])


def reference_fifo(batches, num_classes, p):
    queues = [[] for _ in range(num_classes)]
    for vectors, labels in batches:
        for vec, lab in zip(vectors, labels.tolist()):
            queues[lab].append(vec)
            if len(queues[lab]) > p:
                queues[lab].pop(0)
    return queues


def test_batch_enqueue_equals_sequential_enqueue():
    num_classes, p, dim = 4, 3, 5
    g = torch.Generator().manual_seed(1)
    batches = []
    for size in (6, 9, 1, 12):
        labels = torch.randint(0, num_classes, (size,), generator=g)
        batches.append((torch.randn(size, dim, generator=g), labels))
    batches.append((torch.randn(5, dim, generator=g), torch.full((5,), 2)))  # > P of one class
    batched = InstanceMemoryBank(num_classes, p, dim)
    sequential = InstanceMemoryBank(num_classes, p, dim)
    for vectors, labels in batches:
        batched.enqueue(vectors, labels)
        for i in range(len(labels)):
            sequential.enqueue(vectors[i:i + 1], labels[i:i + 1])
    assert torch.equal(batched.vectors, sequential.vectors)
    assert torch.equal(batched.write_pointer, sequential.write_pointer)
    assert torch.equal(batched.fill_count, sequential.fill_count)
    queues = reference_fifo(batches, num_classes, p)
    for c in range(num_classes):
        expected = torch.stack(queues[c]) if queues[c] else torch.zeros(0, dim)
        assert torch.equal(batched.ordered(c), expected)


def test_instance_bank_rejects_bad_labels():
    bank = InstanceMemoryBank(3, 2, 4)
    with pytest.raises(DataFormatError, match="labels"):
        bank.enqueue(torch.randn(2, 4), torch.tensor([0, 3]))
    with pytest.raises(DataFormatError, match="vectors"):
        bank.enqueue(torch.randn(2, 5), torch.tensor([0, 1]))


def test_cap_per_class():
    cap, message = cap_per_class(5, [10, 3, 0, 7])
    assert cap == 3 and "class 1" in message and "P=5" in message
    assert cap_per_class(3, [10, 3, 7]) == (3, None)
    with pytest.raises(DataFormatError):
        cap_per_class(5, [0, 0])
    gcl = GraphContrast(num_classes=4, num_joints=5, per_class=5, dim=8, class_counts=[10, 3, 0, 7])
    assert gcl.instance_bank.per_class == 3 and gcl.cap_message == message


# --------------------------------------------------------------------------- sample bank (authors)

def test_sample_bank_overwrites_by_index_last_occurrence_wins():
    bank = SampleMemoryBank(num_samples=6, dim=2)
    v = torch.arange(8, dtype=torch.float32).reshape(4, 2)
    bank.enqueue(v, torch.tensor([1, 2, 1, 0]), torch.tensor([4, 0, 4, 2]))
    assert bank.filled.tolist() == [True, False, True, False, True, False]
    assert torch.equal(bank.vectors[4], v[2]) and torch.equal(bank.vectors[0], v[1])
    assert bank.labels.tolist() == [2, -1, 0, -1, 1, -1]
    bank.enqueue(-v[:1], torch.tensor([1]), torch.tensor([0]))
    assert torch.equal(bank.vectors[0], -v[0]) and int(bank.labels[0]) == 1
    with pytest.raises(DataFormatError, match="sample_index"):
        bank.enqueue(v[:1], torch.tensor([1]), torch.tensor([6]))


# --------------------------------------------------------------------------- semantic bank

def test_semantic_update_by_hand():
    bank = SemanticMemoryBank(num_classes=3, dim=2, momentum=0.85)
    v1, v2, v3, v4 = (torch.tensor(x) for x in ([1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]))
    bank.update(torch.stack([v1, v3, v2]), torch.tensor([0, 1, 0]))
    # class 0: starts from v1 (first sight), then m = 0.85 v1 + 0.15 v2; class 1: v3
    assert torch.allclose(bank.vectors[0], torch.tensor([0.85, 0.15]))
    assert torch.allclose(bank.vectors[1], v3)
    assert torch.equal(bank.vectors[2], torch.zeros(2))
    assert bank.initialized.tolist() == [True, True, False]
    bank.update(torch.stack([v4, v4]), torch.tensor([0, 0]))
    # two sequential steps: 0.85 (0.85 m + 0.15 v4) + 0.15 v4
    expected = 0.85 * (0.85 * torch.tensor([0.85, 0.15]) + 0.15 * v4) + 0.15 * v4
    assert torch.allclose(bank.vectors[0], expected)
    assert torch.allclose(bank.vectors[0], torch.tensor([0.85 ** 3 - (1 - 0.85 ** 2), 0.85 ** 2 * 0.15]))
    assert torch.allclose(bank.normalized()[0], F.normalize(expected, dim=0))


def test_semantic_update_equals_python_loop():
    num_classes, dim, a = 5, 4, 0.85
    bank = SemanticMemoryBank(num_classes, dim, a)
    reference = [None] * num_classes
    g = torch.Generator().manual_seed(3)
    for size in (7, 3, 10):
        vectors = torch.randn(size, dim, generator=g, dtype=torch.float64).float()
        labels = torch.randint(0, num_classes - 1, (size,), generator=g)  # class 4 never seen
        bank.update(vectors, labels)
        for vec, lab in zip(vectors, labels.tolist()):
            reference[lab] = vec.clone() if reference[lab] is None else a * reference[lab] + (1 - a) * vec
    for c in range(num_classes):
        if reference[c] is None:
            assert not bank.initialized[c] and torch.equal(bank.vectors[c], torch.zeros(dim))
        else:
            assert bank.initialized[c] and torch.allclose(bank.vectors[c], reference[c], atol=1e-5)


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


# --------------------------------------------------------------------------- GraphContrast

def small_gcl(**kw):
    args = dict(num_classes=3, num_joints=4, per_class=4, dim=8, num_hard_positives=2,
                num_hard_negatives=3, num_random_negatives=3)
    args.update(kw)
    return GraphContrast(**args)


def random_graphs(n, m=2, c=5, v=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n * m, 3, c, v, v, generator=g).requires_grad_()


@pytest.mark.parametrize("variant", ["paper", "authors_code"])
def test_empty_banks_give_exact_zero_and_backward_works(variant):
    gcl = small_gcl(variant=variant, num_samples=10)
    graphs = random_graphs(4)
    out = gcl(graphs, torch.tensor([0, 1, 2, 0]), num_persons=2, sample_index=torch.arange(4))
    assert out["loss"].item() == 0.0 and out["loss_instance"].item() == 0.0
    assert out["loss_semantic"].item() == 0.0
    out["loss"].backward()
    assert torch.equal(graphs.grad, torch.zeros_like(graphs))


def test_compute_then_enqueue_and_gradients_reach_graphs_and_head():
    gcl = small_gcl()
    labels = torch.tensor([0, 1, 2, 0])
    first = gcl(random_graphs(4, seed=1), labels, num_persons=2)
    assert first["loss"].item() == 0.0  # the batch was not contrasted with itself
    assert gcl.instance_bank.fill_count.tolist() == [2, 1, 1]
    assert gcl.semantic_bank.initialized.all()
    graphs = random_graphs(4, seed=2)
    out = gcl(graphs, labels, num_persons=2)
    assert out["loss_instance"].item() > 0 and out["loss_semantic"].item() > 0
    assert torch.allclose(out["loss"], out["loss_instance"] + out["loss_semantic"])
    out["loss"].backward()
    assert graphs.grad.abs().sum() > 0 and gcl.head.fc.weight.grad.abs().sum() > 0
    assert gcl.instance_bank.fill_count.tolist() == [4, 2, 2]


def test_eval_mode_leaves_banks_unchanged():
    gcl = small_gcl()
    gcl(random_graphs(3, seed=1), torch.tensor([0, 1, 2]), num_persons=2)
    before = {k: v.clone() for k, v in gcl.state_dict().items()}
    gcl.eval()
    gcl(random_graphs(3, seed=2), torch.tensor([0, 1, 2]), num_persons=2)
    for k, v in gcl.state_dict().items():
        if k != "_extra_state":  # the random-negative generator advances; the banks must not
            assert torch.equal(v, before[k]), k


def test_paper_instance_loss_equals_brute_force_when_all_entries_fit():
    # K_H+, K_H-, K_R large enough that every positive and every negative is used
    gcl = small_gcl(num_hard_positives=10, num_hard_negatives=2, num_random_negatives=20, temperature=0.7)
    gcl(random_graphs(6, seed=3), torch.tensor([0, 1, 2, 0, 1, 2]), num_persons=2)
    graphs = random_graphs(3, seed=4)
    labels = torch.tensor([0, 2, 1])
    out = gcl(graphs, labels, num_persons=2)
    assert out["loss_instance"].item() == pytest.approx(
        _brute_force_instance(gcl, graphs, labels, 0.7, seed_graphs=3), rel=1e-5)


def _brute_force_instance(gcl, graphs, labels, t, seed_graphs):
    """Rebuild the pre-batch bank from the first batch and compute L_ins with loops."""
    first_vectors = gcl.head(random_graphs(6, seed=seed_graphs), 2).detach()
    first_labels = [0, 1, 2, 0, 1, 2]
    anchors = gcl.head(graphs, 2).detach()
    rows = []
    for i in range(len(labels)):
        lab = int(labels[i])
        negs = [first_vectors[j] for j in range(6) if first_labels[j] != lab]
        neg_sum = sum(math.exp(float(anchors[i] @ n) / t) for n in negs)
        for j in range(6):
            if first_labels[j] == lab:
                pos = math.exp(float(anchors[i] @ first_vectors[j]) / t)
                rows.append(-math.log(pos / (pos + neg_sum)))
    return sum(rows) / len(rows)


def test_paper_semantic_loss_uses_normalised_pre_batch_class_vectors():
    gcl = small_gcl(temperature=0.9)
    gcl(random_graphs(6, seed=3), torch.tensor([0, 1, 2, 0, 1, 2]), num_persons=2)
    class_vectors = gcl.semantic_bank.normalized().clone()
    graphs, labels = random_graphs(3, seed=4), torch.tensor([0, 2, 1])
    out = gcl(graphs, labels, num_persons=2)
    anchors = gcl.head(graphs, 2).detach()
    expected = reference_semantic_loss(anchors, labels, class_vectors, torch.ones(3, dtype=torch.bool), 0.9)
    assert out["loss_semantic"].item() == pytest.approx(expected, rel=1e-5)


def test_authors_code_variant_thresholds_and_rows():
    # K_H+ = 2 positives and K_H- = K_R = 3 negatives needed before an anchor contributes
    gcl = small_gcl(variant="authors_code", num_samples=20, num_hard_positives=2,
                    num_hard_negatives=3, num_random_negatives=3, temperature=0.8)
    assert gcl.semantic_bank is None and not any(p.requires_grad for p in gcl.parameters())
    with pytest.raises(ValueError, match="sample_index") as err:  # a missing argument, not bad data
        gcl(random_graphs(1), torch.tensor([0]), num_persons=2)
    assert not isinstance(err.value, DataFormatError)
    # bank: one class-0 entry, three negatives -> anchor of class 0 not ready (1 < 2 positives)
    gcl(random_graphs(4, seed=1), torch.tensor([0, 1, 2, 1]), 2, sample_index=torch.arange(4))
    graphs = random_graphs(1, seed=9)
    out = gcl(graphs, torch.tensor([0]), 2, sample_index=torch.tensor([10]))
    assert out["loss"].item() == 0.0
    # the anchor was written to slot 10: now 2 positives, 3 negatives -> contributes
    graphs = random_graphs(1, seed=5)
    out = gcl(graphs, torch.tensor([0]), 2, sample_index=torch.tensor([11]))
    assert out["loss_instance"].item() > 0 and out["loss_semantic"].item() == 0.0
    out["loss"].backward()
    assert graphs.grad.abs().sum() > 0  # frozen FC still passes gradients to the graphs
    # reference: each of the 2 positives forms a row against the 3 hard negatives and a row
    # against the 3 random negatives (here the same 3 entries): one CE mean over 4 rows
    bank = gcl.instance_bank
    anchor = gcl.head(graphs, 2).detach()[0]
    pos = [bank.vectors[j] for j in (0, 10)]
    neg = [bank.vectors[j] for j in (1, 2, 3)]
    neg_sum = sum(math.exp(float(anchor @ n) / 0.8) for n in neg)
    rows = [-math.log(math.exp(float(anchor @ p) / 0.8) / (math.exp(float(anchor @ p) / 0.8) + neg_sum))
            for p in pos] * 2
    assert out["loss_instance"].item() == pytest.approx(sum(rows) / 4, rel=1e-5)


def test_feature_contrast_variant():
    gcl = small_gcl(contrast="feature", feature_dim=10)
    features = torch.randn(4, 10, requires_grad=True)
    gcl(features, torch.tensor([0, 1, 2, 0]), num_persons=2)
    out = gcl(features, torch.tensor([0, 1, 2, 0]), num_persons=2)
    out["loss"].backward()
    assert out["loss"].item() > 0 and features.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="feature_dim") as err:  # a bad argument, not bad data
        small_gcl(contrast="feature")
    assert not isinstance(err.value, DataFormatError)


def test_bank_state_survives_state_dict_round_trip():
    gcl = small_gcl()
    for seed in range(3):
        gcl(random_graphs(5, seed=seed), torch.tensor([0, 1, 2, 0, 0]), num_persons=2)
    buffer = io.BytesIO()
    torch.save(gcl.state_dict(), buffer)
    buffer.seek(0)
    restored = small_gcl()
    restored.load_state_dict(torch.load(buffer))
    for name in ("instance_bank.vectors", "instance_bank.write_pointer", "instance_bank.fill_count",
                 "semantic_bank.vectors", "semantic_bank.initialized"):
        assert torch.equal(restored.state_dict()[name], gcl.state_dict()[name]), name
    assert restored.instance_bank.fill_count.tolist() == [4, 3, 3]
    graphs, labels = random_graphs(2, seed=9), torch.tensor([1, 2])
    assert restored(graphs, labels, 2)["loss_semantic"].item() == pytest.approx(
        gcl(graphs, labels, 2)["loss_semantic"].item())
    authors = small_gcl(variant="authors_code", num_samples=7)
    assert {"instance_bank.vectors", "instance_bank.labels", "instance_bank.filled"} <= set(
        authors.state_dict())


def test_device_follows_to():
    gcl = small_gcl().to("meta")
    # a generator's state is a CPU byte tensor whatever its device: every other entry moves
    assert all(t.device.type == "meta" for k, t in gcl.state_dict().items() if k != "_extra_state")
    if torch.cuda.is_available():
        gcl = small_gcl().to("cuda")
        for seed in range(2):
            out = gcl(random_graphs(4, seed=seed).cuda(), torch.tensor([0, 1, 2, 0]), 2)
        out["loss"].backward()
        assert out["loss"].device.type == "cuda" and out["loss"].item() > 0


def test_random_negative_draws_survive_a_state_dict_round_trip():
    gcl = small_gcl()
    for seed in range(3):
        gcl(random_graphs(4, seed=seed), torch.tensor([0, 1, 2, 0]), num_persons=2)
    clone = small_gcl()
    clone.load_state_dict(gcl.state_dict())
    nxt = random_graphs(4, seed=9), torch.tensor([0, 1, 2, 0])
    assert torch.equal(gcl(*nxt, num_persons=2)["loss"], clone(*nxt, num_persons=2)["loss"])
