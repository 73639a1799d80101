"""Tests for sslskel.methods.cvmim_losses: each loss against a hand computation or a plain
Python loop over pairs, the gradient penalty against autograd's jacobian, an analytic D and
finite differences; gradient flow, fusion modes and errors, fp32 results from bf16 inputs."""

import math

import pytest
import torch

from sslskel.methods.cvmim_losses import (
    FUSIONS,
    club_upper_bound,
    discriminator_loss,
    discriminator_loss_with_penalty,
    fuse,
    fused_dim,
    gaussian_log_likelihood,
    gradient_penalty,
    jsd_mi_loss,
    prior_matching_loss,
    prior_points,
    q_log_likelihood_loss,
)

torch.set_num_threads(1)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --------------------------------------------------------------------------- JSD

def test_jsd_hand_example():
    anchors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    candidates = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]])
    # scores by hand: rows = anchors, columns = candidates
    #   [ 1  0 -1 ]
    #   [ 0  2  1 ]
    #   [ 1  2  0 ]
    positives = [1.0, 2.0, 0.0]
    negatives = [0.0, -1.0, 0.0, 1.0, 1.0, 2.0]
    e_neg = sum(softplus(-s) + s - math.log(2) for s in negatives) / 6
    e_pos = sum(math.log(2) - softplus(-s) for s in positives) / 3
    assert jsd_mi_loss(anchors, candidates).item() == pytest.approx(e_neg - e_pos, rel=1e-6)


def test_jsd_matches_loop_and_bounds():
    a, c = randn(5, 4, seed=1), randn(5, 4, seed=2)
    pos, neg = [], []
    for i in range(5):
        for j in range(5):
            s = float(a[i] @ c[j])
            (pos if i == j else neg).append(s)
    ref = (sum(softplus(s) - math.log(2) for s in neg) / len(neg)
           - sum(math.log(2) - softplus(-s) for s in pos) / len(pos))
    assert jsd_mi_loss(a, c).item() == pytest.approx(ref, rel=1e-12)
    # large positive diagonal, large negative off-diagonal: the loss approaches -2 log 2
    eye = 30 * torch.eye(3) - 30 * (1 - torch.eye(3))
    assert jsd_mi_loss(eye, torch.eye(3)).item() == pytest.approx(-2 * math.log(2), abs=1e-6)


def test_jsd_refuses_single_sample_and_bad_shapes():
    with pytest.raises(ValueError, match="N >= 2"):
        jsd_mi_loss(torch.ones(1, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match="shape"):
        jsd_mi_loss(torch.ones(3, 2), torch.ones(4, 2))


def test_jsd_gradient_flows_to_both_sides():
    a, c = randn(4, 3, seed=3).requires_grad_(), randn(4, 3, seed=4).requires_grad_()
    jsd_mi_loss(a, c).backward()
    assert a.grad.abs().sum() > 0 and c.grad.abs().sum() > 0


# --------------------------------------------------------------------------- fusion

def test_fusion_modes_by_hand():
    p, v = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, -1.0]])
    assert fuse(p, v, "moe").tolist() == [[2.0, 0.5]]
    assert fuse(p, v).tolist() == [[2.0, 0.5]]  # moe is the default
    assert fuse(p, v, "poe").tolist() == [[3.0, -2.0]]
    assert fuse(p, v, "cat").tolist() == [[1.0, 2.0, 3.0, -1.0]]
    for mode in FUSIONS:
        assert fuse(p, v, mode).shape[-1] == fused_dim(2, 2, mode)
    assert fused_dim(32, 16, "cat") == 48


def test_fusion_errors():
    with pytest.raises(ValueError, match="moe, poe, cat"):
        fuse(torch.ones(1, 2), torch.ones(1, 2), "sum")
    with pytest.raises(ValueError, match="moe, poe, cat"):
        fused_dim(2, 2, "MOE")
    with pytest.raises(ValueError, match="pose_dim == view_dim"):
        fused_dim(32, 16, "poe")
    with pytest.raises(ValueError, match="one shape"):
        fuse(torch.ones(1, 2), torch.ones(1, 3), "moe")
    assert fuse(torch.ones(1, 2), torch.ones(1, 3), "cat").shape == (1, 5)


# --------------------------------------------------------------------------- Q and CLUB

def loop_log_likelihood(mean, logvar, target, i, j):
    d = mean.shape[1]
    return sum(-(float(mean[i, k]) - float(target[j, k])) ** 2 / math.exp(float(logvar[i, k])) / 2
               - float(logvar[i, k]) / 2 for k in range(d)) / d


