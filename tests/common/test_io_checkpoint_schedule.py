import os
import random
import stat

import numpy as np
import pytest
import torch

from sslskel.common.checkpoint import capture_rng_state, load_checkpoint, restore_rng_state, save_checkpoint
from sslskel.common.io import atomic_path, atomic_write_json
from sslskel.common.schedule import step_lr
from sslskel.errors import CheckpointError


def test_atomic_write_keeps_old_file_when_interrupted(tmp_path):
    target = tmp_path / "last.pt"
    save_checkpoint(target, {"epoch": 1})
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a checkpoi")
            raise KeyboardInterrupt
    assert load_checkpoint(target)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temp file left


def test_atomic_json(tmp_path):
    atomic_write_json(tmp_path / "a" / "r.json", {"x": 1})
    assert (tmp_path / "a" / "r.json").read_text() == '{\n  "x": 1\n}\n'


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_write_respects_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write_json(tmp_path / "result.json", {"top1": 1.0})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "result.json").stat().st_mode) == mode
    assert os.umask(old) == old  # the writer left the process umask as it found it


def draws():
    return (random.random(), random.gauss(0, 1), np.random.rand(), np.random.randn(), torch.rand(1).item())


def test_rng_state_round_trip_through_a_weights_only_file(tmp_path):
    random.gauss(0, 1), np.random.randn()  # leave a cached Gaussian in both generators
    save_checkpoint(tmp_path / "rng.pt", {"rng": capture_rng_state()})
    first = draws()
    restore_rng_state(load_checkpoint(tmp_path / "rng.pt")["rng"])  # torch.load(weights_only=True)
    assert draws() == first


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope\.pt: file: expected .*, got no such file"):
        load_checkpoint(tmp_path / "nope.pt")


def test_step_lr_matches_a_hand_schedule():
    got = [step_lr(0.1, e, [35, 55], 0.1, warmup_epochs=5) for e in (0, 4, 5, 34, 35, 54, 55)]
    want = [0.02, 0.1, 0.1, 0.1, 0.01, 0.01, 0.001]
    assert np.allclose(got, want)
