import math

import pytest
import torch
import torch.nn.functional as F

from sslskel.methods.losses import info_nce


def reference_info_nce(q, k, queue, t):
    total = 0.0
    for i in range(q.shape[0]):
        pos = math.exp(float(q[i] @ k[i]) / t)
        negs = sum(math.exp(float(q[i] @ n) / t) for n in queue)
        total += -math.log(pos / (pos + negs))
    return total / q.shape[0]


@pytest.mark.parametrize("batch, queue_size, dim, t", [(1, 1, 2, 1.0), (4, 16, 8, 0.07), (7, 3, 5, 0.5)])
def test_info_nce_matches_loop_reference(batch, queue_size, dim, t):
    g = torch.Generator().manual_seed(batch)
    q, k, queue = (F.normalize(torch.randn(n, dim, generator=g, dtype=torch.float64), dim=1)
                   for n in (batch, batch, queue_size))
    loss, logits = info_nce(q, k, queue, t)
    assert logits.shape == (batch, queue_size + 1)
    assert loss.item() == pytest.approx(reference_info_nce(q, k, queue, t), rel=1e-9)


def test_info_nce_hand_example():
    # q = k = e1, one negative e2, t = 1: loss = -log(e / (e + 1))
    q = torch.tensor([[1.0, 0.0]]); queue = torch.tensor([[0.0, 1.0]])
    loss, _ = info_nce(q, q.clone(), queue, 1.0)
    assert loss.item() == pytest.approx(-math.log(math.e / (math.e + 1)), rel=1e-6)


# ----------------------------------------------------------------------------- NT-Xent, SupCon

from sslskel.methods.losses import nt_xent, supcon  # noqa: E402


def unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def reference_nt_xent(z1, z2, t):
    """Plain loops: 2N anchors, positive = the other view, every other row but self a candidate."""
    rows = [unit(r) for r in z1.tolist()] + [unit(r) for r in z2.tolist()]
    n = len(rows) // 2
    total, hits = 0.0, 0
    for a in range(2 * n):
        p = (a + n) % (2 * n)
        scores = {b: dot(rows[a], rows[b]) / t for b in range(2 * n) if b != a}
        total += -math.log(math.exp(scores[p]) / sum(math.exp(s) for s in scores.values()))
        hits += all(scores[p] > s for b, s in scores.items() if b != p)
    return total / (2 * n), hits / (2 * n)


def reference_supcon(rows, labels, t):
    """Plain loops over anchors, L_out form; anchors without a positive are left out."""
    rows = [unit(r) for r in rows]
    per_anchor = []
    for i in range(len(rows)):
        others = [a for a in range(len(rows)) if a != i]
        positives = [p for p in others if labels[p] == labels[i]]
        if not positives:
            continue
        denominator = sum(math.exp(dot(rows[i], rows[a]) / t) for a in others)
        per_anchor.append(-sum(math.log(math.exp(dot(rows[i], rows[p]) / t) / denominator)
                               for p in positives) / len(positives))
    return sum(per_anchor) / len(per_anchor)


@pytest.mark.parametrize("n, dim, t", [(2, 2, 1.0), (5, 8, 0.1), (9, 4, 0.5)])
def test_nt_xent_matches_loop_reference(n, dim, t):
    g = torch.Generator().manual_seed(n)
    z1, z2 = (torch.randn(n, dim, generator=g, dtype=torch.float64) for _ in range(2))
    loss, top1 = nt_xent(z1, z2, t)
    expected_loss, expected_top1 = reference_nt_xent(z1, z2, t)
    assert loss.dtype == torch.float64
    assert loss.item() == pytest.approx(expected_loss, rel=1e-9)
    assert top1.item() == pytest.approx(expected_top1)


def test_nt_xent_hand_example():
    # two samples, t = 1: rows u = [e1, -e1, e2, e2] (view 1 of samples 0 and 1, then view 2).
    # Anchor e1: positive e2 (score 0), negatives -e1 (-1) and e2 (0): -log(1 / (1 + e^-1 + 1));
    # anchor -e1 the same. Anchor e2 (row 2): positive e1 (0), negatives -e1 (0) and e2 (1):
    # -log(1 / (1 + 1 + e)); row 3 the same.
    z1 = torch.tensor([[1.0, 0.0], [-1.0, 0.0]]); z2 = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    loss, top1 = nt_xent(z1, z2, 1.0)
    expected = (2 * math.log(2 + math.exp(-1)) + 2 * math.log(2 + math.e)) / 4
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # rows 0, 1: the positive (0) ties with the negative e2 (0), a miss; rows 2, 3: e2 (1) beats it
    assert top1.item() == 0.0


