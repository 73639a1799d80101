"""Tests for sslskel.data.transforms: each step against a plain reference (loops, the
authors' formulas, torch), plus invariants, reproducibility and input immutability."""

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sslskel.data.errors import DataFormatError
from sslskel.data.layouts import MSR20, NTU25, UCLA20
from sslskel.data.transforms import (
    PRESETS,
    AxisMask,
    BoneScale,
    Center,
    CenterCrop,
    Compose,
    CropResize,
    Flip,
    GaussianBlur,
    GaussianNoise,
    JointCorruption,
    MainAxisRotate,
    PadCrop,
    RandomApply,
    RandomChoice,
    Resize,
    Rotate,
    Shear,
    TimeFlip,
    ToModality,
    build_transform,
    resize_time,
    rotation_matrix,
)


def make_sample(T=40, n=30, V=25, M=2, seed=0, second_body=True):
    """(3, T, V, M) float32 sample with n valid frames and zero padding after."""
    x = np.zeros((3, T, V, M), np.float32)
    x[:, :n] = np.random.default_rng(seed).normal(size=(3, n, V, M))
    if not second_body:
        x[..., 1] = 0
    return x


def rng(seed=1):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------ references

def torch_resize(crop, out_len):
    """The authors' code: F.interpolate bilinear, align_corners=False over (C*V*M, L)."""
    C, L, V, M = crop.shape
    t = torch.tensor(crop, dtype=torch.float).permute(0, 2, 3, 1).contiguous().view(C * V * M, L)
    t = F.interpolate(t[None, :, :, None], size=(out_len, 1), mode="bilinear", align_corners=False)
    t = t.squeeze(3).squeeze(0).contiguous().view(C, V, M, out_len).permute(0, 3, 1, 2)
    return t.numpy()


def loop_resize(crop, out_len):
    """Per output frame: source position (t + 0.5) * L / out - 0.5, clamped, two neighbours."""
    L = crop.shape[1]
    out = np.zeros((crop.shape[0], out_len) + crop.shape[2:], np.float64)
    for t in range(out_len):
        src = max((t + 0.5) * L / out_len - 0.5, 0.0)
        lo = min(int(math.floor(src)), L - 1)
        hi = min(lo + 1, L - 1)
        w = src - lo
        out[:, t] = (1 - w) * crop[:, lo] + w * crop[:, hi]
    return out


TORCH_ATOL = 1e-4


def loop_matrix(matrix, x):
    out = np.zeros(x.shape, np.float64)
    C, T, V, M = x.shape
    for t in range(T):
        for v in range(V):
            for m in range(M):
                out[:, t, v, m] = matrix @ x[:, t, v, m].astype(np.float64)
    return out


# ------------------------------------------------------------------ temporal

@pytest.mark.parametrize("in_len,out_len", [(30, 64), (64, 64), (300, 64), (7, 50), (1, 5), (97, 13)])
def test_resize_time_matches_torch_and_loop(in_len, out_len):
    crop = make_sample(T=in_len, n=in_len)
    ours = resize_time(crop, out_len)
    assert ours.shape == (3, out_len, 25, 2) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, loop_resize(crop, out_len), atol=1e-5)
    # torch computes source positions in float32 (error ~1e-6 * position), we in float64
    np.testing.assert_allclose(ours, torch_resize(crop, out_len), atol=TORCH_ATOL)


@pytest.mark.parametrize("scale,min_frames,n", [((0.1, 1.0), 64, 300), ((0.1, 1.0), 64, 40),
                                                ((0.5, 1.0), 0, 120), ((0.1, 0.2), 0, 3)])
def test_crop_resize_matches_authors_formula(scale, min_frames, n):
    x = make_sample(T=300, n=n)
    for seed in range(5):
        ours, length = CropResize(scale, min_frames, 64)(x, n, rng(seed))
        r = rng(seed)  # replay the same draws with the authors' formula
        ratio = r.uniform(*scale)
        crop_len = min(max(int(np.floor(n * ratio)), min_frames, 1), n)
        start = r.integers(0, n - crop_len + 1)
        expected = torch_resize(x[:, start:start + crop_len], 64)
        assert length == 64 and ours.shape == (3, 64, 25, 2)
        np.testing.assert_allclose(ours, expected, atol=TORCH_ATOL)


