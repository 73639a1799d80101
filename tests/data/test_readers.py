import json
import os
import pickle

import numpy as np
import pytest

from sslskel.data.errors import DataFormatError
from sslskel.data.ntu_raw import write_ntu_skeleton
from sslskel.data.pyskl import read_pyskl
from sslskel.data.readers import check_finite, detect_format, last_nonzero_frames, load_split

NAMES = ["S001C001P001R001A001", "S001C002P002R001A002", "S002C003P003R002A003",
         "S003C001P005R001A004", "S004C002P008R002A005"]


def _dump_labels(path, names, labels):
    with open(path, "wb") as f:
        pickle.dump((list(names), list(labels)), f)


def _sequences(rng, n=5, t=20, v=25, m=2, lengths=(20, 13, 7, 1, 16)):
    """Random (N, 3, T, V, M) data, zero after each sample's length."""
    x = rng.normal(size=(n, 3, t, v, m)).astype(np.float32)
    for i, length in enumerate(lengths[:n]):
        x[i, :, length:] = 0
    return x, np.array(lengths[:n])


def _write_cmd(directory, split, x, frames, names=NAMES, labels=(0, 1, 2, 3, 4)):
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / f"{split}_data_joint.npy", x)
    np.save(directory / f"{split}_num_frame.npy", frames)
    _dump_labels(directory / f"{split}_label.pkl", names, [np.int64(v) if isinstance(v, int) else v for v in labels])


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- CMD / ST-GCN / AimCLR -------------------------------------------------------------------
def test_cmd_layout_is_memory_mapped_and_exact(tmp_path, rng):
    x, frames = _sequences(rng)
    _write_cmd(tmp_path, "train", x, frames)
    data = load_split(tmp_path, "train")
    assert isinstance(data.data, np.memmap)
    assert data.layout == "ntu25" and data.source.endswith("train_data_joint.npy")
    assert data.names == NAMES and data.labels.tolist() == [0, 1, 2, 3, 4]
    assert data.num_frames.tolist() == frames.tolist()
    assert data.meta["subject"].tolist() == [1, 2, 3, 5, 8]
    for i in range(len(x)):
        np.testing.assert_array_equal(data.sample(i), x[i])


def test_benchmark_subdirectory_is_entered(tmp_path, rng):
    x, frames = _sequences(rng)
    _write_cmd(tmp_path / "xview", "val", x, frames)
    assert len(load_split(tmp_path, "test", benchmark="xview")) == 5


def test_stgcn_num_frames_from_the_last_non_zero_frame(tmp_path, rng):
    x, frames = _sequences(rng)
    x[1, :, 5] = 0  # an inner empty frame does not shorten the sample
    np.save(tmp_path / "val_data.npy", x)
    _dump_labels(tmp_path / "val_label.pkl", NAMES, range(5))
    data = load_split(tmp_path, "val")
    assert detect_format(tmp_path, "val") == "stgcn"
    assert data.num_frames.tolist() == frames.tolist()
    # the chunked pass agrees with a per-sample loop for any chunk size
    expected = [max(t for t in range(x.shape[2]) if x[i, :, t].any()) + 1 for i in range(5)]
    assert last_nonzero_frames(x, chunk=2).tolist() == expected


def test_aimclr_layout_needs_50_frames(tmp_path, rng):
    x, _ = _sequences(rng, t=50, lengths=(50, 50, 50, 50, 50))
    np.save(tmp_path / "train_position.npy", x)
    _dump_labels(tmp_path / "train_label.pkl", NAMES, range(5))
    data = load_split(tmp_path, "train")
    assert detect_format(tmp_path, "train") == "aimclr"
    assert data.num_frames.tolist() == [50] * 5
    np.testing.assert_array_equal(data.sample(3), x[3])
    np.save(tmp_path / "train_position.npy", x[:, :, :40])
    with pytest.raises(DataFormatError, match="train_position.npy: data: expected T"):
        load_split(tmp_path, "train")


def test_all_zero_sample_gets_one_frame_with_a_warning(tmp_path, rng):
    x, _ = _sequences(rng)
    x[2] = 0
    np.save(tmp_path / "train_data.npy", x)
    _dump_labels(tmp_path / "train_label.pkl", NAMES, range(5))
    with pytest.warns(UserWarning, match="1 samples have no non-zero frame"):
        assert load_split(tmp_path, "train").num_frames[2] == 1


# -- CTR-GCN ---------------------------------------------------------------------------------
def _ctrgcn_x(x):
    """Reference flattening: per frame body 1 25x3 then body 2 25x3."""
    n, c, t, v, m = x.shape
    out = np.zeros((n, t, m * v * c), np.float32)
    for i in range(n):
        for f in range(t):
            out[i, f] = [x[i, ch, f, j, b] for b in range(m) for j in range(v) for ch in range(c)]
    return out