def test_nt_xent_invariances_and_gradients():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 5, generator=g, dtype=torch.float64), torch.randn(6, 5, generator=g, dtype=torch.float64)
    loss = nt_xent(z1, z2, 0.2)[0]
    assert nt_xent(z2, z1, 0.2)[0].item() == pytest.approx(loss.item(), rel=1e-12)  # views swap
    assert nt_xent(3 * z1, 0.5 * z2, 0.2)[0].item() == pytest.approx(loss.item(), rel=1e-12)  # normalised inside
    perm = torch.randperm(6, generator=g)
    assert nt_xent(z1[perm], z2[perm], 0.2)[0].item() == pytest.approx(loss.item(), rel=1e-12)
    z1.requires_grad_(True); z2.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: nt_xent(a, b, 0.2)[0], (z1, z2))


def test_nt_xent_rejects_bad_arguments():
    with pytest.raises(ValueError, match="N >= 2"):
        nt_xent(torch.randn(1, 4), torch.randn(1, 4), 0.1)
    with pytest.raises(ValueError, match="one shape"):
        nt_xent(torch.randn(3, 4), torch.randn(2, 4), 0.1)
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(torch.randn(3, 4), torch.randn(3, 4), 0.0)


@pytest.mark.parametrize("views, labels, t", [
    (2, [0, 1, 0, 2, 1], 0.07),
    (1, [0, 1, 0, 2, 1, 2, 3], 0.5),  # label 3 has one row: that anchor is left out
    (3, [4, 4, 4], 1.0),
])
def test_supcon_matches_loop_reference(views, labels, t):
    g = torch.Generator().manual_seed(len(labels))
    z = torch.randn(views, len(labels), 6, generator=g, dtype=torch.float64)
    loss = supcon(z, torch.tensor(labels), temperature=t)
    rows = z.reshape(-1, 6).tolist()
    assert loss.item() == pytest.approx(reference_supcon(rows, labels * views, t), rel=1e-9)
    # the (M, D) form with labels per row gives the same
    flat = supcon(z.reshape(-1, 6), torch.tensor(labels * views), temperature=t)
    assert flat.item() == pytest.approx(loss.item(), rel=1e-12)


def test_supcon_with_own_classes_is_nt_xent_and_base_temperature_scales():
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    labels = torch.arange(7)
    expected = nt_xent(z1, z2, 0.1)[0]
    assert supcon(torch.stack([z1, z2]), labels, 0.1).item() == pytest.approx(expected.item(), rel=1e-5)
    scaled = supcon(torch.stack([z1, z2]), labels, 0.1, base_temperature=0.07)
    assert scaled.item() == pytest.approx(expected.item() * 0.1 / 0.07, rel=1e-5)
    # the authors' default pairing (t = base = 0.07) is a factor of 1
    assert supcon(torch.stack([z1, z2]), labels, 0.07, base_temperature=0.07).item() == pytest.approx(
        supcon(torch.stack([z1, z2]), labels, 0.07).item(), rel=1e-7)


def test_supcon_without_positives_is_zero_with_a_graph():
    z = torch.randn(1, 4, 3, requires_grad=True)
    loss = supcon(z, torch.arange(4))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(z.grad, torch.zeros_like(z))


def test_supcon_gradients_and_bad_arguments():
    z = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 1, 0])
    assert torch.autograd.gradcheck(lambda x: supcon(x, labels, 0.3), (z,))
    with pytest.raises(ValueError, match="labels of shape"):
        supcon(torch.randn(2, 3, 4), torch.arange(2))
    with pytest.raises(ValueError, match=r"\(M, D\)"):
        supcon(torch.randn(6, 4), torch.arange(3))
    with pytest.raises(ValueError, match="base_temperature"):
        supcon(torch.randn(6, 4), torch.arange(6), base_temperature=-1.0)


def test_bf16_inputs_and_autocast_give_fp32():
    g = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(8, 16, generator=g), torch.randn(8, 16, generator=g)
    b1, b2 = z1.bfloat16(), z2.bfloat16()
    exact = nt_xent(b1.double(), b2.double(), 0.07)[0].item()  # same (rounded) inputs, fp64 math
    loss, top1 = nt_xent(b1, b2, 0.07)
    assert loss.dtype == torch.float32 and top1.dtype == torch.float32
    assert loss.item() == pytest.approx(exact, rel=1e-5)
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    s = supcon(torch.stack([b1, b2]), labels)
    assert s.dtype == torch.float32
    assert s.item() == pytest.approx(supcon(torch.stack([b1, b2]).double(), labels).item(), rel=1e-5)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        assert nt_xent(z1, z2, 0.07)[0].dtype == torch.float32
        assert supcon(torch.stack([z1, z2]), labels).item() == pytest.approx(
            supcon(torch.stack([z1, z2]).double(), labels).item(), rel=1e-5)