def test_crop_window_respects_bounds():
    step = CropResize((0.1, 1.0), min_frames=64, out_frames=64)
    r = rng(3)
    for n in (1, 10, 63, 64, 65, 300):
        for _ in range(50):
            start, length = step.crop_window(n, r)
            assert min(64, n) <= length <= n and 0 <= start and start + length <= n


def test_center_crop_matches_authors_formula_and_is_deterministic():
    n = 101
    x = make_sample(T=300, n=n)
    start = int((1 - 0.95) * n / 2)
    expected = torch_resize(x[:, start:n - start], 64)
    a, la = CenterCrop(0.95, 64)(x, n, rng(0))
    b, lb = CenterCrop(0.95, 64)(x, n, rng(99))
    np.testing.assert_allclose(a, expected, atol=TORCH_ATOL)
    assert la == lb == 64 and np.array_equal(a, b)


def test_resize_uses_all_valid_frames_and_is_identity_at_same_length():
    x = make_sample(T=300, n=80)
    y, n = Resize(50)(x, 80, None)
    np.testing.assert_allclose(y, torch_resize(x[:, :80], 50), atol=TORCH_ATOL)
    z, _ = Resize(50)(y, 50, None)
    np.testing.assert_array_equal(z, y)


def test_pad_crop_matches_aimclr_concatenation():
    x = make_sample(T=50, n=50)
    pad = 50 // 6
    starts = set()
    for seed in range(200):
        ours, n = PadCrop(6)(x, 50, rng(seed))
        start = rng(seed).integers(0, 2 * pad + 1)
        starts.add(int(start))
        padded = np.concatenate((x[:, :pad][:, ::-1], x, x[:, -pad:][:, ::-1]), axis=1)
        assert n == 50
        np.testing.assert_array_equal(ours, padded[:, start:start + 50])
    assert starts == set(range(2 * pad + 1))  # every window, both mirrored ends, was checked


def test_pad_crop_on_padded_sample_keeps_padding_zero():
    x = make_sample(T=60, n=37)
    y, n = PadCrop(6)(x, 37, rng(4))
    assert n == 37 and np.all(y[:, 37:] == 0)
    # every output frame is one of the valid input frames
    flat_in = x[:, :37].transpose(1, 0, 2, 3).reshape(37, -1)
    for t in range(37):
        assert np.any(np.all(flat_in == y[:, t].reshape(-1), axis=1))


def test_time_flip_reverses_valid_frames_only():
    x = make_sample(T=40, n=30)
    y, _ = TimeFlip()(x, 30, None)
    for t in range(30):
        np.testing.assert_array_equal(y[:, t], x[:, 29 - t])
    assert np.all(y[:, 30:] == 0)


# ------------------------------------------------------------------ spatial

def test_shear_matches_explicit_matrix_per_joint_and_keeps_padding_zero():
    x = make_sample(T=12, n=9, V=5)
    y, n = Shear(1.0)(x, 9, rng(7))
    R = Shear(1.0).matrix(rng(7))
    assert np.all(np.diag(R) == 1) and np.all(np.abs(R - np.eye(3)) <= 1.0)
    np.testing.assert_allclose(y, loop_matrix(R, x), atol=1e-5)
    assert n == 9 and np.all(y[:, 9:] == 0)


def test_shear_matches_aimclr_dot_form():
    x = make_sample(T=10, n=10)
    y, _ = Shear(0.5)(x, 10, rng(2))
    R = Shear(0.5).matrix(rng(2))
    aimclr = np.dot(x.transpose([1, 2, 3, 0]), R.T).transpose(3, 0, 1, 2)
    np.testing.assert_allclose(y, aimclr, atol=1e-5)


