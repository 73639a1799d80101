import os
import pickle

import numpy as np
import pytest

from sslskel.data import synthetic as S
from sslskel.data.agcn_preprocess import pre_normalize
from sslskel.data.container import ntu_meta_from_names
from sslskel.data.layouts import NTU25
from sslskel.data.ntu_raw import parse_skeleton_file
from sslskel.data.pairs import cross_view_partners
from sslskel.data.splits import NTU60_XSUB_TRAIN_SUBJECTS
from sslskel.data.synthetic import cache as synthetic_cache
from sslskel.data.synthetic import generator as synthetic_generator

# 20 classes so two-person actions (18, 19) are in; subjects 1, 2 train and 3 tests in xsub
TINY = S.SyntheticConfig(num_classes=20, num_subjects=3, num_replications=2, max_frames=120)
CLEAN = S.SyntheticConfig(num_classes=20, num_subjects=2, num_replications=1, noise_std=0.0,
                          occlusion_noise_std=0.0, dropout_prob=0.0)
TWO_PERSON = np.array([a.two_person for a in S.ACTIONS])


@pytest.fixture(scope="module")
def tiny():
    return S.generate(TINY)


@pytest.fixture(scope="module")
def clean():
    return S.generate(CLEAN)


def valid_frames(data, i, body=0):
    """(T_i, 25, 3) joints of one body over the valid frames."""
    return data.data[i, :, : data.num_frames[i], :, body].transpose(1, 2, 0)


def test_shapes_dtypes_and_ranges(tiny):
    n = 3 * 20 * 2 * 3
    assert tiny.data.shape == (n, 3, 120, 25, 2) and tiny.data.dtype == np.float32
    assert len(tiny) == n and tiny.num_classes == 20
    assert tiny.num_frames.min() >= TINY.min_frames and tiny.num_frames.max() <= TINY.max_frames
    assert np.all(np.bincount(tiny.labels, minlength=20) == n // 20)
    frames = np.arange(120)
    padding = frames[None, :] >= tiny.num_frames[:, None]
    assert not tiny.data.transpose(0, 2, 1, 3, 4)[padding].any()
    assert np.isfinite(tiny.data).all()


def test_deterministic_from_seed(tiny):
    again = S.generate(TINY)
    np.testing.assert_array_equal(again.data, tiny.data)
    np.testing.assert_array_equal(again.num_frames, tiny.num_frames)
    assert again.names == tiny.names
    other = S.generate(S.SyntheticConfig(**{**TINY.__dict__, "seed": 1}))
    assert not np.array_equal(other.data, tiny.data)
    assert TINY.digest() != other.source.split(":")[1]


def test_names_parse_to_meta(tiny):
    meta = ntu_meta_from_names(tiny.names)
    for key in meta:
        np.testing.assert_array_equal(meta[key], tiny.meta[key])
    np.testing.assert_array_equal(tiny.meta["action"], tiny.labels + 1)
    assert set(tiny.meta["setup"].tolist()) == {1}
    assert set(tiny.meta["camera"].tolist()) == {1, 2, 3}
    assert set(tiny.meta["subject"].tolist()) == {1, 2, 3}
    assert set(tiny.meta["replication"].tolist()) == {1, 2}
    assert len(set(tiny.names)) == len(tiny.names)


def test_cross_view_partners(tiny):
    partners = cross_view_partners(tiny.meta, len(tiny))
    for i in (0, 7, 100, len(tiny) - 1):
        assert len(partners[i]) == 2
        for j in partners[i]:
            for key in ("subject", "replication", "action", "setup"):
                assert tiny.meta[key][j] == tiny.meta[key][i]
            assert tiny.meta["camera"][j] != tiny.meta["camera"][i]
            assert tiny.num_frames[j] == tiny.num_frames[i]  # recorded at the same time


def test_bone_lengths_constant_per_subject(clean):
    """FK, not independent joints: every NTU bone keeps one length per subject, across frames,
    actions and cameras (noise off)."""
    lengths = {}
    for i in range(0, len(clean), 5):
        p = valid_frames(clean, i)
        bone = np.stack([np.linalg.norm(p[:, v] - p[:, u], axis=-1) for v, u in NTU25.bones], 1)
        np.testing.assert_allclose(bone, np.broadcast_to(bone[:1], bone.shape), atol=2e-5)
        lengths.setdefault(int(clean.meta["subject"][i]), []).append(bone[0])
    for per_subject in lengths.values():
        per_subject = np.stack(per_subject)
        np.testing.assert_allclose(per_subject, np.broadcast_to(per_subject[0], per_subject.shape), atol=2e-5)
    assert not np.allclose(lengths[1][0], lengths[2][0], atol=1e-3)  # subjects differ


def kabsch(a, b):
    """Rotation r and shift t minimising |a @ r.T + t - b| (plain SVD reference)."""
    ca, cb = a.mean(0), b.mean(0)
    u, _, vt = np.linalg.svd((a - ca).T @ (b - cb))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1, 1, d]) @ u.T
    return r, cb - ca @ r.T


