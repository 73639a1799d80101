"""Tests for sslskel.methods.gcl.contrast: both SkeletonGCL modules against brute-force loops,
their auxiliary-loss interface, the compute-then-write order and the saved state."""

import io
import math

import pytest
import torch
from test_gcl_losses import reference_semantic_loss

from sslskel.data.errors import DataFormatError
from sslskel.methods.auxiliary import AuxiliaryLoss
from sslskel.methods.gcl import (
    AuthorsCodeGraphContrast,
    FeatureProjectionHead,
    GraphContrastBase,
    PaperGraphContrast,
    cap_per_class,
)

torch.set_num_threads(1)

SMALL = dict(num_classes=3, num_joints=4, dim=8, num_hard_positives=2, num_hard_negatives=3,
             num_random_negatives=3)


def small_paper(**kw):
    return PaperGraphContrast(**{**SMALL, "per_class": 4, **kw})


def small_authors(**kw):
    return AuthorsCodeGraphContrast(**{**SMALL, "num_samples": 10, **kw})


def random_graphs(n, m=2, c=5, v=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n * m, 3, c, v, v, generator=g).requires_grad_()


def total(terms):
    return sum(terms.values())  # what the fine-tuner adds to the cross-entropy


# --------------------------------------------------------------------------- interface

@pytest.mark.parametrize("build, names", [(small_paper, ["loss_instance", "loss_semantic"]),
                                          (small_authors, ["loss_instance"])])
def test_both_variants_are_auxiliary_losses_with_documented_terms(build, names):
    gcl = build()
    assert isinstance(gcl, AuxiliaryLoss) and isinstance(gcl, GraphContrastBase)
    assert gcl.name == "gcl" and gcl.needs == "graphs" and gcl.contrast == "graph"
    terms = gcl(random_graphs(4), torch.tensor([0, 1, 2, 0]), torch.arange(4), num_persons=2)
    assert sorted(terms) == names
    features = build(contrast="feature", feature_dim=10)
    assert features.needs == "features" and isinstance(features.head, FeatureProjectionHead)


def test_state_dict_keys_are_the_checkpoint_layout():
    assert set(small_paper().state_dict()) == {
        "_extra_state", "head.fc.weight", "head.fc.bias", "instance_bank.vectors",
        "instance_bank.write_pointer", "instance_bank.fill_count", "semantic_bank.vectors",
        "semantic_bank.initialized"}
    assert set(small_authors().state_dict()) == {
        "_extra_state", "head.fc.weight", "head.fc.bias", "instance_bank.vectors",
        "instance_bank.labels", "instance_bank.filled"}


def test_cap_message_is_the_setup_message():
    _, message = cap_per_class(5, [10, 3, 0, 7])
    gcl = PaperGraphContrast(num_classes=4, num_joints=5, per_class=5, dim=8, class_counts=[10, 3, 0, 7])
    assert gcl.instance_bank.per_class == 3 and gcl.setup_message == message
    assert small_paper(class_counts=[9, 9, 9]).setup_message is None and small_paper().setup_message is None


def test_bad_arguments_are_value_errors_not_data_errors():
    for build, kw, key in ((small_paper, dict(contrast="features"), "contrast"),
                           (small_paper, dict(temperature=0.0), "temperature"),
                           (small_paper, dict(contrast="feature"), "feature_dim"),
                           (small_authors, dict(num_samples=0), "num_samples")):
        with pytest.raises(ValueError, match=key) as err:
            build(**kw)
        assert not isinstance(err.value, DataFormatError)


def test_num_persons_in_the_place_of_sample_index_is_caught():
    gcl = small_paper()
    with pytest.raises(DataFormatError, match="sample_index.*num_persons"):
        gcl(random_graphs(4), torch.tensor([0, 1, 2, 0]), 2)
    with pytest.raises(DataFormatError, match="sample_index"):
        gcl(random_graphs(4), torch.tensor([0, 1, 2, 0]), torch.arange(3), num_persons=2)
    with pytest.raises(DataFormatError, match="labels"):
        gcl(random_graphs(4), torch.tensor([0, 1, 2]), num_persons=2)


# --------------------------------------------------------------------------- paper variant

@pytest.mark.parametrize("build", [small_paper, small_authors])
def test_empty_banks_give_exact_zero_and_backward_works(build):
    gcl = build()
    graphs = random_graphs(4)
    terms = gcl(graphs, torch.tensor([0, 1, 2, 0]), torch.arange(4), num_persons=2)
    assert all(value.item() == 0.0 for value in terms.values())
    total(terms).backward()
    assert torch.equal(graphs.grad, torch.zeros_like(graphs))


