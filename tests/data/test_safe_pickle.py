import os
import pickle

import numpy as np
import pytest

from sslskel.data.errors import DataFormatError
from sslskel.data.safe_pickle import allowed_globals, load_pickle


class _RunsShell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _CallsEval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_label_pickle_round_trip(tmp_path, protocol):
    content = (["S001C001P001R001A001", "S002C003P004R002A060"], [np.int64(0), np.int32(59)])
    path = tmp_path / "train_label.pkl"
    path.write_bytes(pickle.dumps(content, protocol=protocol))
    names, labels = load_pickle(path)
    assert names == content[0]
    assert [int(v) for v in labels] == [0, 59]
    assert isinstance(labels[0], np.integer)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_arrays_dicts_and_scalars_load(tmp_path, protocol):
    content = {"split": {"xsub_train": ["a"]}, "annotations": [
        {"frame_dir": "a", "label": 3, "keypoint": np.arange(24, dtype=np.float16).reshape(1, 2, 4, 3),
         "total_frames": 2, "score": np.float32(0.5), "flag": True, "none": None}]}
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(content, protocol=protocol))
    loaded = load_pickle(path)
    kp = loaded["annotations"][0]["keypoint"]
    np.testing.assert_array_equal(kp, content["annotations"][0]["keypoint"])
    assert kp.dtype == np.float16
    assert loaded["annotations"][0]["score"] == np.float32(0.5)


def test_os_system_payload_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil_label.pkl"
    path.write_bytes(pickle.dumps(([_RunsShell(marker)], [0])))
    with pytest.raises(DataFormatError) as err:
        load_pickle(path)
    assert not marker.exists()
    message = str(err.value)
    assert "evil_label.pkl" in message
    assert f"{os.system.__module__}.system" in message  # posix.system on Linux
    assert "numpy" in message and "builtins.list" in message  # lists what is allowed


def test_builtin_eval_is_refused(tmp_path):
    path = tmp_path / "eval.pkl"
    path.write_bytes(pickle.dumps(_CallsEval()))
    with pytest.raises(DataFormatError, match=r"eval\.pkl: pickled global builtins\.eval"):
        load_pickle(path)


def test_truncated_pickle_is_a_data_format_error(tmp_path):
    data = pickle.dumps((["a", "b"], [0, 1]))
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match="cut.pkl: pickle: expected a complete, valid pickle"):
        load_pickle(path)


def test_garbage_is_a_data_format_error(tmp_path):
    path = tmp_path / "garbage.pkl"
    path.write_bytes(b"this is not a pickle at all")
    with pytest.raises(DataFormatError, match="garbage.pkl"):
        load_pickle(path)


def test_allowed_globals_lists_only_data_types():
    allowed = allowed_globals()
    assert "builtins.list" in allowed and "numpy.core.multiarray._reconstruct" in allowed
    assert not any(name.split(".")[-1] in {"system", "eval", "exec", "getattr", "__import__"} for name in allowed)