def test_cameras_see_one_performance_through_rigid_transforms(clean):
    partners = cross_view_partners(clean.meta, len(clean))
    for i in (0, 3 * 18, 3 * 25):  # a one-person and two two-person performances
        for j in partners[i]:
            bodies = (0, 1) if TWO_PERSON[clean.labels[i]] else (0,)
            a = np.concatenate([valid_frames(clean, i, m).reshape(-1, 3) for m in bodies])
            b = np.concatenate([valid_frames(clean, j, m).reshape(-1, 3) for m in bodies])
            r, t = kabsch(a, b)
            assert np.linalg.det(r) == pytest.approx(1.0)
            np.testing.assert_allclose(a @ r.T + t, b, atol=1e-4)
            assert not np.allclose(a, b, atol=0.05)  # the views really differ


def test_camera_space_is_realistic(tiny):
    spine = tiny.data[:, :, 0, 1, :]  # spine mid of both bodies, first frame: (N, 3, M)
    two = TWO_PERSON[tiny.labels]
    seen = (spine[:, :, 0] != 0).any(1) & ((spine[:, :, 1] != 0).any(1) | ~two)
    centre = np.where(two[:, None], spine.mean(-1), spine[..., 0])[seen]  # of the person / pair
    assert np.all((centre[:, 2] > 2.2) & (centre[:, 2] < 3.8))  # metres in front of the camera
    assert np.all(np.abs(centre[:, 0]) < 1.0) and np.all(np.abs(centre[:, 1]) < 0.6)
    head_above_feet = tiny.data[:, 1, 0, 3, 0] - tiny.data[:, 1, 0, 15, 0]
    live = (tiny.data[:, :, 0, [3, 15], 0] != 0).all((1, 2))
    # standing: 1.4-1.9 m; "stand up" starts seated, leaning forward in some manners: ~1 m
    seated = np.array(S.ACTION_NAMES)[tiny.labels] == "stand up"
    assert np.all(head_above_feet[live & ~seated] > 1.3) and np.all(head_above_feet[live] < 2.0)
    assert np.all(head_above_feet[live & seated] > 0.85)


def test_second_body_only_for_two_person_actions(tiny):
    two = TWO_PERSON[tiny.labels]
    assert two.any() and (~two).any()
    assert not tiny.data[~two, :, :, :, 1].any()
    for i in np.flatnonzero(two):
        body2 = valid_frames(tiny, i, 1)
        assert np.all(np.abs(body2).sum((1, 2)) > 0)


def test_noise_and_dropouts_present(tiny, clean):
    zero_joint = (tiny.data[:, :, :, :, 0] == 0).all(1)  # (N, T, V)
    valid = np.arange(120)[None, :] < tiny.num_frames[:, None]
    dropped = (zero_joint & valid[:, :, None]).any((1, 2))
    assert 0.02 < dropped.mean() < 0.4
    zero_clean = (clean.data[:, :, :, :, 0] == 0).all(1)
    valid_clean = np.arange(150)[None, :] < clean.num_frames[:, None]
    assert not (zero_clean & valid_clean[:, :, None]).any()


