import numpy as np
import pytest

from sslskel.data.container import SkeletonData, ntu_meta_from_names, parse_ntu_name, release_mapped_pages
from sslskel.data.errors import DataFormatError


def make(n=6, t=10):
    rng = np.random.default_rng(0)
    names = [f"S{1 + i % 2:03d}C{1 + i % 3:03d}P{10 + i:03d}R001A{1 + i % 4:03d}" for i in range(n)]
    return SkeletonData(rng.normal(size=(n, 3, t, 25, 2)).astype(np.float32), np.full(n, t),
                        np.arange(n) % 4, names, source="train_data_joint.npy")


def test_ntu_names_parse_to_metadata():
    assert parse_ntu_name("S017C003P020R002A060") == dict(setup=17, camera=3, subject=20, replication=2, action=60)
    assert parse_ntu_name("a01_s02_e03_v01") is None
    meta = ntu_meta_from_names(["S001C002P003R001A004", "junk"])
    assert meta["camera"].tolist() == [2, -1]


def test_subset_of_subset_indexes_the_original_rows():
    d = make()
    part = d.subset(np.array([1, 3, 5])).subset(np.array([False, True, True]))
    assert part.index.tolist() == [3, 5] and part.labels.tolist() == [3, 1]
    np.testing.assert_array_equal(part.sample(0), d.data[3])
    assert part.num_classes == 4  # kept even when a split lacks some classes


def test_nan_sample_error_names_file_sample_and_position():
    d = make()
    d.data[2, 1, 4, 7, 0] = np.nan
    with pytest.raises(DataFormatError, match=r"train_data_joint.npy: sample 2 \(S001C003P012R001A003\): "
                                              r"expected finite coordinates, got nan at \(C, T, V, M\) = \(1, 4, 7, 0\)"):
        d.sample(2)
    d.data[2, 1, 4, 7, 0] = np.inf
    with pytest.raises(DataFormatError, match="got inf"):
        d.sample(2)


@pytest.mark.parametrize("change, field", [
    (dict(data=np.zeros((6, 3, 10, 25), np.float32)), "data: expected a 5-D array"),
    (dict(labels=np.arange(5)), "labels: expected 6 entries"),
    (dict(num_frames=np.full(6, 11)), r"num_frames\[0\] \(\w+\): expected values in \[1, 10\], got 11"),
    (dict(labels=np.array([0, 1, -1, 0, 1, 2])), r"labels\[2\] \(\w+\): expected 0-based class ids >= 0, got -1"),
])
def test_inconsistent_fields_are_named(change, field):
    d = make()
    kwargs = dict(data=d.data, num_frames=d.num_frames, labels=d.labels, names=d.names, source=d.source)
    kwargs.update(change)
    with pytest.raises(DataFormatError, match=field):
        SkeletonData(**kwargs)


def test_empty_split_is_an_error():
    d = make().subset(np.zeros(6, bool))
    with pytest.raises(DataFormatError, match="split 'val': expected at least one sample, got 0"):
        d.require_nonempty("val")


def test_release_of_mapped_pages(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.ones((4, 3, 5, 25, 2), np.float32))
    mapped = np.load(path, mmap_mode="r")
    assert release_mapped_pages(mapped.transpose(0, 2, 1, 3, 4))
    assert float(mapped[1].sum()) == 3 * 5 * 25 * 2  # pages come back on the next read
    assert not release_mapped_pages(np.ones(3))
