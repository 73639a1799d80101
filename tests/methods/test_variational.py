import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from sslskel.methods.variational import (
    VariationalHead,
    kl_to_standard_normal,
    mean_posterior_variance,
    mean_resultant_length,
    normalized_kl,
    sample_projected_normal,
)


def gaussian_pair(n, d, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randn(n, d, generator=g, dtype=dtype) - 0.5


# ----------------------------------------------------------------------------- KL

def test_kl_matches_loop_and_torch_distributions():
    mu, logvar = gaussian_pair(4, 5, 0)
    kl = kl_to_standard_normal(mu, logvar)
    assert kl.shape == (4,)
    reference = [0.5 * sum(m * m + math.exp(lv) - 1 - lv for m, lv in zip(row_mu, row_lv))
                 for row_mu, row_lv in zip(mu.tolist(), logvar.tolist())]
    assert kl.tolist() == pytest.approx(reference, rel=1e-12)
    expected = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(dim=-1)
    torch.testing.assert_close(kl, expected)
    assert normalized_kl(mu, logvar).item() == pytest.approx(sum(reference) / 4 / 5, rel=1e-12)
    assert normalized_kl(torch.zeros(3, 7), torch.zeros(3, 7)).item() == 0.0


def test_kl_matches_monte_carlo():
    # E_q[log q(x) - log p(x)] with 200k samples of q = N(mu, diag sigma^2) in d = 3
    mu, logvar = gaussian_pair(2, 3, 1)
    sigma = torch.exp(0.5 * logvar)
    g = torch.Generator().manual_seed(2)
    x = mu + sigma * torch.randn(200_000, 2, 3, generator=g, dtype=torch.float64)
    log_ratio = (Normal(mu, sigma).log_prob(x) - Normal(0.0, 1.0).log_prob(x)).sum(dim=-1)
    estimate, stderr = log_ratio.mean(dim=0), log_ratio.std(dim=0) / math.sqrt(x.shape[0])
    assert torch.all((estimate - kl_to_standard_normal(mu, logvar)).abs() < 4 * stderr)


def projected_normal_angle_density(mu, sigma, theta):
    """d = 2: density of the angle of x ~ N(mu, diag sigma^2), f(theta) = int_0^inf r phi(r u_theta) dr."""
    r = torch.linspace(0.0, float(mu.norm() + 12 * sigma.max()), 2001, dtype=torch.float64)
    points = r[:, None, None] * torch.stack([torch.cos(theta), torch.sin(theta)], dim=-1)[None]  # (R, T, 2)
    density = torch.exp(Normal(mu, sigma).log_prob(points).sum(dim=-1))  # (R, T)
    return torch.trapezoid(r[:, None] * density, r, dim=0)


@pytest.mark.parametrize("mu, logvar", [
    ([0.0, 0.0], [0.0, 0.0]),  # N(0, I): the uniform law, both sides 0
    ([1.5, -0.5], [-1.0, 0.5]),
    ([0.3, 0.2], [0.8, -0.3]),
    ([4.0, 0.0], [-3.0, -2.0]),
])
def test_kl_bounds_the_projected_normal_kl_to_uniform_in_2d(mu, logvar):
    # KL(PN || Uniform(S^1)) = int f log(2 pi f) d theta, f by quadrature (no sampling)
    mu, logvar = torch.tensor(mu, dtype=torch.float64), torch.tensor(logvar, dtype=torch.float64)
    theta = torch.linspace(-math.pi, math.pi, 1001, dtype=torch.float64)
    f = projected_normal_angle_density(mu, torch.exp(0.5 * logvar), theta)
    mass = torch.trapezoid(f, theta).item()
    assert mass == pytest.approx(1.0, abs=1e-5)
    f = f / mass  # the quadrature's own mass error (1e-6) would otherwise show as a KL of -1e-6
    kl_sphere = torch.trapezoid(f * torch.log(2 * math.pi * f.clamp_min(1e-300)), theta).item()
    bound = kl_to_standard_normal(mu[None], logvar[None]).item()
    assert kl_sphere >= -1e-9
    assert kl_sphere <= bound + 1e-9
    if bound == 0.0:
        assert kl_sphere == pytest.approx(0.0, abs=1e-9)
    else:
        assert kl_sphere < bound  # strictly below off the tight point


def test_samples_follow_the_projected_normal_density_in_2d():
    mu, logvar = torch.tensor([[0.8, -0.4]]), torch.tensor([[-0.5, 0.3]])
    z = sample_projected_normal(mu, logvar, generator=torch.Generator().manual_seed(3), num_samples=100_000)
    angles = torch.atan2(z[:, 0, 1], z[:, 0, 0]).double()
    edges = torch.linspace(-math.pi, math.pi, 25, dtype=torch.float64)
    observed = torch.histc(angles, bins=24, min=-math.pi, max=math.pi) / angles.numel()
    sigma = torch.exp(0.5 * logvar[0]).double()
    expected = []
    for a, b in zip(edges[:-1], edges[1:]):  # each bin's probability under the quadrature density
        t = torch.linspace(a, b, 101, dtype=torch.float64)
        expected.append(torch.trapezoid(projected_normal_angle_density(mu[0].double(), sigma, t), t))
    expected = torch.stack(expected)
    # binomial standard error per bin is below 0.0016; allow 5 of them
    assert (observed - expected).abs().max().item() < 0.008


def test_normalised_standard_normal_is_uniform_on_the_circle():
    z = sample_projected_normal(torch.zeros(1, 2), torch.zeros(1, 2), generator=torch.Generator().manual_seed(4),
                                num_samples=100_000)
    assert mean_resultant_length(z).item() < 0.01  # about 1 / sqrt(S) = 0.003 for uniform angles
    angles = torch.atan2(z[:, 0, 1], z[:, 0, 0])
    counts = torch.histc(angles, bins=16, min=-math.pi, max=math.pi) / angles.numel()
    assert (counts - 1 / 16).abs().max().item() < 0.005


# ----------------------------------------------------------------------------- sampling

def test_samples_lie_on_the_sphere_with_shapes():
    mu, logvar = gaussian_pair(5, 6, 5, dtype=torch.float32)
    one = sample_projected_normal(mu, logvar)
    many = sample_projected_normal(mu, logvar, num_samples=7)
    single = sample_projected_normal(mu, logvar, num_samples=1)
    assert one.shape == (5, 6) and many.shape == (7, 5, 6) and single.shape == (1, 5, 6)
    for z in (one, many, single):
        torch.testing.assert_close(z.norm(dim=-1), torch.ones(z.shape[:-1]))


def test_sampling_is_reproducible_with_a_generator_and_reparameterised():
    mu, logvar = gaussian_pair(3, 4, 6)
    a = sample_projected_normal(mu, logvar, generator=torch.Generator().manual_seed(7), num_samples=2)
    b = sample_projected_normal(mu, logvar, generator=torch.Generator().manual_seed(7), num_samples=2)
    c = sample_projected_normal(mu, logvar, generator=torch.Generator().manual_seed(8), num_samples=2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    # the same eps by hand: normalize(mu + sigma * eps)
    eps = torch.randn((2, 3, 4), generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    y = mu + torch.exp(0.5 * logvar) * eps
    torch.testing.assert_close(a, y / y.norm(dim=-1, keepdim=True))
    mu.requires_grad_(True); logvar.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda m, lv: sample_projected_normal(m, lv, generator=torch.Generator().manual_seed(9)), (mu, logvar))


def test_sampling_rejects_bad_arguments():
    with pytest.raises(ValueError, match="one shape"):
        sample_projected_normal(torch.zeros(2, 3), torch.zeros(2, 4))
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match="num_samples"):
            sample_projected_normal(torch.zeros(2, 3), torch.zeros(2, 3), num_samples=bad)
    with pytest.raises(ValueError, match=r"\(S, N, D\)"):
        mean_resultant_length(torch.zeros(2, 3))


# ----------------------------------------------------------------------------- uncertainty scores

def test_mean_resultant_length_hand_cases():
    v = torch.nn.functional.normalize(torch.randn(2, 5), dim=-1)
    identical = v[None].expand(4, 2, 5)
    torch.testing.assert_close(mean_resultant_length(identical), torch.ones(2))
    opposite = torch.stack([v, -v, v, -v])
    torch.testing.assert_close(mean_resultant_length(opposite), torch.zeros(2))
    # e1 and e2: |(e1 + e2) / 2| = 1 / sqrt(2)
    two = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])
    assert mean_resultant_length(two).item() == pytest.approx(1 / math.sqrt(2))


