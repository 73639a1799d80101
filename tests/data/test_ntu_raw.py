import warnings

import numpy as np
import pytest

from sslskel.data.errors import DataFormatError
from sslskel.data.ntu_raw import (
    body_energy,
    format_skeleton,
    parse_skeleton_file,
    read_missing_list,
    read_ntu_raw,
    select_bodies,
    write_ntu_skeleton,
)

ID_A, ID_B, ID_C = "72057594037931101", "72057594037931102", "72057594037931103"


def reference_energy(track):
    """Plain loops: sum over x, y, z of the std over the non-zero frames (all joints)."""
    rows = [track[t] for t in range(len(track)) if np.any(track[t] != 0)]
    if not rows:
        return 0.0
    stacked = np.concatenate(rows)  # (frames * 25, 3)
    return sum(float(np.std(stacked[:, c])) for c in range(3))


def test_round_trip_two_bodies_swapped_order_and_empty_frame(tmp_path, rng, random_pose):
    poses = {(t, b): random_pose(rng) for t in range(4) for b in (ID_A, ID_B)}
    frames = [
        [(ID_A, poses[0, ID_A]), (ID_B, poses[0, ID_B])],
        [(ID_B, poses[1, ID_B]), (ID_A, poses[1, ID_A])],  # order in the frame changes
        [],  # bodyCount 0
        [(ID_A, poses[3, ID_A])],
    ]
    path = tmp_path / "S001C001P001R001A001.skeleton"
    write_ntu_skeleton(path, frames)
    raw = parse_skeleton_file(path)
    assert raw.body_ids == [ID_A, ID_B]  # uint64 ids kept exactly, not merged by float rounding
    assert raw.xyz.shape == (2, 4, 25, 3)
    for t in (0, 1, 3):
        np.testing.assert_array_equal(raw.xyz[0, t], poses[t, ID_A])
    np.testing.assert_array_equal(raw.xyz[1, :2], np.stack([poses[0, ID_B], poses[1, ID_B]]))
    assert not raw.xyz[:, 2].any() and not raw.xyz[1, 3].any()


def test_energy_matches_loop_reference_and_three_body_selection(tmp_path, rng, random_pose):
    still = random_pose(rng, scale=0.05)
    frames = []
    for t in range(6):
        frames.append([(ID_A, random_pose(rng, scale=0.3)),       # moderate spread
                       (ID_B, still),                             # no motion, small spread
                       (ID_C, random_pose(rng, scale=1.0))])      # largest spread
    path = tmp_path / "S001C001P001R001A002.skeleton"
    write_ntu_skeleton(path, frames)
    raw = parse_skeleton_file(path)
    energy = body_energy(raw.xyz)
    np.testing.assert_allclose(energy, [reference_energy(track) for track in raw.xyz], rtol=1e-6)
    kept = select_bodies(raw)
    assert kept.shape == (3, 6, 25, 2)
    order = np.argsort(-energy)[:2]
    assert list(order) == [2, 0]
    np.testing.assert_array_equal(kept[..., 0], raw.xyz[2].transpose(2, 0, 1))
    np.testing.assert_array_equal(kept[..., 1], raw.xyz[0].transpose(2, 0, 1))


def test_bodies_beyond_max_read_are_ignored(tmp_path, rng, random_pose):
    ids = [str(72057594037931100 + k) for k in range(5)]
    frames = [[(i, random_pose(rng, scale=0.1 + k)) for k, i in enumerate(ids)] for _ in range(3)]
    path = tmp_path / "S001C001P001R001A003.skeleton"
    write_ntu_skeleton(path, frames)
    raw = parse_skeleton_file(path)
    kept = select_bodies(raw, max_bodies_read=4, bodies_kept=2)
    # the 5th body has the most energy but is not read
    np.testing.assert_array_equal(kept[..., 0], raw.xyz[3].transpose(2, 0, 1))


def test_body_absent_from_some_frames_has_energy_over_its_frames_only(rng, random_pose):
    track = np.zeros((1, 5, 25, 3), np.float32)
    track[0, 1:3] = np.stack([random_pose(rng), random_pose(rng)])
    assert body_energy(track)[0] == pytest.approx(reference_energy(track[0]), rel=1e-6)