def test_compute_then_enqueue_and_gradients_reach_graphs_and_head():
    gcl = small_paper()
    labels = torch.tensor([0, 1, 2, 0])
    first = gcl(random_graphs(4, seed=1), labels, num_persons=2)
    assert total(first).item() == 0.0  # the batch was not contrasted with itself
    assert gcl.instance_bank.fill_count.tolist() == [2, 1, 1]
    assert gcl.semantic_bank.initialized.all()
    graphs = random_graphs(4, seed=2)
    out = gcl(graphs, labels, num_persons=2)
    assert out["loss_instance"].item() > 0 and out["loss_semantic"].item() > 0
    total(out).backward()
    assert graphs.grad.abs().sum() > 0 and gcl.head.fc.weight.grad.abs().sum() > 0
    assert gcl.instance_bank.fill_count.tolist() == [4, 2, 2]


def test_eval_mode_leaves_banks_unchanged():
    gcl = small_paper()
    gcl(random_graphs(3, seed=1), torch.tensor([0, 1, 2]), num_persons=2)
    before = {k: v.clone() for k, v in gcl.state_dict().items()}
    gcl.eval()
    gcl(random_graphs(3, seed=2), torch.tensor([0, 1, 2]), num_persons=2)
    for k, v in gcl.state_dict().items():
        if k != "_extra_state":  # the random-negative generator advances; the banks must not
            assert torch.equal(v, before[k]), k


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


def test_paper_instance_loss_equals_brute_force_when_all_entries_fit():
    # K_H+, K_H-, K_R large enough that every positive and every negative is used
    gcl = small_paper(num_hard_positives=10, num_hard_negatives=2, num_random_negatives=20, temperature=0.7)
    gcl(random_graphs(6, seed=3), torch.tensor([0, 1, 2, 0, 1, 2]), num_persons=2)
    graphs = random_graphs(3, seed=4)
    labels = torch.tensor([0, 2, 1])
    out = gcl(graphs, labels, num_persons=2)
    assert out["loss_instance"].item() == pytest.approx(
        _brute_force_instance(gcl, graphs, labels, 0.7, seed_graphs=3), rel=1e-5)


def test_paper_semantic_loss_uses_normalised_pre_batch_class_vectors():
    gcl = small_paper(temperature=0.9)
    gcl(random_graphs(6, seed=3), torch.tensor([0, 1, 2, 0, 1, 2]), num_persons=2)
    class_vectors = gcl.semantic_bank.normalized().clone()
    graphs, labels = random_graphs(3, seed=4), torch.tensor([0, 2, 1])
    out = gcl(graphs, labels, num_persons=2)
    anchors = gcl.head(graphs, 2).detach()
    expected = reference_semantic_loss(anchors, labels, class_vectors, torch.ones(3, dtype=torch.bool), 0.9)
    assert out["loss_semantic"].item() == pytest.approx(expected, rel=1e-5)


def test_feature_contrast():
    gcl = small_paper(contrast="feature", feature_dim=10)
    features = torch.randn(4, 10, requires_grad=True)
    gcl(features, torch.tensor([0, 1, 2, 0]), num_persons=2)
    loss = total(gcl(features, torch.tensor([0, 1, 2, 0]), num_persons=2))
    loss.backward()
    assert loss.item() > 0 and features.grad.abs().sum() > 0


# --------------------------------------------------------------------------- authors' code variant

def test_authors_code_variant_thresholds_and_rows():
    # K_H+ = 2 positives and K_H- = K_R = 3 negatives needed before an anchor contributes
    gcl = small_authors(num_samples=20, temperature=0.8)
    assert not hasattr(gcl, "semantic_bank") and not any(p.requires_grad for p in gcl.parameters())
    with pytest.raises(ValueError, match="sample_index") as err:  # a missing argument, not bad data
        gcl(random_graphs(1), torch.tensor([0]), num_persons=2)
    assert not isinstance(err.value, DataFormatError)
    # bank: one class-0 entry, three negatives -> anchor of class 0 not ready (1 < 2 positives)
    gcl(random_graphs(4, seed=1), torch.tensor([0, 1, 2, 1]), torch.arange(4), num_persons=2)
    graphs = random_graphs(1, seed=9)
    out = gcl(graphs, torch.tensor([0]), torch.tensor([10]), num_persons=2)
    assert total(out).item() == 0.0
    # the anchor was written to slot 10: now 2 positives, 3 negatives -> contributes
    graphs = random_graphs(1, seed=5)
    out = gcl(graphs, torch.tensor([0]), torch.tensor([11]), num_persons=2)
    assert out["loss_instance"].item() > 0 and list(out) == ["loss_instance"]
    total(out).backward()
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


