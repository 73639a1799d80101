import pickle

import numpy as np
import pytest

from sslskel.data.agcn_preprocess import pre_normalize
from sslskel.data.errors import DataFormatError
from sslskel.data.ntu_raw import read_ntu_raw, write_ntu_skeleton
from sslskel.data.prepare import main, prepare_ntu, write_cmd_layout
from sslskel.data.readers import load_split
from sslskel.data.splits import ntu_split_mask

# subjects 1, 2 train and 3 test under xsub; cameras 1 (test) and 2 (train) under xview
RAW_NAMES = ["S001C001P001R001A001", "S001C002P002R001A002", "S001C001P003R002A003",
             "S002C002P003R001A004", "S018C001P001R001A061", "S001C002P001R002A005"]


def _write_raw(directory, rng, random_pose):
    directory.mkdir()
    for k, name in enumerate(RAW_NAMES):
        frames = []
        for t in range(4 + k):
            bodies = [("72057594037931101", random_pose(rng))]
            if k % 2:
                bodies.append(("72057594037931102", random_pose(rng, scale=0.5)))
            if k == 3:
                bodies.append(("72057594037931103", random_pose(rng, scale=0.01)))
            frames.append([] if (k == 2 and t == 1) else bodies)
        write_ntu_skeleton(directory / f"{name}.skeleton", frames)


@pytest.mark.parametrize("bench", ["xsub", "xview"])
def test_prepare_round_trip_matches_reader_plus_prenorm(tmp_path, rng, random_pose, bench):
    raw = tmp_path / "raw"
    _write_raw(raw, rng, random_pose)
    counts = prepare_ntu(raw, tmp_path / "out", bench, "ntu60", max_frames=12, chunk=2)
    reference = read_ntu_raw(raw, max_frames=12)
    in_ntu60 = reference.meta["setup"] <= 17
    assert sum(counts.values()) == in_ntu60.sum() == 5
    for split in ("train", "val"):
        loaded = load_split(tmp_path / "out", split)
        mask = in_ntu60 & ntu_split_mask(reference.meta, bench, split)
        expected = reference.subset(mask)
        assert loaded.names == expected.names and loaded.labels.tolist() == expected.labels.tolist()
        assert loaded.num_frames.tolist() == expected.num_frames.tolist()
        np.testing.assert_allclose(np.asarray(loaded.data),
                                   pre_normalize(reference.data[mask], expected.num_frames), atol=1e-6)
        with open(tmp_path / "out" / f"{split}_label.pkl", "rb") as f:
            names, labels = pickle.load(f)
        assert all(type(v) is int for v in labels) and all(type(n) is str for n in names)


def test_cli_and_missing_list(tmp_path, rng, random_pose, capsys):
    raw = tmp_path / "raw"
    _write_raw(raw, rng, random_pose)
    missing = tmp_path / "missing.txt"
    missing.write_text("prose one\nprose two\n\nS001C002P002R001A002\n")
    assert main(["ntu", "--raw", str(raw), "--out", str(tmp_path / "out"), "--benchmark", "xset",
                 "--dataset", "ntu120", "--missing", str(missing), "--max-frames", "20"]) == 0
    assert "train=2 val=3" in capsys.readouterr().out  # setups 2 and 18 train (even)
    train = load_split(tmp_path / "out", "train")
    assert train.names == ["S002C002P003R001A004", "S018C001P001R001A061"]
    assert train.data.shape == (2, 3, 20, 25, 2) and train.labels.tolist() == [3, 60]
    assert "S001C002P002R001A002" not in load_split(tmp_path / "out", "val").names


def test_failure_leaves_nothing_behind(tmp_path, rng, random_pose):
    raw = tmp_path / "raw"
    _write_raw(raw, rng, random_pose)
    bad = raw / "S001C002P001R002A005.skeleton"
    bad.write_text(bad.read_text().replace("25\n", "24\n", 1))
    out = tmp_path / "out"
    with pytest.raises(DataFormatError, match="S001C002P001R002A005.skeleton: line 4: expected joint count 25"):
        prepare_ntu(raw, out, "xsub", chunk=2)
    assert list(out.iterdir()) == []


def test_write_cmd_layout_from_a_subset_and_from_arrays(tmp_path, rng):
    x = rng.normal(size=(6, 3, 8, 25, 2)).astype(np.float32)
    names = [f"S001C001P{i + 1:03d}R001A001" for i in range(6)]
    write_cmd_layout(tmp_path / "a", "train", x, num_frames=np.full(6, 8), labels=np.arange(6), names=names)
    full = load_split(tmp_path / "a", "train")
    part = full.subset([5, 1, 3])
    write_cmd_layout(tmp_path / "b", "val", part, chunk=2)
    again = load_split(tmp_path / "b", "val")
    np.testing.assert_array_equal(np.asarray(again.data), x[[5, 1, 3]])
    assert again.names == [names[5], names[1], names[3]] and again.labels.tolist() == [5, 1, 3]
    with pytest.raises(ValueError, match="6 samples but 5 num_frames"):
        write_cmd_layout(tmp_path / "c", "train", x, num_frames=np.full(5, 8), labels=np.arange(6), names=names)
    assert list((tmp_path / "c").iterdir()) == []