def test_action_semantics(clean):
    """A few classes do what their names say (camera 2, y is up)."""
    def mid(label, camera=2):
        i = int(np.flatnonzero((clean.labels == label) & (clean.meta["camera"] == camera))[0])
        start = valid_frames(clean, i)[0]
        middle = valid_frames(clean, i)[clean.num_frames[i] // 2]
        return start, middle

    _, raised = mid(S.ACTION_NAMES.index("raise right hand"))
    assert raised[11, 1] > raised[3, 1] > raised[7, 1]  # right hand above head above left hand
    _, raised = mid(S.ACTION_NAMES.index("raise left hand"))
    assert raised[7, 1] > raised[3, 1] > raised[11, 1]
    start, low = mid(S.ACTION_NAMES.index("squat"))
    assert low[0, 1] < start[0, 1] - 0.2
    start, bent = mid(S.ACTION_NAMES.index("bow"))
    assert bent[3, 1] < start[3, 1] - 0.1


def test_generation_rejects_bad_config():
    with pytest.raises(ValueError):
        S.SyntheticConfig(num_classes=0)
    with pytest.raises(ValueError):
        S.SyntheticConfig(num_classes=len(S.ACTIONS) + 1)
    with pytest.raises(ValueError):
        S.SyntheticConfig(min_frames=100, max_frames=50)


def read_cache(directory, split):
    data = np.load(directory / f"{split}_data_joint.npy")
    frames = np.load(directory / f"{split}_num_frame.npy")
    with open(directory / f"{split}_label.pkl", "rb") as f:
        names, labels = pickle.load(f)
    return data, frames, names, labels


def test_cache_round_trip_and_splits(tiny, tmp_path):
    xsub = S.ensure_synthetic("xsub", TINY, cache_dir=tmp_path)
    assert xsub == tmp_path / f"synthetic-{TINY.digest()}" / "xsub"
    expected = pre_normalize(tiny.data, tiny.num_frames)
    expected *= (np.arange(120)[None, :] < tiny.num_frames[:, None])[:, None, :, None, None]
    row = {name: i for i, name in enumerate(tiny.names)}
    seen = []
    for split in ("train", "val"):
        data, frames, names, labels = read_cache(xsub, split)
        assert data.dtype == np.float32 and data.shape[1:] == (3, 120, 25, 2)
        assert isinstance(names, list) and isinstance(labels, list) and isinstance(labels[0], int)
        idx = np.array([row[n] for n in names])
        np.testing.assert_allclose(data, expected[idx], atol=1e-6)
        np.testing.assert_array_equal(frames, tiny.num_frames[idx])
        np.testing.assert_array_equal(labels, tiny.labels[idx])
        subjects = set(ntu_meta_from_names(names)["subject"].tolist())
        assert (subjects <= set(NTU60_XSUB_TRAIN_SUBJECTS)) == (split == "train")
        seen.append(subjects)
    assert not seen[0] & seen[1]

    xview = S.ensure_synthetic("xview", TINY, cache_dir=tmp_path)
    cams = [set(ntu_meta_from_names(read_cache(xview, s)[2])["camera"].tolist()) for s in ("train", "val")]
    assert cams == [{2, 3}, {1}]
    assert not [p for p in xsub.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_cache_is_reused_and_env_root(tmp_path, monkeypatch):
    monkeypatch.setenv("SSLSKEL_CACHE", str(tmp_path))
    small = S.SyntheticConfig(num_classes=3, num_subjects=3, num_replications=1)
    first = S.ensure_synthetic("xview", small)
    assert first.parent.parent == tmp_path
    monkeypatch.setattr(S, "generate", lambda cfg: pytest.fail("cache was regenerated"))
    assert S.ensure_synthetic("xview", small) == first
    assert S.ensure_synthetic("xsub", small).is_dir()  # both benchmarks were written at once
    with pytest.raises(ValueError):
        S.ensure_synthetic("xset", small)


def test_cache_write_is_atomic(tmp_path, monkeypatch):
    small = S.SyntheticConfig(num_classes=3, num_subjects=3, num_replications=1)
    target = tmp_path / f"synthetic-{small.digest()}" / "xsub"
    real_save, calls = np.save, []

    def failing_save(file, array, *args, **kwargs):
        assert not target.exists()  # nothing visible while writing
        calls.append(file)
        if len(calls) == 2:  # the val split's num_frame file: the train split is already written
            raise OSError("disk full")
        real_save(file, array, *args, **kwargs)

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(OSError):
        S.ensure_synthetic("xsub", small, cache_dir=tmp_path)
    assert not target.exists()
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]


def test_concurrent_writer_that_finished_first_wins(tiny, tmp_path):
    target = tmp_path / "xsub"
    normalized = synthetic_cache.normalized_copy(tiny)
    synthetic_cache.write_benchmark_atomically(target, tiny, normalized, "xsub", TINY)
    before = os.stat(target / "train_data_joint.npy").st_mtime_ns
    synthetic_cache.write_benchmark_atomically(target, tiny, normalized, "xsub", TINY)  # loses the rename race
    assert os.stat(target / "train_data_joint.npy").st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["xsub"]


def test_raw_skeleton_files_round_trip(tiny, tmp_path):
    two_person = int(np.flatnonzero(TWO_PERSON[tiny.labels])[0])
    subset = tiny.subset([0, two_person])
    paths = S.write_raw_skeleton_files(tmp_path, data=subset, limit=5)
    assert [p.name for p in paths] == [f"{n}.skeleton" for n in subset.names]
    for i, path in enumerate(paths):
        raw = parse_skeleton_file(path)
        x = subset.sample(i)[:, : subset.num_frames[i]]  # (3, T, 25, M)
        assert raw.num_frames == subset.num_frames[i]
        assert len(raw.body_ids) == (2 if i == 1 else 1)
        for m in range(len(raw.body_ids)):
            np.testing.assert_allclose(raw.xyz[m], x[..., m].transpose(1, 2, 0), atol=1e-6)


def test_apply_manner_matches_a_plain_loop_and_leaves_idle_frames():
    rng = np.random.default_rng(3)
    angles = np.zeros((2, 10, 25, 3))
    angles[:, 3:7] = rng.normal(size=(2, 4, 25, 3))  # the action: frames 3-6
    gain, offset = synthetic_generator.sample_manners(rng, 4, 5, scale=1.0)
    g, o = gain[[1, 3], 2], offset[[1, 3], 2]
    out = synthetic_generator.apply_manner(angles, g, o)
    for n in range(2):
        peak = max(np.abs(angles[n, t]).max() for t in range(10))
        for t in range(10):
            activity = np.abs(angles[n, t]).max() / peak
            np.testing.assert_allclose(out[n, t], angles[n, t] * g[n] + activity * o[n], atol=1e-12)
    assert not out[:, :3].any() and not out[:, 7:].any()  # idle frames untouched
    assert not np.allclose(out, angles)
    assert (o[:, 0] == 0).all()  # the root is never offset


def test_manner_scale_zero_is_the_plain_action():
    gain, offset = synthetic_generator.sample_manners(np.random.default_rng(0), 3, 4, scale=0.0)
    assert (gain == 1).all() and not offset.any()
