"""Bounded memory: one input can no longer take the machine down, and the readers' warnings
and errors say which file.

- frames per clip (`data.frames`) are bounded at start-up;
- a text skeleton file's line is read at most `MAX_LINE_BYTES` far (1 GB of NULs with no
  newline reached 5.4 GB);
- a UTD `.mat` whose declared shape holds more than the file can is refused before scipy
  allocates it (a 466 KB file declaring 2,000,000 frames asked for 36 GiB);
- a run whose estimated memory exceeds what the machine has is refused with the estimate;
- UTD's complex `d_skel` and NW-UCLA's list-topped JSON name the file.
"""

from __future__ import annotations

import json
import os
import struct
import tracemalloc
import warnings

import numpy as np
import pytest

from sslskel.data import limits
from sslskel.data.checks import read_number_rows
from sslskel.data.errors import DataFormatError
from sslskel.data.kinect_v1 import read_utd_file
from sslskel.data.limits import MAX_LINE_BYTES, format_bytes, require_memory
from sslskel.data.readers import load_split
from sslskel.engine import memory
from sslskel.engine.config import ConfigError, load_config

from support import TINY_OVERRIDES, load_script


@pytest.fixture(scope="module")
def pretrain_script():
    return load_script("pretrain/run.py")


# -- frames per clip ------------------------------------------------------------------------------------
def test_frames_per_clip_are_bounded():
    assert load_config(None, ["data.frames=10000"]).data.frames == 10000
    with pytest.raises(ConfigError, match=r"^data\.frames: expected an integer in \[1, 10000\], got 100000"):
        load_config(None, ["data.frames=100000"])
    with pytest.raises(ConfigError, match=r"^data\.augment_args\.min_frames: expected an integer in \[1, 10000\]"):
        load_config(None, ["data.augment=small_pretrain", "data.augment_args.min_frames=1000000"])


# -- bytes per line -------------------------------------------------------------------------------------
def msr_folder(root, extra: dict[str, bytes]):
    root.mkdir()
    for name in ("a01_s01_e01", "a02_s03_e01"):
        np.savetxt(root / f"{name}_skeleton3D.txt", np.ones((20 * 3, 4)))
    for name, content in extra.items():
        (root / f"{name}_skeleton3D.txt").write_bytes(content)
    return root


def test_a_line_with_no_end_is_read_only_up_to_the_bound(tmp_path):
    size = 16 * MAX_LINE_BYTES  # 1 MiB of NULs, no newline
    root = msr_folder(tmp_path / "msr", {"a03_s05_e01": b"\0" * size})
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError) as info:
            load_split(root, "train")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(info.value) == (f"{root / 'a03_s05_e01_skeleton3D.txt'}: line 1: expected a line of at most "
                               f"{MAX_LINE_BYTES} bytes, got more than {MAX_LINE_BYTES} bytes without a newline")
    assert peak < size / 2, format_bytes(peak)


@pytest.mark.parametrize("reader", ["ntu skeleton", "ntu missing list", "pku labels", "pku split"])
def test_every_text_reader_bounds_its_lines(tmp_path, reader):
    from sslskel.data.ntu_raw import parse_skeleton_file, read_missing_list
    from sslskel.data.pku import _read_pku_labels
    from sslskel.data.splits import parse_pku_split_file

    read, limit = {"ntu skeleton": (parse_skeleton_file, MAX_LINE_BYTES),
                   "ntu missing list": (read_missing_list, MAX_LINE_BYTES),
                   "pku labels": (_read_pku_labels, MAX_LINE_BYTES),
                   "pku split": (parse_pku_split_file, 2**20)}[reader]
    path = tmp_path / "file.txt"
    path.write_bytes(b"1\n" + b"\0" * (limit + 10))
    with pytest.raises(DataFormatError, match=rf"line 2: expected a line of at most {limit} bytes, got more"):
        read(path)