@pytest.mark.parametrize("seed", range(6))
def test_joint_corruption_matches_reference(seed):
    x = make_sample(T=10, n=8)
    y, n = JointCorruption(15, 0.5)(x, 8, rng(seed))
    r = rng(seed)
    zero_out = r.random() < 0.5
    joints = r.permutation(25)[:15]
    expected = x.astype(np.float64).copy()
    if zero_out:
        expected[:, :, joints] = 0
    else:
        A = r.uniform(-1, 1, size=(3, 3))
        expected[:, :, joints] = loop_matrix(A, x[:, :, joints])
    np.testing.assert_allclose(y, expected, atol=1e-5)
    untouched = np.setdiff1d(np.arange(25), joints)
    np.testing.assert_array_equal(y[:, :, untouched], x[:, :, untouched])
    assert np.all(y[:, 8:] == 0) and n == 8


def test_joint_corruption_takes_both_branches():
    x = make_sample(T=10, n=10)
    zeroed = [np.sum(np.all(JointCorruption()(x, 10, rng(s))[0] == 0, axis=(0, 1, 3))) == 15
              for s in range(40)]
    assert 5 < sum(zeroed) < 35


def test_rotation_matrix_equals_sequential_axis_rotations():
    angles = np.array([0.2, -0.25, 0.1])
    p = np.array([0.3, -1.2, 2.0])
    c, s = np.cos(angles), np.sin(angles)
    # AimCLR applies x, then y, then z rotations one after the other
    rx = np.array([[1, 0, 0], [0, c[0], s[0]], [0, -s[0], c[0]]])
    ry = np.array([[c[1], 0, -s[1]], [0, 1, 0], [s[1], 0, c[1]]])
    rz = np.array([[c[2], s[2], 0], [-s[2], c[2], 0], [0, 0, 1]])
    np.testing.assert_allclose(rotation_matrix(angles) @ p, rz @ (ry @ (rx @ p)))
    R = rotation_matrix(angles)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(R), 1.0)


@pytest.mark.parametrize("step", [Rotate(0.3), MainAxisRotate(30, 1)])
def test_rotations_preserve_bone_lengths_and_padding(step):
    x = make_sample(T=20, n=15)
    y, _ = step(x, 15, rng(5))
    for v, parent in NTU25.bones:
        np.testing.assert_allclose(np.linalg.norm(y[:, :, v] - y[:, :, parent], axis=0),
                                   np.linalg.norm(x[:, :, v] - x[:, :, parent], axis=0), atol=1e-5)
    assert np.all(y[:, 15:] == 0)
    assert not np.allclose(y, x)


def test_rotate_angles_in_range():
    for seed in range(20):
        r = rng(seed)
        angles = r.uniform(-0.3, 0.3, size=3)
        assert np.all(np.abs(angles) <= 0.3)
        e = np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1)  # rotate the unit vectors
        y, _ = Rotate(0.3)(e, 3, rng(seed))
        np.testing.assert_allclose(y[:, :, 0, 0], rotation_matrix(angles), atol=1e-6)


def test_main_axis_rotate_matches_reference_draws():
    e = np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1)
    for seed in range(10):
        y, _ = MainAxisRotate(30, 1)(e, 3, rng(seed))
        r = rng(seed)
        deg = r.uniform(0, 1, size=3)
        main = r.integers(3)
        deg[main] = r.uniform(0, 30)
        assert np.all(deg >= 0) and np.all(deg <= 30)
        np.testing.assert_allclose(y[:, :, 0, 0], rotation_matrix(np.radians(deg)), atol=1e-6)