@pytest.mark.parametrize("compressed", [False, True])
def test_ctrgcn_npz(tmp_path, rng, compressed):
    x, frames = _sequences(rng)
    x_test, _ = _sequences(rng, n=3)
    y = np.eye(5)[[4, 0, 1, 2, 3]]
    path = tmp_path / "NTU60_CS.npz"
    save = np.savez_compressed if compressed else np.savez
    save(path, x_train=_ctrgcn_x(x), y_train=y, x_test=_ctrgcn_x(x_test), y_test=np.eye(5)[[1, 1, 2]])
    def load(split):
        if not compressed:
            return load_split(path, split)
        with pytest.warns(UserWarning, match="compressed"):
            return load_split(path, split)

    data = load("train")
    if not compressed:
        assert isinstance(data.data.base, np.memmap)  # a transposed view on the mapped member
    assert data.data.shape == (5, 3, 20, 25, 2)
    np.testing.assert_array_equal(np.asarray(data.data), x)
    assert data.labels.tolist() == [4, 0, 1, 2, 3]
    assert data.num_frames.tolist() == frames.tolist()
    test = load("test")
    assert test.labels.tolist() == [1, 1, 2]
    np.testing.assert_array_equal(test.sample(1), x_test[1])


def test_ctrgcn_rejects_soft_labels_and_wrong_width(tmp_path, rng):
    x, _ = _sequences(rng)
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=_ctrgcn_x(x), y_train=np.full((5, 5), 0.2))
    with pytest.raises(DataFormatError, match="bad.npz: y_train: expected one-hot"):
        load_split(path, "train")
    np.savez(path, x_train=_ctrgcn_x(x)[:, :, :144], y_train=np.eye(5))
    with pytest.raises(DataFormatError, match="bad.npz: x_train: expected shape"):
        load_split(path, "train")
    np.savez(path, x_train=_ctrgcn_x(x), y_train=np.eye(5))
    with pytest.raises(DataFormatError, match="bad.npz: x_test: expected a member x_test.npy"):
        load_split(path, "val")


# -- PySKL -----------------------------------------------------------------------------------
def test_pyskl_annotations(tmp_path, rng):
    keypoints = [rng.normal(size=(2, 9, 25, 3)).astype(np.float16), rng.normal(size=(1, 4, 25, 3)).astype(np.float16),
                 rng.normal(size=(3, 6, 25, 3)).astype(np.float16)]
    names = NAMES[:3]
    content = {"split": {"xsub_train": [names[2], names[0]], "xsub_val": [names[1]]},
               "annotations": [{"frame_dir": n, "label": k + 10, "keypoint": kp, "total_frames": kp.shape[1]}
                               for k, (n, kp) in enumerate(zip(names, keypoints))]}
    path = tmp_path / "ntu60_3danno.pkl"
    path.write_bytes(pickle.dumps(content))
    data = load_split(path, "train", benchmark="xsub")
    assert data.names == [names[2], names[0]] and data.labels.tolist() == [12, 10]
    assert data.num_frames.tolist() == [6, 9] and data.data.shape == (2, 3, 9, 25, 2)
    expected = np.zeros((3, 9, 25, 2), np.float32)
    for m in range(2):  # the third body of sample 2 is dropped
        for t in range(6):
            expected[:, t, :, m] = keypoints[2][m, t].T
    np.testing.assert_array_equal(data.data[0], expected)
    val = load_split(path, "val")
    assert not val.data[0, :, :, :, 1].any()
    with pytest.raises(DataFormatError, match="ntu60_3danno.pkl: split: expected a key 'xset_train'"):
        read_pyskl(path, "train", "xset")


# -- NW-UCLA ---------------------------------------------------------------------------------
def test_ucla_json_directory(tmp_path, rng):
    sequences = {}
    for name, t in (("a01_s01_e00_v01", 5), ("a12_s02_e01_v02", 3), ("a08_s03_e02_v03", 4)):
        sequences[name] = rng.normal(size=(t, 20, 3)).round(4)
        (tmp_path / f"{name}.json").write_text(json.dumps({"file_name": name,
                                                           "skeletons": sequences[name].tolist()}))
    train = load_split(tmp_path, "train")
    assert train.layout == "ucla20" and train.names == ["a01_s01_e00_v01", "a12_s02_e01_v02"]
    assert train.labels.tolist() == [0, 9] and train.num_classes == 10
    assert train.meta["camera"].tolist() == [1, 2] and train.meta["subject"].tolist() == [1, 2]
    assert train.meta["replication"].tolist() == [0, 1]
    assert train.data.shape == (2, 3, 5, 20, 1)
    np.testing.assert_allclose(train.data[1, :, :3, :, 0], sequences["a12_s02_e01_v02"].transpose(2, 0, 1),
                               rtol=1e-6)
    test = load_split(tmp_path, "test")  # a08 is the 7th action: label 6
    assert test.labels.tolist() == [6] and test.num_frames.tolist() == [4]
    (tmp_path / "a07_s01_e00_v01.json").write_text(json.dumps({"skeletons": sequences["a01_s01_e00_v01"].tolist()}))
    with pytest.raises(DataFormatError, match="a07_s01_e00_v01.json: action"):
        load_split(tmp_path, "train")
    (tmp_path / "a07_s01_e00_v01.json").unlink()
    (tmp_path / "a01_s09_e00_v01.json").write_text(json.dumps({"skeletons": [[[0, 0]] * 20]}))
    with pytest.raises(DataFormatError, match=r"a01_s09_e00_v01.json: skeletons: expected shape \[T >= 1\]\[20\]\[3\]"):
        load_split(tmp_path, "train")