def test_lines_within_the_bound_read_as_before(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"1 2 3 4\n\n5 6 7 8.5\r\n  9 1e39 nan 0")
    rows = read_number_rows(path, 4, "x y z c")
    assert rows.dtype == np.float32 and rows.shape == (3, 4)
    np.testing.assert_array_equal(rows[:2], [[1, 2, 3, 4], [5, 6, 7, 8.5]])
    assert np.isinf(rows[2, 1]) and np.isnan(rows[2, 2])
    path.write_bytes(b"1 2 3 4\n1 2 x 4\n")
    with pytest.raises(DataFormatError, match=r"line 2: expected 4 numbers \(x y z c\), got a non-numeric token"):
        read_number_rows(path, 4, "x y z c")


def test_a_text_file_larger_than_memory_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "x.txt"
    path.write_bytes(b"1 2 3 4\n" * 1000)
    monkeypatch.setattr(limits, "available_memory", lambda: 1000)
    with pytest.raises(DataFormatError, match=r"x\.txt: file: expected the numbers of this x y z c file to fit in "
                                              r"the 1000 B of memory available, got an estimated 31\.2 KiB"):
        read_number_rows(path, 4, "x y z c")


# -- declared sizes against the file's ----------------------------------------------------------------------
def utd_file(path, frames: int, declared: int | None = None, compress: bool = False, value=1.0):
    from scipy.io import savemat

    savemat(str(path), {"d_skel": np.full((20, 3, frames), value)}, do_compression=compress)
    if declared is not None:
        content = path.read_bytes()
        dims = struct.pack("<iii", 20, 3, frames)
        assert content.count(dims) == 1
        path.write_bytes(content.replace(dims, struct.pack("<iii", 20, 3, declared)))
    return path


def test_a_mat_file_declaring_more_than_it_holds_is_refused_before_allocating(tmp_path):
    path = utd_file(tmp_path / "a1_s1_t1_skeleton.mat", 2000, declared=2_000_000)
    assert os.path.getsize(path) < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError) as info:
            read_utd_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert message.startswith(f"{path}: d_skel: expected a variable that fits in the file"), message
    assert "declared shape (20, 3, 2000000)" in message, message
    assert peak < 2**24, format_bytes(peak)


def test_mat_files_that_hold_what_they_declare_still_read(tmp_path):
    for compress in (False, True):
        path = utd_file(tmp_path / f"a1_s1_t{int(compress) + 1}_skeleton.mat", 50, compress=compress)
        assert read_utd_file(path).shape == (50, 20, 3)
    # a compressed file of zeros holds far more than its size: deflate's ratio is allowed
    path = utd_file(tmp_path / "a2_s1_t1_skeleton.mat", 5000, compress=True, value=0.0)
    assert os.path.getsize(path) * 100 < 20 * 3 * 5000 * 8
    assert read_utd_file(path).shape == (5000, 20, 3)


def test_a_split_padded_past_the_memory_is_refused_naming_its_shape(tmp_path, monkeypatch):
    """One long clip pads every other one to its length: the padded array is checked first."""
    root = tmp_path / "msr"
    root.mkdir()
    for i in range(20):  # odd subjects: the training split; clip 0 is 400 frames, the others 2
        np.savetxt(root / f"a01_s01_e{i + 1:02d}_skeleton3D.txt", np.ones((20 * (400 if i == 0 else 2), 4)),
                   fmt="%.1f")
    monkeypatch.setattr(limits, "available_memory", lambda: 1_500_000)
    with pytest.raises(DataFormatError) as info:
        load_split(root, "train")
    assert str(info.value) == (f"{root}: samples: expected the clips (20, 3, 400, 20, 1) (padded to the longest) "
                               "to fit in the 1.4 MiB of memory available, got an estimated 1.8 MiB")