def reference_authors_loss(anchors, labels, bank, kp, kn, t):
    """Authors' L_ins with a dict bank {index: (vector, label)} when every ready anchor has
    exactly kn negatives (so hard and random negatives are all of them): mean over the rows."""
    rows = []
    for anchor, lab in zip(anchors, labels.tolist()):
        positives = [vec for vec, other in bank.values() if other == lab]
        negatives = [vec for vec, other in bank.values() if other != lab]
        if len(positives) < kp or len(negatives) < kn:
            continue  # not ready
        assert len(negatives) == kn, "the reference covers exact negative sets only"
        hardest = sorted(positives, key=lambda p: float(anchor @ p))[:kp]
        neg_sum = sum(math.exp(float(anchor @ n) / t) for n in negatives)
        for p in hardest:
            pos = math.exp(float(anchor @ p) / t)
            rows += [-math.log(pos / (pos + neg_sum))] * 2  # a hard row and a random row
    return sum(rows) / len(rows) if rows else 0.0


def test_authors_code_variant_equals_a_dict_bank_over_batches():
    # 6 samples of fixed labels, 2 per class: once the bank is full every anchor has exactly
    # 4 negatives = K_H- = K_R, and 2 positives of which the K_H+ = 1 least similar is used
    sample_labels = torch.tensor([0, 0, 1, 1, 2, 2])
    gcl = small_authors(num_samples=6, num_hard_positives=1, num_hard_negatives=4,
                        num_random_negatives=4, temperature=0.6)
    bank, losses = {}, []
    for step, index in enumerate(([0, 2, 4], [1, 3, 5], [0, 1, 2, 3], [4, 5, 0])):
        index = torch.tensor(index)
        graphs, labels = random_graphs(len(index), seed=20 + step), sample_labels[index]
        out = gcl(graphs, labels, index, num_persons=2)
        anchors = gcl.head(graphs, 2).detach()
        expected = reference_authors_loss(anchors, labels, bank, 1, 4, 0.6)
        assert out["loss_instance"].item() == pytest.approx(expected, rel=1e-5, abs=1e-7), step
        losses.append(expected)
        bank.update({i: (vec, lab) for i, vec, lab in zip(index.tolist(), anchors, labels.tolist())})
    assert losses[0] == losses[1] == 0.0 and min(losses[2:]) > 0  # not ready, then ready
    for i, (vec, lab) in bank.items():
        assert torch.allclose(gcl.instance_bank.vectors[i], vec) and int(gcl.instance_bank.labels[i]) == lab


def test_authors_code_head_init_and_frozen():
    torch.manual_seed(0)
    gcl = AuthorsCodeGraphContrast(num_classes=50, num_samples=10, num_joints=25)
    weight = gcl.head.fc.weight
    assert torch.equal(gcl.head.fc.bias, torch.zeros(256)) and not weight.requires_grad
    assert weight.std().item() == pytest.approx(math.sqrt(2 / 50), rel=0.02)
    assert abs(weight.mean().item()) < 0.01


# --------------------------------------------------------------------------- saved state and devices

def test_bank_state_survives_state_dict_round_trip():
    gcl = small_paper()
    for seed in range(3):
        gcl(random_graphs(5, seed=seed), torch.tensor([0, 1, 2, 0, 0]), num_persons=2)
    buffer = io.BytesIO()
    torch.save(gcl.state_dict(), buffer)
    buffer.seek(0)
    restored = small_paper()
    restored.load_state_dict(torch.load(buffer))
    for name in ("instance_bank.vectors", "instance_bank.write_pointer", "instance_bank.fill_count",
                 "semantic_bank.vectors", "semantic_bank.initialized"):
        assert torch.equal(restored.state_dict()[name], gcl.state_dict()[name]), name
    assert restored.instance_bank.fill_count.tolist() == [4, 3, 3]
    graphs, labels = random_graphs(2, seed=9), torch.tensor([1, 2])
    assert restored(graphs, labels, num_persons=2)["loss_semantic"].item() == pytest.approx(
        gcl(graphs, labels, num_persons=2)["loss_semantic"].item())


def test_device_follows_to():
    gcl = small_paper().to("meta")
    # a generator's state is a CPU byte tensor whatever its device: every other entry moves
    assert all(t.device.type == "meta" for k, t in gcl.state_dict().items() if k != "_extra_state")
    if torch.cuda.is_available():
        gcl = small_paper().to("cuda")
        for seed in range(2):
            out = gcl(random_graphs(4, seed=seed).cuda(), torch.tensor([0, 1, 2, 0]), num_persons=2)
        total(out).backward()
        assert out["loss_instance"].device.type == "cuda" and total(out).item() > 0


@pytest.mark.parametrize("build", [small_paper, small_authors])
def test_random_negative_draws_survive_a_state_dict_round_trip(build):
    gcl = build()
    assert gcl.state_dict()["_extra_state"].numel() == 0  # nothing drawn yet
    for seed in range(3):
        gcl(random_graphs(4, seed=seed), torch.tensor([0, 1, 2, 0]), torch.arange(4) + seed, num_persons=2)
    clone = build()
    clone.load_state_dict(gcl.state_dict())
    nxt = random_graphs(4, seed=9), torch.tensor([0, 1, 2, 0]), torch.arange(4)
    assert torch.equal(total(gcl(*nxt, num_persons=2)), total(clone(*nxt, num_persons=2)))
