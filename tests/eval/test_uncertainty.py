"""The uncertainty protocol's pieces on a stand-in method whose log-variance grows with the
input's noise and missing joints, so the expected direction is known (AUROC > 0.5, rho > 0)."""

import numpy as np
import pytest
import torch
from torch import nn

from sslskel.data.container import SkeletonData
from sslskel.data.transforms import CenterCrop
from sslskel.errors import UserError
from sslskel.eval.protocols import evaluate
from sslskel.eval.uncertainty import (
    SCORES,
    Corrupted,
    auroc_with_ci,
    check_ood_classes,
    gaussian_joint_noise,
    joint_dropout,
    posterior_scores,
    require_posterior,
    severity_correlation,
    uncertainty_study,
)
from sslskel.methods.variational import mean_resultant_length, sample_projected_normal

from support import make_tiny_clips


class NoiseAwarePosterior(nn.Module):
    """mu: a fixed direction; logvar = log(0.01 + frame-to-frame roughness + fraction of dead joints)."""

    def __init__(self, dim: int = 4):
        super().__init__()
        self.direction = nn.Parameter(torch.ones(dim), requires_grad=False)

    def posterior(self, x, lengths=None):
        x = x.float()
        roughness = (x[:, :, 1:] - x[:, :, :-1]).abs().mean(dim=(1, 2, 3, 4))
        dead = (x[..., 0].abs().sum(dim=(1, 2)) == 0).float().mean(dim=1)
        logvar = torch.log(0.01 + roughness + dead)[:, None].expand(-1, len(self.direction))
        return self.direction.expand(len(x), -1).clone(), logvar.contiguous()


def clip_data(n, seed, noisy=(), very_noisy=()):
    data, lengths, labels, names = make_tiny_clips(n, 3, 24, seed)
    rng = np.random.default_rng(seed + 10)
    for i in [*noisy, *very_noisy]:  # hard clips: strong noise on their valid frames
        std = 0.5 if i in noisy else 2.0
        data[i, :, :lengths[i], :, 0] += std * rng.normal(size=data[i, :, :lengths[i], :, 0].shape)
    return SkeletonData(data, lengths, labels, names)


# -- corruptions against plain loops ---------------------------------------------------------------
def test_gaussian_noise_touches_valid_frames_of_present_persons_only():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 4, 2)).astype(np.float32)
    x[:, 4:] = 0  # 4 valid frames
    x[..., 1] = 0  # the second person is absent
    eps = np.random.default_rng(5).standard_normal(x.shape, dtype=np.float32)
    expected = x.copy()
    for c in range(3):
        for t in range(6):
            for v in range(4):
                for m in range(2):
                    if t < 4 and m == 0:
                        expected[c, t, v, m] += np.float32(0.1) * eps[c, t, v, m]
    got = gaussian_joint_noise(x, 4, 0.1, np.random.default_rng(5))
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == np.float32 and (x[:, 4:] == 0).all()  # input untouched, padding still zero


def test_joint_dropout_zeroes_whole_joints_and_is_nested_across_levels():
    x = np.random.default_rng(1).normal(size=(3, 5, 25, 2)).astype(np.float32)
    u = np.random.default_rng(7).random(25)
    for p in (0.1, 0.3, 0.5):
        expected = x.copy()
        for v in range(25):
            if u[v] < p:
                for c in range(3):
                    for t in range(5):
                        for m in range(2):
                            expected[c, t, v, m] = 0
        np.testing.assert_array_equal(joint_dropout(x, 5, p, np.random.default_rng(7)), expected)
    high = (joint_dropout(x, 5, 0.5, np.random.default_rng(7)) == 0).all(axis=(0, 1, 3))
    low = (joint_dropout(x, 5, 0.1, np.random.default_rng(7)) == 0).all(axis=(0, 1, 3))
    assert (high >= low).all() and high.sum() > low.sum()
    with pytest.raises(ValueError, match="p: expected"):
        joint_dropout(x, 5, 1.5, np.random.default_rng(0))


# -- scores and statistics -------------------------------------------------------------------------
def test_posterior_scores_match_a_direct_computation_and_are_seeded():
    data = clip_data(6, 0)
    method = NoiseAwarePosterior()
    crop = CenterCrop(0.95, 16)
    a = posterior_scores(method, data, crop, num_samples=8, seed=3, batch_size=4)
    b = posterior_scores(method, data, crop, num_samples=8, seed=3, batch_size=4)
    for s in SCORES:
        np.testing.assert_array_equal(a[s], b[s])
    x = torch.stack([torch.from_numpy(np.ascontiguousarray(crop(data.sample(i), data.num_frames[i])[0]))
                     for i in range(6)])
    mu, logvar = method.posterior(x)
    np.testing.assert_allclose(a["mean_posterior_variance"], logvar.double().exp().mean(1).numpy(), rtol=1e-6)
    generator = torch.Generator().manual_seed(3)
    r = torch.cat([mean_resultant_length(sample_projected_normal(mu[i:i + 4].double(), logvar[i:i + 4].double(),
                                                                 generator=generator, num_samples=8))
                   for i in (0, 4)])
    np.testing.assert_allclose(a["one_minus_resultant_length"], 1 - r.numpy(), rtol=1e-9)


