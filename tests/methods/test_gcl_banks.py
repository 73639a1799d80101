"""Tests for sslskel.methods.gcl.banks: each bank against a plain FIFO / dict / loop reference."""

import pytest
import torch
import torch.nn.functional as F

from sslskel.data.errors import DataFormatError
from sslskel.methods.gcl import (
    InstanceMemoryBank,
    SampleMemoryBank,
    SemanticMemoryBank,
    cap_per_class,
    rank_within_class,
)

torch.set_num_threads(1)


def random_batches(sizes, num_classes, dim, seed):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(size, dim, generator=g), torch.randint(0, num_classes, (size,), generator=g))
            for size in sizes]


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
    batches = random_batches((6, 9, 1, 12), num_classes, dim, seed=1)
    batches.append((torch.randn(5, dim), torch.full((5,), 2)))  # > P of one class
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
    entries, labels, valid = batched.flat()
    assert entries.shape == (num_classes * p, dim) and labels.tolist() == sum([[c] * p for c in range(4)], [])
    assert torch.equal(valid, batched.valid_mask().reshape(-1))


def test_instance_bank_rejects_bad_labels():
    bank = InstanceMemoryBank(3, 2, 4)
    with pytest.raises(DataFormatError, match="labels"):
        bank.enqueue(torch.randn(2, 4), torch.tensor([0, 3]))
    with pytest.raises(DataFormatError, match="labels"):
        bank.enqueue(torch.randn(2, 4), torch.tensor([0.0, 1.0]))
    with pytest.raises(DataFormatError, match="vectors"):
        bank.enqueue(torch.randn(2, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="per_class"):
        InstanceMemoryBank(3, 0, 4)


def test_cap_per_class():
    cap, message = cap_per_class(5, [10, 3, 0, 7])
    assert cap == 3 and "class 1" in message and "P=5" in message
    assert cap_per_class(3, [10, 3, 7]) == (3, None)
    with pytest.raises(DataFormatError):
        cap_per_class(5, [0, 0])


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


def test_sample_bank_equals_a_dict_written_in_batch_order():
    num_samples, dim = 9, 3
    bank = SampleMemoryBank(num_samples, dim)
    reference = {}
    g = torch.Generator().manual_seed(2)
    for vectors, labels in random_batches((5, 7, 4), 3, dim, seed=2):
        index = torch.randint(0, num_samples, (len(labels),), generator=g)  # repeats likely
        bank.enqueue(vectors, labels, index)
        for vec, lab, i in zip(vectors, labels.tolist(), index.tolist()):
            reference[i] = (vec, lab)
    entries, labels, filled = bank.flat()
    assert filled.tolist() == [i in reference for i in range(num_samples)]
    for i in range(num_samples):
        vec, lab = reference.get(i, (torch.zeros(dim), -1))
        assert torch.equal(entries[i], vec) and int(labels[i]) == lab


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


def test_semantic_bank_rejects_a_bad_momentum():
    with pytest.raises(ValueError, match="momentum"):
        SemanticMemoryBank(3, 4, momentum=1.0)
