import numpy as np
import pytest

from sslskel.data.errors import DataFormatError
from sslskel.data.splits import (
    NTU60_XSUB_TRAIN_SUBJECTS,
    NTU120_XSUB_TRAIN_SUBJECTS,
    normalize_split,
    ntu_split_mask,
    parse_pku_split_file,
    ucla_split_mask,
)


def _meta(rng, n=500):
    return {"setup": rng.integers(1, 33, n), "camera": rng.integers(1, 4, n), "subject": rng.integers(1, 107, n)}


def test_subject_lists_are_the_official_ones():
    assert len(NTU60_XSUB_TRAIN_SUBJECTS) == 20 and len(NTU120_XSUB_TRAIN_SUBJECTS) == 53
    assert NTU120_XSUB_TRAIN_SUBJECTS[:20] == NTU60_XSUB_TRAIN_SUBJECTS
    assert max(NTU60_XSUB_TRAIN_SUBJECTS) <= 40 and min(NTU120_XSUB_TRAIN_SUBJECTS[20:]) > 40


@pytest.mark.parametrize("bench", ["xsub", "xview", "xset"])  # "benchmark" is a pytest-benchmark fixture
def test_masks_match_a_loop_reference_and_partition(rng, bench):
    meta = _meta(rng)
    train_subjects = {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38, 45, 46, 47, 49, 50,
                      52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93, 94,
                      95, 97, 98, 100, 103}
    expected = []
    for i in range(len(meta["setup"])):
        if bench == "xsub":
            expected.append(int(meta["subject"][i]) in train_subjects)
        elif bench == "xview":
            expected.append(int(meta["camera"][i]) in (2, 3))
        else:
            expected.append(int(meta["setup"][i]) % 2 == 0)
    train = ntu_split_mask(meta, bench, "train")
    assert train.tolist() == expected
    assert (ntu_split_mask(meta, bench, "val") == ~train).all()
    assert (ntu_split_mask(meta, bench, "test") == ~train).all()


def test_unknown_benchmark_and_split_list_the_valid_ones(rng):
    with pytest.raises(ValueError, match="xsub, xview, xset"):
        ntu_split_mask(_meta(rng), "cross-subject", "train")
    with pytest.raises(ValueError, match="'train', 'val'"):
        normalize_split("validation")


def test_unknown_subject_is_a_data_format_error():
    meta = {"subject": np.array([1, -1]), "camera": np.array([1, 1]), "setup": np.array([1, 1])}
    with pytest.raises(DataFormatError, match="labels.pkl: subject of sample 1"):
        ntu_split_mask(meta, "xsub", "train", source="labels.pkl")


def test_ucla_view_split():
    views = np.array([1, 2, 3, 3, 1])
    assert ucla_split_mask(views, "train").tolist() == [True, True, False, False, True]
    assert ucla_split_mask(views, "test").tolist() == [False, False, True, True, False]


def test_pku_split_file(tmp_path):
    path = tmp_path / "cross-subject.txt"
    path.write_text("Training videos: \n0002-L, 0002-M, 0003-R,\nValidataion videos: \n0001-L, 0001-M\n")
    assert parse_pku_split_file(path) == {"train": ["0002-L", "0002-M", "0003-R"], "val": ["0001-L", "0001-M"]}
    short = tmp_path / "short.txt"
    short.write_text("Training videos:\n0002-L\n")
    with pytest.raises(DataFormatError, match="short.txt: line 3"):
        parse_pku_split_file(short)