def test_severity_correlation_by_hand_and_auroc_interval():
    out = severity_correlation([0, 1], [np.array([1.0, 2.0]), np.array([3.0, 4.0])])
    assert out["mean"] == [1.5, 3.5] and out["rho_of_level_means"] == pytest.approx(1.0)
    assert out["rho"] == pytest.approx(4 / np.sqrt(20))  # ranks x: 1.5 1.5 3.5 3.5, y: 1 2 3 4
    assert severity_correlation([0, 1], [np.ones(2), np.ones(2)])["rho"] is None
    ci = auroc_with_ci([0.9, 0.5, 0.5, 0.1], [True, True, False, False], num=200)
    assert ci["auroc"] == 0.875 and ci["low"] <= ci["auroc"] <= ci["high"] and ci["positives"] == 2
    assert auroc_with_ci([0.1, 0.2], [False, False])["auroc"] is None


def test_corrupted_transform_raises_both_scores():
    data = clip_data(6, 0)
    method, crop = NoiseAwarePosterior(), CenterCrop(0.95, 16)
    clean = posterior_scores(method, data, crop, num_samples=16, seed=0)
    for fn, level in ((gaussian_joint_noise, 0.2), (joint_dropout, 0.5)):
        worse = posterior_scores(method, data, Corrupted(crop, fn, level), num_samples=16, seed=0)
        assert (worse["mean_posterior_variance"] > clean["mean_posterior_variance"]).all()
        assert worse["one_minus_resultant_length"].mean() > clean["one_minus_resultant_length"].mean()


# -- the study -------------------------------------------------------------------------------------
def probe_features(labels, wrong=(), seed=0):
    """One-hot class features; the clips in `wrong` (classes 0 and 1) look like the other one."""
    rng = np.random.default_rng(seed)
    shown = np.array(labels).copy()
    shown[list(wrong)] = 1 - shown[list(wrong)]
    return np.eye(3)[shown] + 0.05 * rng.normal(size=(len(labels), 3))


def test_study_finds_errors_severity_and_ood_in_the_expected_direction():
    hard = [0, 1, 3, 4, 6, 7]  # noisy clips of classes 0 and 1, misclassified by the probe
    ood = [2, 5, 8, 11, 14, 17]  # class 2: noisier still
    test = clip_data(18, 1, noisy=hard, very_noisy=ood)
    train_y = np.arange(30) % 3
    train_x, test_x = probe_features(train_y), probe_features(test.labels, wrong=hard, seed=1)
    out = uncertainty_study(NoiseAwarePosterior(), train_x, train_y, test_x, test.labels, test, CenterCrop(0.95, 16),
                            num_samples=16, seed=0, ood_classes=[2], bootstrap=200)
    assert out["probe"]["errors"] == len(hard) and out["test_samples"] == 12 and out["probe"]["train_samples"] == 20
    for s in SCORES:
        err = out["error_auroc"][s]
        assert err["auroc"] > 0.9 and err["low"] <= err["auroc"] <= err["high"]
        for name in ("gaussian_noise", "joint_dropout"):
            c = out["corruption"][name][s]
            assert len(c["mean"]) == 6 and c["rho"] > 0 and c["rho_of_level_means"] > 0
        assert out["ood"][s]["auroc"] > 0.7 and out["ood"][s]["positives"] == 6
    assert out["corruption"]["gaussian_noise"]["levels"] == [0.0, 0.01, 0.02, 0.05, 0.1, 0.2]
    assert out["ood"]["pretraining_excluded"] is False  # no pretraining_excluded given


def test_ood_classes_are_checked():
    y = np.arange(9) % 3
    assert check_ood_classes([2, 2], y, y, 3) == [2]
    for bad, match in (([3], "0-based ids"), ([0, 1, 2], "left in distribution")):
        with pytest.raises(UserError, match=match):
            check_ood_classes(bad, y, y, 3)
    with pytest.raises(UserError, match="samples in the test split"):
        check_ood_classes([2], y, y[y != 2], 3)


def test_a_run_without_posterior_is_refused(tiny_config):
    cfg = tiny_config()
    with pytest.raises(UserError, match="--protocol uncertainty: method: expected a run of a variational method"):
        require_posterior(cfg, nn.Linear(2, 2))
    with pytest.raises(UserError, match="variational method"):
        evaluate(cfg, nn.Linear(2, 2), protocols=("uncertainty",))
    with pytest.raises(UserError, match="--ood-classes"):
        evaluate(cfg, nn.Linear(2, 2), protocols=("knn",), ood_classes=[1])


def test_study_records_whether_pretraining_left_the_ood_classes_out():
    test = clip_data(18, 1, noisy=[], very_noisy=[2, 5, 8])
    train_y = np.arange(30) % 3
    kw = dict(num_samples=4, seed=0, ood_classes=[2], bootstrap=20)
    args = (NoiseAwarePosterior(), probe_features(train_y), train_y, probe_features(test.labels, seed=1),
            test.labels, test, CenterCrop(0.95, 16))
    assert uncertainty_study(*args, pretraining_excluded=[2, 1], **kw)["ood"]["pretraining_excluded"] is True
    assert uncertainty_study(*args, pretraining_excluded=[1], **kw)["ood"]["pretraining_excluded"] is False
