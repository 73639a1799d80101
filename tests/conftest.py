"""Shared fixtures: a tiny CMD-layout dataset and a tiny config that trains in seconds."""

from __future__ import annotations

import pytest
import torch

from sslskel.data.prepare import write_cmd_layout
from sslskel.engine.config import load_config

from support import TINY_OVERRIDES, make_tiny_clips

torch.set_num_threads(1)  # CI machines have 2 cores; tests must not fight over them


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
    """A CMD/HaLP folder: 48 train and 24 val clips of 24 frames, 3 classes."""
    root = tmp_path_factory.mktemp("tiny_cmd")
    for split, n, seed in (("train", 48, 0), ("val", 24, 1)):
        data, lengths, labels, names = make_tiny_clips(n, 3, 24, seed)
        write_cmd_layout(root, split, data, num_frames=lengths, labels=labels, names=names)
    return root


@pytest.fixture
def tiny_config(tiny_data_dir, tmp_path):
    def make(*extra: str):
        return load_config(None, [f"data.path={tiny_data_dir}", f"run.out_dir={tmp_path / 'runs'}",
                                  *TINY_OVERRIDES, *extra])
    return make