def test_a_clip_longer_than_the_frame_limit_is_refused_naming_the_file(tmp_path):
    path = utd_file(tmp_path / "a1_s1_t1_skeleton.mat", 10_001, compress=True)
    assert os.path.getsize(path) < 2**16  # a small compressed file that declares a long clip
    with pytest.raises(DataFormatError, match=r"a1_s1_t1_skeleton\.mat: d_skel: expected a clip of at most 10000 "
                                              r"frames, got 10001 frames"):
        read_utd_file(path)
    root = msr_folder(tmp_path / "msr", {})
    np.savetxt(root / "a03_s05_e01_skeleton3D.txt", np.ones((20 * 10_001, 4)), fmt="%.0f")
    with pytest.raises(DataFormatError, match=r"a03_s05_e01_skeleton3D\.txt: frames: expected a clip of at most"):
        load_split(root, "train")


# -- a run's memory, estimated before allocating ---------------------------------------------------------------
def test_a_run_larger_than_the_machine_is_refused_with_the_estimate(pretrain_script, tiny_data_dir, tmp_path,
                                                                    capsys, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 64 * 2**20)
    out_dir = tmp_path / "runs"
    args = [f"data.path={tiny_data_dir}", f"run.out_dir={out_dir}", *TINY_OVERRIDES, "run.threads=1"]
    code = pretrain_script.main([*args, "data.frames=10000"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: optim.batch_size, data.frames, encoder.args: memory: expected a run that fits in "
                          "the 64.0 MiB of memory available, got an estimated "), err
    assert "16 clips x 2 views x 10000 frames" in err and len(err.splitlines()) == 1, err
    assert not out_dir.exists()


def test_the_estimate_grows_with_the_clip_and_the_model():
    base = ["data.layout=ntu25", "optim.batch_size=8", "encoder.args={hidden_size: 64, num_layers: 1}"]
    small = memory.estimate_run_memory(load_config(None, [*base, "data.frames=50"]), 3, 25, 2, 2)
    long = memory.estimate_run_memory(load_config(None, [*base, "data.frames=500"]), 3, 25, 2, 2)
    assert long.step_bytes == 10 * small.step_bytes and long.state_bytes == small.state_bytes
    # 8 clips x 2 views x 50 frames x (4 x 150 inputs + 12 x 2 x 64 GRU floats) x 4 bytes
    assert small.step_bytes == 8 * 2 * 50 * (4 * 150 + 12 * 2 * 64) * 4
    wide = memory.estimate_run_memory(load_config(None, ["data.layout=ntu25", "encoder.args.hidden_size=4096"]),
                                      3, 25, 2, 2)
    assert wide.state_bytes > 16 * 3 * 4096 * 4096  # the GRU's weights alone, counted without allocating


def test_require_memory_names_what_and_where(monkeypatch):
    monkeypatch.setattr(limits, "available_memory", lambda: 2**30)
    require_memory(2**29, "f", "x")
    with pytest.raises(DataFormatError, match=r"^f: x: expected y to fit in the 1\.0 GiB of memory available, "
                                              r"got an estimated 2\.0 GiB$"):
        require_memory(2**31, "f", "x", "y")


# -- warnings and errors that name the file --------------------------------------------------------------------
def test_complex_d_skel_is_our_warning_naming_the_file(tmp_path):
    path = utd_file(tmp_path / "a1_s1_t1_skeleton.mat", 10, value=1.0 + 0.5j)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        skel = read_utd_file(path)
    assert [type(w.message) for w in caught] == [UserWarning], [str(w.message) for w in caught]
    assert str(caught[0].message) == (f"{path}: d_skel holds complex numbers (largest imaginary part 0.5); "
                                      "reading their real parts")
    assert skel.dtype == np.float32 and np.all(skel == 1.0)


def test_ucla_json_of_a_list_says_what_it_got(tmp_path):
    path = tmp_path / "a01_s01_e01_v01.json"
    path.write_text(json.dumps([[0, 0, 0]]))
    with pytest.raises(DataFormatError) as info:
        load_split(tmp_path, "train", file_format="ucla")
    assert str(info.value) == (f"{path}: top level: expected a JSON object with a 'skeletons' list, "
                               "got a JSON list")
    path.write_text(json.dumps({"frames": []}))
    with pytest.raises(DataFormatError, match=r"skeletons: expected .*, got no such key \(keys: frames\)"):
        load_split(tmp_path, "train", file_format="ucla")
