"""Shared fixtures: a tiny CMD-layout dataset and a tiny config that trains in seconds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sslskel.data.prepare import write_cmd_layout
from sslskel.engine.config import load_config

torch.set_num_threads(1)  # CI machines have 2 cores; tests must not fight over them


def make_tiny_clips(n: int, num_classes: int, frames: int, seed: int):
    """A per-class posture plus smooth motion and noise: learnable under crops, tiny."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % num_classes
    t = np.linspace(0, 1, frames, dtype=np.float32)
    postures = np.random.default_rng(123).normal(size=(num_classes, 3, 1, 25, 1)).astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1, 25, 1))
    data = postures[labels] + 0.3 * np.sin(2 * np.pi * t[None, None, :, None, None] + phase)
    data = data + 0.02 * rng.normal(size=data.shape)
    data = np.concatenate([data, np.zeros_like(data)], axis=4).astype(np.float32)
    lengths = rng.integers(frames // 2, frames + 1, size=n)
    for i, length in enumerate(lengths):
        data[i, :, length:] = 0
    names = [f"S001C001P{i % 7 + 1:03d}R001A{label + 1:03d}" for i, label in enumerate(labels)]
    return data, lengths, labels, names


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
    """A CMD/HaLP folder: 48 train and 24 val clips of 24 frames, 3 classes."""
    root = tmp_path_factory.mktemp("tiny_cmd")
    for split, n, seed in (("train", 48, 0), ("val", 24, 1)):
        data, lengths, labels, names = make_tiny_clips(n, 3, 24, seed)
        write_cmd_layout(root, split, data, num_frames=lengths, labels=labels, names=names)
    return root


TINY_OVERRIDES = [
    "data.frames=16", "data.num_workers=0",
    "encoder.args={hidden_size: 8, num_layers: 1}",
    "moco.queue_size=32", "moco.mlp_hidden=16", "moco.feature_dim=8", "moco.momentum=0.9",
    "optim.batch_size=16", "optim.epochs=2", "optim.milestones=[1]", "optim.lr=0.05",
    "run.progress=false", "run.knn_every=1", "run.log_every=1", "run.checkpoint_every=2",
    "linear.epochs=3", "linear.milestones=[2]", "linear.batch_size=16",
]


@pytest.fixture
def tiny_config(tiny_data_dir, tmp_path):
    def make(*extra: str):
        return load_config(None, [f"data.path={tiny_data_dir}", f"run.out_dir={tmp_path / 'runs'}",
                                  *TINY_OVERRIDES, *extra])
    return make