def test_uncertainty_scores_order_posteriors_by_spread():
    mu = torch.tensor([[1.0, 0.0, 0.0]]).repeat(3, 1)
    logvar = torch.tensor([-6.0, -1.0, 2.0])[:, None].repeat(1, 3)
    torch.testing.assert_close(mean_posterior_variance(logvar), torch.exp(torch.tensor([-6.0, -1.0, 2.0])))
    r = mean_resultant_length(sample_projected_normal(mu, logvar, torch.Generator().manual_seed(0), num_samples=256))
    assert r[0] > r[1] > r[2]  # 1 - R grows with the spread
    assert r[0] > 0.99


# ----------------------------------------------------------------------------- head

def test_head_shapes_bounds_and_initial_variance():
    head = VariationalHead(16, 8, logvar_bound=10.0, init_logvar=-4.0)
    mu, logvar = head(torch.randn(5, 16))
    assert mu.shape == logvar.shape == (5, 8)
    torch.testing.assert_close(head(torch.zeros(1, 16))[1], torch.full((1, 8), -4.0))  # bias alone
    _, huge = head(1e4 * torch.randn(5, 16))
    assert huge.abs().max() < 10.0 + 1e-4 and torch.isfinite(torch.exp(huge)).all()
    with pytest.raises(ValueError, match="init_logvar"):
        VariationalHead(4, 2, logvar_bound=3.0, init_logvar=-3.0)
    with pytest.raises(ValueError, match="logvar_bound"):
        VariationalHead(4, 2, logvar_bound=0.0)


def test_head_is_fp32_under_bf16_autocast_and_for_bf16_inputs():
    head = VariationalHead(16, 8)
    h = torch.randn(4, 16)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        mu, logvar = head(h)
        kl = kl_to_standard_normal(mu, logvar)
        z = sample_projected_normal(mu, logvar)
    assert mu.dtype == logvar.dtype == kl.dtype == z.dtype == torch.float32
    reference = head(h)
    torch.testing.assert_close(mu, reference[0]); torch.testing.assert_close(logvar, reference[1])
    mu_b, logvar_b = head(h.bfloat16())
    assert mu_b.dtype == torch.float32
    for f in (kl_to_standard_normal, normalized_kl):
        assert f(mu.bfloat16(), logvar.bfloat16()).dtype == torch.float32
    assert mean_posterior_variance(logvar.bfloat16()).dtype == torch.float32
    assert mean_resultant_length(z[None].bfloat16()).dtype == torch.float32
    # gradients reach both heads through a sample and the KL
    (sample_projected_normal(mu_b, logvar_b).sum() + normalized_kl(mu_b, logvar_b)).backward()
    assert head.mean.weight.grad is not None and head.logvar.weight.grad.abs().sum() > 0