def test_read_directory_labels_names_meta_and_missing_list(tmp_path, rng, random_pose):
    names = ["S001C001P001R001A001", "S002C003P008R002A060", "S001C002P001R001A013"]
    for k, name in enumerate(names):
        write_ntu_skeleton(tmp_path / f"{name}.skeleton", [[(ID_A, random_pose(rng))]] * (k + 2))
    missing = tmp_path / "missing.txt"
    missing.write_text("The following samples have missing skeletons.\nPlease ignore them.\n\n"
                       "S001C002P001R001A013\n")
    assert read_missing_list(missing) == {"S001C002P001R001A013"}
    bare = tmp_path / "bare.txt"  # a list without the prose header loses no name
    bare.write_text("S001C002P001R001A013\nS001C001P001R001A001.skeleton\n")
    assert read_missing_list(bare) == {"S001C002P001R001A013", "S001C001P001R001A001"}
    bare.write_text("header\n\n\nS001C002P001R001A013\nnot-a-name\n")
    with pytest.raises(DataFormatError, match="bare.txt: line 5: expected a sample name"):
        read_missing_list(bare)
    data = read_ntu_raw(tmp_path, max_frames=10, missing_file=missing)
    assert data.names == sorted(names[:2])
    assert data.labels.tolist() == [0, 59]
    assert data.num_frames.tolist() == [2, 3]
    assert data.data.shape == (2, 3, 10, 25, 2) and data.data.dtype == np.float32
    assert data.meta["camera"].tolist() == [1, 3] and data.meta["setup"].tolist() == [1, 2]
    assert not data.data[:, :, 3:].any() and not data.data[..., 1].any()


def test_frames_beyond_max_frames_are_cut_with_a_warning(tmp_path, rng, random_pose):
    write_ntu_skeleton(tmp_path / "S001C001P001R001A001.skeleton", [[(ID_A, random_pose(rng))]] * 7)
    with pytest.warns(UserWarning, match="7 frames, keeping the first 5"):
        data = read_ntu_raw(tmp_path, max_frames=5)
    assert data.num_frames.tolist() == [5]


def _valid_text(rng, random_pose, frames=2):
    return format_skeleton([[(ID_A, random_pose(rng))]] * frames)


@pytest.mark.parametrize("mutate, line, expected", [
    (lambda lines: lines[:-3], "line 55", "25 joint lines"),                      # truncated
    (lambda lines: lines[:5] + [" ".join(["0.1", "0.2", "abc"] + lines[5].split()[3:])] + lines[6:],
     "line 6", "non-numeric token 'abc'"),
    (lambda lines: lines[:3] + ["24"] + lines[4:], "line 4", "joint count 25"),
    (lambda lines: [], "line 1", "the frame count"),
    (lambda lines: ["two"] + lines[1:], "line 1", "the frame count"),
    (lambda lines: lines[:2] + ["72057594037931101 0 1"] + lines[3:], "line 3", "body info line"),
    (lambda lines: lines[:10] + ["1 2 3"] + lines[11:], "line 11", "12 numbers"),
    (lambda lines: lines + ["1"], "line 58", "end of file after 2 frames"),
])
def test_bad_files_name_file_line_and_expectation(tmp_path, rng, mutate, line, expected, random_pose):
    lines = _valid_text(rng, random_pose).splitlines()
    assert len(lines) == 57  # 1 + 2 * (1 + 1 + 1 + 25)
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text("\n".join(mutate(lines)) + "\n")
    with pytest.raises(DataFormatError) as err:
        parse_skeleton_file(path)
    message = str(err.value)
    assert str(path) in message and f"{line}:" in message and expected in message


def test_write_is_atomic_and_rejects_bad_shapes(tmp_path, rng, random_pose):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    with pytest.raises(ValueError):
        write_ntu_skeleton(path, [[(ID_A, np.zeros((24, 3)))]])
    assert list(tmp_path.iterdir()) == []


def test_requested_names_must_exist(tmp_path, rng, random_pose):
    write_ntu_skeleton(tmp_path / "S001C001P001R001A001.skeleton", [[(ID_A, random_pose(rng))]])
    with pytest.raises(DataFormatError, match="S001C001P001R001A002"):
        read_ntu_raw(tmp_path, names=["S001C001P001R001A002"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_ntu_raw(tmp_path, names=["S001C001P001R001A001"])) == 1


def test_file_names_must_carry_the_action_code(tmp_path, rng, random_pose):
    write_ntu_skeleton(tmp_path / "clip_0001.skeleton", [[(ID_A, random_pose(rng))]])
    with pytest.raises(DataFormatError, match="file name: expected SsssCcccPpppRrrrAaaa.*'clip_0001'"):
        read_ntu_raw(tmp_path)