# -- PKU-MMD ---------------------------------------------------------------------------------
def test_pku_intervals_become_samples(tmp_path, rng):
    (tmp_path / "skeleton").mkdir()
    (tmp_path / "label").mkdir()
    seqs = {}
    for video, t in (("0002-L", 30), ("0002-M", 25), ("0001-R", 20)):
        seqs[video] = rng.normal(size=(t, 150)).astype(np.float32).round(4)
        np.savetxt(tmp_path / "skeleton" / f"{video}.txt", seqs[video], fmt="%.4f")
    (tmp_path / "label" / "0002-L.txt").write_text("3,2,10,1\n51,12,29,2\n")
    (tmp_path / "label" / "0002-M.txt").write_text("1,0,4,1\n")
    (tmp_path / "label" / "0001-R.txt").write_text("7,5,9,1\n")
    (tmp_path / "cross-subject.txt").write_text("Training videos:\n0002-L, 0002-M\nValidation videos:\n0001-R\n")
    data = load_split(tmp_path, "train")
    assert data.names == ["0002-L_000", "0002-L_001", "0002-M_000"]
    assert data.labels.tolist() == [2, 50, 0] and data.num_frames.tolist() == [9, 18, 5]
    assert data.meta["camera"].tolist() == [1, 1, 2]
    expected = np.zeros((3, 18, 25, 2), np.float32)
    for t in range(18):
        for m in range(2):
            for v in range(25):
                expected[:, t, v, m] = seqs["0002-L"][12 + t, m * 75 + v * 3: m * 75 + v * 3 + 3]
    np.testing.assert_allclose(data.data[1], expected, rtol=1e-6)
    assert load_split(tmp_path, "test").labels.tolist() == [6]
    (tmp_path / "label" / "0001-R.txt").write_text("7,5,99,1\n")
    with pytest.raises(DataFormatError, match="0001-R.txt: line 1: expected an end frame < 20"):
        load_split(tmp_path, "test")
    (tmp_path / "label" / "0001-R.txt").write_text("seven,5,9,1\n")
    with pytest.raises(DataFormatError, match="0001-R.txt: line 1: expected class,start,end"):
        load_split(tmp_path, "test")


# -- raw NTU through load_split ------------------------------------------------------------------
def test_raw_ntu_directory_official_split(tmp_path, rng, random_pose):
    for name in NAMES:
        write_ntu_skeleton(tmp_path / f"{name}.skeleton", [[("72057594037931101", random_pose(rng))]] * 3)
    train = load_split(tmp_path, "train", benchmark="xsub")
    assert train.names == [NAMES[0], NAMES[1], NAMES[3], NAMES[4]]  # subjects 1 2 5 8 train, 3 test
    assert load_split(tmp_path, "val", benchmark="xview").names == [NAMES[0], NAMES[3]]
    with pytest.raises(ValueError, match="xsub, xview, xset"):
        load_split(tmp_path, "val")


# -- validation ------------------------------------------------------------------------------
def test_label_count_mismatch_names_the_label_file(tmp_path, rng):
    x, frames = _sequences(rng)
    _write_cmd(tmp_path, "train", x, frames, names=NAMES[:4], labels=range(4))
    with pytest.raises(DataFormatError, match=r"train_label.pkl: labels: expected 5 entries to match the data "
                                              r"\(train_data_joint.npy: N=5\), got 4"):
        load_split(tmp_path, "train")


def test_num_frame_count_mismatch(tmp_path, rng):
    x, frames = _sequences(rng)
    _write_cmd(tmp_path, "train", x, frames[:3])
    with pytest.raises(DataFormatError, match="train_num_frame.npy: num_frame: expected 5 entries"):
        load_split(tmp_path, "train")