def loop_club(mean, logvar, target):
    n = mean.shape[0]
    matched = sum(loop_log_likelihood(mean, logvar, target, i, i) for i in range(n)) / n
    mismatched = sum(loop_log_likelihood(mean, logvar, target, i, j)
                     for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    return max(0.0, matched - mismatched)


def test_gaussian_log_likelihood_hand_example():
    mean = torch.tensor([[0.0, 1.0]]); logvar = torch.tensor([[0.0, math.log(4.0)]])
    target = torch.tensor([[2.0, 1.0]])
    # dim 0: -(0-2)^2 / 1 / 2 - 0 = -2;  dim 1: -0 - log(4)/2;  mean over the 2 dims
    expected = (-2.0 - math.log(4.0) / 2) / 2
    assert gaussian_log_likelihood(mean, logvar, target).tolist() == [pytest.approx(expected)]
    assert q_log_likelihood_loss(mean, logvar, target).item() == pytest.approx(-expected)


def test_club_hand_example():
    # N = 2, d = 1, unit variance: ll(i, j) = -(m_i - y_j)^2 / 2
    mean, logvar, target = torch.tensor([[0.0], [2.0]]), torch.zeros(2, 1), torch.tensor([[0.0], [2.0]])
    # matched: 0 and 0; mismatched: -(0-2)^2/2 = -2 twice  ->  bound = 0 - (-2) = 2
    assert club_upper_bound(mean, logvar, target).item() == pytest.approx(2.0)
    # swapped targets: matched -2, mismatched 0  ->  negative difference, clipped to 0
    assert club_upper_bound(mean, logvar, target.flip(0)).item() == 0.0


@pytest.mark.parametrize("n, d, seed", [(2, 1, 0), (5, 3, 1), (9, 6, 2)])
def test_club_matches_loop_over_pairs(n, d, seed):
    mean, target = randn(n, d, seed=seed), randn(n, d, seed=seed + 10)
    target = target + 0.8 * mean  # dependent pairs, so the bound is positive
    logvar = torch.tanh(randn(n, d, seed=seed + 20))
    got = club_upper_bound(mean, logvar, target).item()
    ref = loop_club(mean, logvar, target)
    assert ref > 0
    assert got == pytest.approx(ref, rel=1e-10, abs=1e-12)
    # and in fp32 (the training precision), with offsets that would expose the expanded square
    got32 = club_upper_bound((mean + 50).float(), logvar.float(), (target + 50).float()).item()
    assert got32 == pytest.approx(loop_club(mean + 50, logvar, target + 50), rel=1e-5, abs=1e-5)


def test_club_gradients_reach_mean_logvar_and_target():
    mean, target = randn(6, 4, seed=5), randn(6, 4, seed=6)
    target = (target + mean).requires_grad_()
    mean.requires_grad_()
    logvar = (0.3 * randn(6, 4, seed=7)).requires_grad_()
    bound = club_upper_bound(mean, logvar, target)
    assert bound.item() > 0
    bound.backward()
    for t in (mean, logvar, target):
        assert t.grad is not None and t.grad.abs().sum() > 0
    # and they match autograd through the loop-shaped (N x N x d) reference computation
    def dense(m, lv, y):
        ll = (-(m[:, None] - y[None]).pow(2) * torch.exp(-lv[:, None]) / 2 - lv[:, None] / 2).mean(-1)
        n = ll.shape[0]
        return ll.diagonal().mean() - (ll.sum() - ll.diagonal().sum()) / (n * (n - 1))
    grads = torch.autograd.grad(dense(mean, logvar, target), (mean, logvar, target))
    for t, g in zip((mean, logvar, target), grads):
        torch.testing.assert_close(t.grad, g)


def test_club_refuses_single_sample():
    with pytest.raises(ValueError, match="N >= 2"):
        club_upper_bound(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(1, 2))


# --------------------------------------------------------------------------- prior matching

def test_discriminator_and_prior_losses_by_hand():
    real, fake = torch.tensor([[1.0], [-2.0]]), torch.tensor([0.5, 3.0])
    expected = 0.5 * ((softplus(-1.0) + softplus(2.0)) / 2 + (softplus(0.5) + softplus(3.0)) / 2)
    assert discriminator_loss(real, fake).item() == pytest.approx(expected, rel=1e-6)
    assert prior_matching_loss(fake).item() == pytest.approx((softplus(-0.5) + softplus(-3.0)) / 2, rel=1e-6)


def test_prior_points():
    z_p, z_v = torch.zeros(3, 2), torch.full((3, 1), 100.0)
    real, fake = prior_points(z_p, z_v, torch.Generator().manual_seed(0))
    assert real.shape == fake.shape == (3, 3)
    assert fake[:, :2].eq(0.5).all() and fake[:, 2].eq(1.0).all()
    assert real.min() >= 0 and real.max() < 1


def test_gradient_penalty_of_linear_discriminator_is_squared_weight_norm():
    w = torch.tensor([3.0, -4.0, 1.0])
    linear = torch.nn.Linear(3, 1)
    with torch.no_grad():
        linear.weight.copy_(w[None])
    points = torch.rand(5, 3)
    assert gradient_penalty(linear, points).item() == pytest.approx(26.0, rel=1e-6)
    # D(x) = sum(x^2): gradient 2x, penalty = mean_i 4 |x_i|^2
    assert gradient_penalty(lambda x: x.pow(2).sum(1), points).item() == pytest.approx(
        4 * points.pow(2).sum(1).mean().item(), rel=1e-6)


def tiny_mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1)).double()


