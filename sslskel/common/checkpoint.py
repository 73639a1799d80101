"""Checkpoints: atomic saves and the random-number state that makes resumes exact.

`save_checkpoint` goes through `atomic_path`, so a crash or Ctrl-C during a save leaves the
previous `last.pt` intact and loadable.

Example:
    >>> import tempfile, pathlib, torch
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "last.pt"
    >>> save_checkpoint(p, {"epoch": 3, "rng": capture_rng_state()})
    >>> load_checkpoint(p)["epoch"]
    3
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from .io import atomic_path


def capture_rng_state() -> dict:
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint there")
    # our checkpoints hold RNG states (numpy arrays, tuples): weights_only=False is needed,
    # so only load checkpoints you wrote yourself
    return torch.load(path, map_location=map_location, weights_only=False)