def test_flip_swaps_pairs_negates_x_and_twice_is_identity():
    x = make_sample(T=10, n=10)
    y, _ = Flip("ntu25")(x, 10, None)
    perm = list(range(25))
    for a, b in NTU25.left_right:
        perm[a], perm[b] = b, a
    for v in range(25):
        np.testing.assert_array_equal(y[0, :, v], -x[0, :, perm[v]])
        np.testing.assert_array_equal(y[1:, :, v], x[1:, :, perm[v]])
    assert perm[4] == 8 and perm[21] == 23  # left/right shoulder, hand tips (0-based)
    z, _ = Flip("ntu25")(y, 10, None)
    np.testing.assert_array_equal(z, x)
    w, _ = Flip(UCLA20, negate_x=False)(make_sample(V=20), 30, None)
    assert w.shape == (3, 40, 20, 2)


def test_center_subtracts_body1_centre_from_present_bodies_only():
    x = make_sample(T=12, n=9)
    x[:, 5:9, :, 1] = 0  # body 2 leaves at frame 5
    y, n = Center("ntu25")(x, 9, None)
    expected = x.copy()
    for t in range(9):
        for m in range(2):
            if np.any(x[:, t, :, m] != 0):
                for v in range(25):
                    expected[:, t, v, m] = x[:, t, v, m] - x[:, t, NTU25.center, 0]
    np.testing.assert_allclose(y, expected, atol=1e-6)
    assert np.all(y[:, :9, NTU25.center, 0] == 0)
    assert np.all(y[:, 5:, :, 1] == 0) and np.all(y[:, 9:] == 0)


def test_axis_mask_zeroes_exactly_one_axis():
    x = make_sample(T=10, n=10)
    for seed in range(6):
        y, _ = AxisMask()(x, 10, rng(seed))
        zero_axes = [c for c in range(3) if np.all(y[c] == 0)]
        assert len(zero_axes) == 1
        kept = [c for c in range(3) if c != zero_axes[0]]
        np.testing.assert_array_equal(y[kept], x[kept])


# ------------------------------------------------------------------ spatio-temporal

def test_gaussian_noise_only_on_valid_frames():
    x = make_sample(T=300, n=200)
    y, _ = GaussianNoise(0.01)(x, 200, rng(0))
    diff = (y - x)[:, :200]
    assert np.all(y[:, 200:] == 0)
    assert abs(diff.std() - 0.01) < 0.0005 and abs(diff.mean()) < 0.0005


@pytest.mark.parametrize("normalize", [True, False])
def test_gaussian_blur_matches_aimclr_convolution(normalize):
    n = 50
    x = make_sample(T=60, n=n)
    y, _ = GaussianBlur(15, (0.1, 2.0), normalize)(x, n, rng(3))
    sigma = rng(3).uniform(0.1, 2.0)
    k = np.exp(-np.arange(-7, 8) ** 2 / (2 * sigma ** 2))
    if normalize:
        k = k / k.sum()
    # AimCLR: conv2d over (M, C, V, T) with per-channel kernel (1, 15) and zero padding 7
    inp = torch.from_numpy(x[:, :n].astype(np.float64)).permute(3, 0, 2, 1)
    weight = torch.from_numpy(k).view(1, 1, 1, 15).repeat(3, 1, 1, 1)
    ref = F.conv2d(inp, weight, padding=(0, 7), groups=3).permute(1, 3, 2, 0).numpy()
    np.testing.assert_allclose(y[:, :n], ref, atol=1e-5)
    assert np.all(y[:, n:] == 0)


def test_normalized_blur_keeps_constant_interior():
    x = np.ones((3, 40, 25, 2), np.float32)
    y, _ = GaussianBlur(15, (1.5, 1.5))(x, 40, rng(0))
    np.testing.assert_allclose(y[:, 7:33], 1.0, atol=1e-5)


def test_to_modality_step():
    x = make_sample(T=20, n=12)
    y, n = ToModality("motion", "ntu25")(x, 12, None)
    assert n == 12 and np.all(y[:, 11:] == 0)
    np.testing.assert_allclose(y[:, 3], x[:, 4] - x[:, 3])
    b, _ = ToModality("bone", NTU25)(x, 12, None)
    assert np.all(b[:, :, 20] == 0)
    with pytest.raises(KeyError, match="valid"):
        ToModality("velocity")


