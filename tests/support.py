"""Helpers shared by test modules (a plain module: conftest files are not importable by name)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

# The real development set (MSR Action3D) lives beside the checkout, never inside it.
MSR_DIR = Path(os.environ.get("SSLSKEL_MSR_ACTION3D") or REPO.parent / "shared" / "data" / "msr_action3d")
needs_msr = pytest.mark.skipif(
    not MSR_DIR.is_dir(),
    reason=f"MSR Action3D development set not found at {MSR_DIR}: tests on real data need "
           "../shared/data (absent in a user's fresh clone)")


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


TINY_OVERRIDES = [
    "data.frames=16", "data.num_workers=0",
    "encoder.args={hidden_size: 8, num_layers: 1}",
    "moco.queue_size=32", "moco.mlp_hidden=16", "moco.feature_dim=8", "moco.momentum=0.9",
    "optim.batch_size=16", "optim.epochs=2", "optim.milestones=[1]", "optim.lr=0.05",
    "run.progress=false", "run.knn_every=1", "run.log_every=1", "run.checkpoint_every=2",
    "linear.optim.epochs=3", "linear.optim.milestones=[2]", "linear.optim.batch_size=16",
]


def load_script(relative: str):
    """Import an entry-point script (pretrain/run.py ...) as a module, to call its main()."""
    spec = importlib.util.spec_from_file_location(relative.replace("/", "_")[:-3], REPO / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
