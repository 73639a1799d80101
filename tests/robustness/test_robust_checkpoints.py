"""Hostile checkpoint files: they are refused with one line naming the file, and nothing in them runs.

Each payload is a pickle whose `__reduce__` would create a marker file when unpickled;
every test asserts the marker is absent afterwards.
"""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
import torch

from sslskel.common.checkpoint import (
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
    upgrade_checkpoint,
)
from sslskel.common.checkpoint import main as checkpoint_main
from sslskel.errors import CheckpointError

from support import load_script


class Payload:
    """Unpickling this calls open(marker, "w"): the marker file appears if the code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def evil_checkpoint(path, marker):
    """What an attacker would upload: torch.save of a state with a payload beside real weights."""
    torch.save({"version": 3, "method": {"w": torch.zeros(2)}, "config": {}, "x": Payload(marker)}, path)
    return path


def one_line(error) -> str:
    text = str(error)
    assert "\n" not in text, text
    return text


def test_a_payload_checkpoint_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "PWNED"
    path = evil_checkpoint(tmp_path / "evil.pt", marker)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = one_line(info.value)
    assert message.startswith(f"{path}: file: expected a weights-only sslskel checkpoint")
    assert "a pickle that would run code when loaded" in message and "(it references io.open)" in message
    assert not marker.exists()


@pytest.mark.parametrize("case", ["missing", "directory", "garbage", "truncated", "plain_pickle", "tensor"])
def test_files_that_are_no_checkpoint_are_named(tmp_path, case):
    marker, path = tmp_path / "PWNED", tmp_path / "ckpt.pt"
    if case == "directory":
        path.mkdir()
    elif case == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    elif case == "truncated":
        save_checkpoint(path, {"version": 3, "w": torch.zeros(100_000)})
        path.write_bytes(path.read_bytes()[:200_000])
    elif case == "plain_pickle":
        path.write_bytes(pickle.dumps({"x": Payload(marker)}))
    elif case == "tensor":
        torch.save(torch.zeros(3), path)
    got = {"missing": "no such file", "directory": "a directory", "garbage": "not a torch.save archive",
           "truncated": "truncated by a crash", "plain_pickle": "a plain pickle",
           "tensor": "a torch file holding a Tensor"}[case]
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = one_line(info.value)
    assert message.startswith(f"{path}: file: expected a weights-only sslskel checkpoint") and got in message
    assert not marker.exists()


def old_style_checkpoint(path):
    """A checkpoint as sslskel wrote it before weights-only: numpy arrays in the RNG state."""
    rng = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    state = {"version": 2, "epoch": 1, "method": {"w": torch.arange(3.0)}, "rng": rng}
    torch.save(state, path)
    return path


def test_an_old_checkpoint_is_refused_with_advice_and_upgrades_exactly(tmp_path, capsys):
    path = old_style_checkpoint(tmp_path / "old.pt")
    draws = (random.random(), np.random.rand(), torch.rand(1).item())  # what its RNG state gives
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = one_line(info.value)
    assert message.startswith(f"{path}: file:") and "written by an older sslskel" in message
    assert "not weights-only" in message and f"python -m sslskel.common.checkpoint upgrade {path}" in message

    assert checkpoint_main(["upgrade", str(path)]) == 0
    assert "upgraded" in capsys.readouterr().out
    state = torch.load(path, weights_only=True)  # plain torch can read it weights-only now
    assert state["version"] == 3 and torch.equal(state["method"]["w"], torch.arange(3.0))
    restore_rng_state(state["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == draws
    assert upgrade_checkpoint(path) is False  # already weights-only


def test_upgrade_refuses_a_payload(tmp_path, capsys):
    marker = tmp_path / "PWNED"
    path = evil_checkpoint(tmp_path / "evil.pt", marker)
    assert checkpoint_main(["upgrade", str(path)]) == 2
    assert "would run code" in capsys.readouterr().err and not marker.exists()


def test_saving_a_state_that_would_not_load_weights_only_fails_at_once(tmp_path):
    with pytest.raises(TypeError, match=r"state\['history'\]\[0\]\['top1'\]: numpy.float64"):
        save_checkpoint(tmp_path / "x.pt", {"history": [{"top1": np.float64(1.0)}],
                                            "rng": capture_rng_state()})
    assert not list(tmp_path.iterdir())  # nothing written, no temporary file left


def metrics_only_run(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"step": 1, "train/loss": 1.0}\n')
    (run / "config.yaml").write_text("method: moco\n")
    return run


@pytest.mark.parametrize("entry", ["linear_eval", "semi_sup", "report"])
def test_every_entry_point_refuses_a_payload_checkpoint(tmp_path, capsys, entry):
    marker = tmp_path / "PWNED"
    run = metrics_only_run(tmp_path)
    evil = evil_checkpoint(run / "checkpoints" / "last.pt", marker)
    if entry == "report":
        from sslskel.report import main
        code = main([str(run)])
    else:
        code = load_script(f"{entry}/run.py").main(["--checkpoint", str(evil)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"error: {evil}: file: expected a weights-only sslskel checkpoint" in err
    assert "would run code" in err and not marker.exists()