# ------------------------------------------------------------------ composition

def test_random_choice_and_apply_follow_probabilities():
    x = np.ones((3, 4, 25, 1), np.float32)
    zero = JointCorruption(25, p_zero=1.0)  # zeroes everything
    keep = Resize(4)
    choice = RandomChoice([zero, keep], p=(0.2, 0.8))
    zeros = sum(np.all(choice(x, 4, rng(s))[0] == 0) for s in range(500))
    assert 70 < zeros < 130
    apply = RandomApply(zero, p=0.3)
    zeros = sum(np.all(apply(x, 4, rng(s))[0] == 0) for s in range(500))
    assert 110 < zeros < 190
    assert np.all(RandomApply(zero, p=0.0)(x, 4, rng(0))[0] == 1)
    with pytest.raises(ValueError):
        RandomChoice([zero, keep], p=(0.5, 0.6))


def test_compose_repr_is_readable():
    text = repr(build_transform("cmd_pretrain"))
    assert "CropResize(scale=(0.1, 1.0), min_frames=64, out_frames=64)" in text
    assert "JointCorruption(num_joints=15, p_zero=0.5)" in text and "Shear(amount=1.0)" in text
    assert "Flip(layout='ntu25', negate_x=False)" in repr(build_transform("aimclr_extreme"))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_reproducible_shapes_and_input_untouched(name):
    x = make_sample(T=300, n=130)
    original = x.copy()
    aug = build_transform(name)
    frames = 50 if name.startswith("aimclr") else 52 if name.startswith("ucla_feeder") else 64
    a, na = aug(x, 130, rng(11))
    b, nb = aug(x, 130, rng(11))
    assert a.shape == (3, frames, 25, 2) and a.dtype == np.float32 and na == nb == frames
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(x, original)
    assert not np.shares_memory(a, x)
    if name not in ("eval_crop", "ucla_feeder_eval"):  # the test views are deterministic
        outputs = [aug(x, 130, rng(s))[0] for s in range(3)]
        assert not np.array_equal(outputs[0], outputs[1]) or not np.array_equal(outputs[1], outputs[2])


ALL_STEPS = [CropResize(), CenterCrop(), Resize(50), PadCrop(), TimeFlip(), Shear(), JointCorruption(),
             Rotate(), MainAxisRotate(), Flip(), Center(), AxisMask(), GaussianNoise(),
             GaussianBlur(normalize=False), ToModality("bone"), ToModality("motion")]


@pytest.mark.parametrize("step", ALL_STEPS, ids=lambda s: type(s).__name__)
def test_no_step_writes_into_its_input(step):
    x = make_sample(T=80, n=70)
    x.setflags(write=False)  # any in-place write raises
    out, n = step(x, 70, rng(0))
    assert out.dtype == np.float32 and out.shape[0] == 3 and 1 <= n <= out.shape[1]


def test_compose_returns_writable_copy_of_read_only_input():
    x = make_sample(T=20, n=20)
    x.setflags(write=False)
    y, n = Compose([RandomApply(Shear(), p=0.0)])(x, 20, rng(0))
    assert y.flags.writeable and not np.shares_memory(x, y) and n == 20


def test_build_transform_unknown_name_lists_valid_ones():
    with pytest.raises(KeyError, match="cmd_pretrain"):
        build_transform("simclr")


def test_preset_with_modality_appends_step():
    aug = build_transform("eval_crop", modality="bone")
    assert isinstance(aug.steps[-1], ToModality)
    y, _ = aug(make_sample(T=300, n=100), 100, rng(0))
    assert np.all(y[:, :, 20] == 0)


def test_bad_input_raises_data_format_error():
    with pytest.raises(DataFormatError, match="num_frames"):
        CropResize()(make_sample(T=40), 41, rng(0))
    with pytest.raises(DataFormatError, match="num_frames"):
        CenterCrop()(make_sample(T=40), 0, rng(0))
    with pytest.raises(DataFormatError, match=r"\(C, T, V, M\)"):
        Shear()(np.zeros((3, 10, 25)), 5, rng(0))
    with pytest.raises(DataFormatError, match="C=3"):
        Rotate()(np.zeros((2, 10, 25, 2), np.float32), 5, rng(0))
    with pytest.raises(DataFormatError, match="V=25"):
        Flip("ntu25")(make_sample(V=20), 30, None)