def test_gradient_penalty_matches_jacobian_and_finite_differences():
    d = tiny_mlp()
    points = randn(3, 4, seed=8)
    ref = 0.0
    for x in points:
        jac = torch.autograd.functional.jacobian(lambda v: d(v[None])[0, 0], x)
        ref += float(jac.pow(2).sum())
        # central differences agree with the jacobian
        h = 1e-6
        fd = torch.stack([(d((x + h * e)[None]) - d((x - h * e)[None]))[0, 0] / (2 * h)
                          for e in torch.eye(4, dtype=torch.float64)])
        torch.testing.assert_close(fd, jac, rtol=1e-6, atol=1e-8)
    assert gradient_penalty(d, points).item() == pytest.approx(ref / 3, rel=1e-10)


def test_penalty_trains_discriminator_and_leaves_points_alone():
    d = tiny_mlp(1)
    points = randn(4, 4, seed=9).requires_grad_()
    gradient_penalty(d, points).backward()
    # every parameter but the output bias (which does not move grad_x D) gets a gradient
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in [*d.parameters()][:-1])
    assert d[2].bias.grad is None
    assert points.grad is None  # treated as constants
    # the penalty's gradient in D's parameters matches finite differences along one weight
    w = d[0].weight
    def penalty_at(delta):
        with torch.no_grad():
            w[0, 0] += delta
        value = gradient_penalty(d, points).item()
        with torch.no_grad():
            w[0, 0] -= delta
        return value
    h = 1e-6
    assert w.grad[0, 0].item() == pytest.approx((penalty_at(h) - penalty_at(-h)) / (2 * h), rel=1e-5)


def test_discriminator_loss_with_penalty_composes_and_detaches_fake():
    d = tiny_mlp(2)
    real = torch.rand(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    fake = randn(5, 4, seed=10).sigmoid().requires_grad_()
    loss = discriminator_loss_with_penalty(d, real, fake)
    penalties = gradient_penalty(d, real) + gradient_penalty(d, fake)
    expected = discriminator_loss(d(real), d(fake)) + 0.5 * penalties
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    loss.backward()
    assert fake.grad is None
    assert all(p.grad is not None for p in d.parameters())


def test_penalty_works_under_no_grad():
    # evaluation code may call the losses inside torch.no_grad()
    with torch.no_grad():
        value = gradient_penalty(torch.nn.Linear(2, 1), torch.rand(3, 2))
    assert value.item() > 0


# --------------------------------------------------------------------------- precision

def test_bf16_inputs_give_fp32_results():
    g = torch.Generator().manual_seed(0)
    a, c = (torch.randn(4, 3, generator=g).bfloat16() for _ in range(2))
    m, lv, y = (torch.randn(4, 3, generator=g).bfloat16() for _ in range(3))
    results = [jsd_mi_loss(a, c), fuse(a, c, "moe"), fuse(a, c, "poe"), fuse(a, c, "cat"),
               gaussian_log_likelihood(m, lv, y), club_upper_bound(m, lv, y),
               q_log_likelihood_loss(m, lv, y), discriminator_loss(a, c), prior_matching_loss(c),
               *prior_points(a, c), gradient_penalty(torch.nn.Linear(3, 1), a),
               discriminator_loss_with_penalty(torch.nn.Linear(3, 1), a, c)]
    assert all(r.dtype == torch.float32 for r in results)
    # the bf16 values are exactly representable in fp32: same result as fp32 inputs
    assert jsd_mi_loss(a, c).item() == jsd_mi_loss(a.float(), c.float()).item()


def test_fp32_math_under_bf16_autocast():
    a, c = randn(6, 8, seed=11, dtype=torch.float32), randn(6, 8, seed=12, dtype=torch.float32)
    plain = jsd_mi_loss(a, c)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = jsd_mi_loss(a, c)
        club = club_upper_bound(a, torch.zeros_like(a), c)
    assert inside.dtype == torch.float32 and club.dtype == torch.float32
    assert inside.item() == plain.item()