@pytest.mark.parametrize("shape, expected", [((5, 3, 20, 25), "a 5-D array"), ((5, 3, 20, 24, 2), "V"),
                                             ((5, 4, 20, 25, 2), "C")])
def test_wrong_array_shape(tmp_path, rng, shape, expected):
    _write_cmd(tmp_path, "train", np.zeros(shape, np.float32) + 1, np.full(5, 1))
    with pytest.raises(DataFormatError) as err:
        load_split(tmp_path, "train")
    assert "train_data_joint.npy: data: expected" in str(err.value) and expected in str(err.value)


def test_float_labels_are_refused(tmp_path, rng):
    x, frames = _sequences(rng)
    _write_cmd(tmp_path, "train", x, frames, labels=[0, 1, 2.0, 3, 4])
    with pytest.raises(DataFormatError, match=r"train_label.pkl: labels\[2\]: expected an integer class id, got float"):
        load_split(tmp_path, "train")


def test_negative_label_is_refused(tmp_path, rng):
    x, frames = _sequences(rng)
    _write_cmd(tmp_path, "train", x, frames, labels=[0, 1, -1, 3, 4])
    with pytest.raises(DataFormatError, match=r"train_label.pkl: labels\[2\]"):
        load_split(tmp_path, "train")


def test_empty_split(tmp_path):
    _write_cmd(tmp_path, "val", np.zeros((0, 3, 20, 25, 2), np.float32), np.zeros(0, np.int64), names=[], labels=[])
    with pytest.raises(DataFormatError, match="val_data_joint.npy: split 'val': expected at least one sample"):
        load_split(tmp_path, "val")


def test_missing_label_file_and_unknown_format(tmp_path, rng):
    x, frames = _sequences(rng)
    _write_cmd(tmp_path, "train", x, frames)
    (tmp_path / "train_label.pkl").unlink()
    with pytest.raises(DataFormatError, match="train_label.pkl: file: expected a label pickle"):
        load_split(tmp_path, "train")
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(DataFormatError, match="nothing: file format: expected one of cmd"):
        load_split(empty, "train")


def test_check_finite_names_the_first_bad_sample(tmp_path, rng):
    x, frames = _sequences(rng)
    x[3, 1, 0, 7, 0] = np.nan
    x[4, 0, 0, 0, 0] = np.inf
    _write_cmd(tmp_path, "train", x, frames)
    data = load_split(tmp_path, "train")
    expected = (r"train_data_joint.npy: sample 3 \(S003C001P005R001A004\): "
                r"expected finite coordinates, got nan at \(C, T, V, M\) = \(1, 0, 7, 0\)")
    with pytest.raises(DataFormatError, match=expected):
        check_finite(data, chunk=2)
    check_finite(data.subset([0, 1, 2]))
    with pytest.raises(DataFormatError, match="sample 4"):
        check_finite(data.subset([4, 0]))


def test_reading_one_sample_of_a_big_memmap_keeps_rss_flat(tmp_path):
    n = 1200  # 1200 x 180 kB = 216 MB, sparse on disk
    out = np.lib.format.open_memmap(tmp_path / "train_data_joint.npy", mode="w+", dtype=np.float32,
                                    shape=(n, 3, 300, 25, 2))
    out[n // 2] = 1.0
    out.flush()
    del out
    np.save(tmp_path / "train_num_frame.npy", np.full(n, 300))
    _dump_labels(tmp_path / "train_label.pkl", [f"S001C001P{i % 40 + 1:03d}R001A001" for i in range(n)], [0] * n)
    before = _rss_bytes()
    data = load_split(tmp_path, "train")
    sample = data.sample(n // 2)
    grown = _rss_bytes() - before
    assert sample.shape == (3, 300, 25, 2) and (sample == 1).all()
    assert grown < 8 * 2 ** 20, f"RSS grew by {grown / 2 ** 20:.1f} MB"


def test_chunked_passes_over_a_big_memmap_keep_rss_flat(tmp_path):
    n = 1200
    out = np.lib.format.open_memmap(tmp_path / "train_data.npy", mode="w+", dtype=np.float32,
                                    shape=(n, 3, 300, 25, 2))
    out[7, :, :9] = 1.0
    out.flush()
    del out
    _dump_labels(tmp_path / "train_label.pkl", [f"S001C001P001R001A{i % 60 + 1:03d}" for i in range(n)], [0] * n)
    before = _rss_bytes()
    with pytest.warns(UserWarning, match="1199 samples have no non-zero frame"):
        data = load_split(tmp_path, "train")  # ST-GCN: num_frames needs a pass over all data
    check_finite(data)
    grown = _rss_bytes() - before
    assert data.num_frames[7] == 9
    assert grown < 32 * 2 ** 20  # a full mapping would add ~206 MB, f"RSS grew by {grown / 2 ** 20:.1f} MB"