def test_transforms_are_deep_copyable():
    # DataLoader workers pickle/copy the dataset and its transform
    aug = build_transform("aimclr_extreme")
    clone = copy.deepcopy(aug)
    x = make_sample(T=300, n=90)
    np.testing.assert_array_equal(aug(x, 90, rng(4))[0], clone(x, 90, rng(4))[0])


# ------------------------------------------------------------------ bone scaling

def loop_bone_scale(x, layout, factors):
    """Plain reference: rebuild each joint from its parent, recursively, with scaled bones."""
    parent = {child: par for child, par in layout.bones}
    out = np.zeros_like(x)

    def place(v):
        if parent[v] == v:
            return x[:, :, v]
        return place(parent[v]) + factors[v] * (x[:, :, v] - x[:, :, parent[v]])

    for v in range(layout.num_joints):
        out[:, :, v] = place(v)
    return out


@pytest.mark.parametrize("layout", [NTU25, MSR20])
def test_bone_scale_matches_recursive_reference_and_keeps_pairs_equal(layout):
    M = 2 if layout is NTU25 else 1
    x = make_sample(T=12, n=12, V=layout.num_joints, M=M)
    step = BoneScale(layout, amount=0.3)
    y, n = step(x, 12, rng(5))
    factors = rng(5).uniform(0.7, 1.3, size=layout.num_joints)
    for a, b in layout.left_right:  # the pair shares the factor of its lower index
        factors[max(a, b)] = factors[min(a, b)]
    np.testing.assert_allclose(y, loop_bone_scale(x, layout, factors), rtol=1e-5, atol=1e-5)
    lengths = lambda z: np.linalg.norm(z - z[:, :, [p for _, p in sorted(layout.bones)]], axis=0)
    ratio = lengths(y) / np.where(lengths(x) == 0, 1, lengths(x))
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:1, :, :1], ratio.shape), rtol=1e-4)  # per bone
    for a, b in layout.left_right:
        np.testing.assert_allclose(ratio[..., a, :], ratio[..., b, :], rtol=1e-4)
    assert n == 12 and not np.allclose(y, x)


def test_bone_scale_zero_amount_is_identity_and_absent_joints_stay_zero():
    x = make_sample(T=10, n=8, V=20, M=1)
    x[:, 3, 5] = 0  # a lost joint
    y, _ = BoneScale(MSR20, amount=0.0)(x, 8, rng())
    np.testing.assert_allclose(y, x, atol=1e-6)
    y, _ = BoneScale(MSR20, amount=0.2)(x, 8, rng())
    assert (y[:, 3, 5] == 0).all() and (y[:, 8:] == 0).all()
    with pytest.raises(ValueError, match="amount"):
        BoneScale(MSR20, amount=1.0)
    with pytest.raises(DataFormatError, match="V=20"):
        BoneScale(MSR20)(make_sample(V=25), 30, rng())


def test_small_pretrain_steps_follow_its_arguments():
    text = repr(build_transform("small_pretrain", frames=32, layout="msr20", bone_scale=0.1, noise_std=0.01))
    assert "CropResize(scale=(0.5, 1.0), min_frames=8, out_frames=32)" in text
    assert "BoneScale(layout='msr20', amount=0.1)" in text and "Rotate(max_angle=0.3)" in text
    assert "JointCorruption(num_joints=6, p_zero=0.5)" in text and "GaussianNoise(std=0.01)" in text
    bare = repr(build_transform("small_pretrain", max_angle=0.0, shear=0.0, p_corrupt=0.0))
    assert "Rotate" not in bare and "Shear" not in bare and "JointCorruption" not in bare
