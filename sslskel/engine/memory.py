"""An estimate of a pretraining run's memory, checked against the machine before allocating.

Once the data is read (its channels, joints and persons are known), and before the method
is built, `check_run_memory` estimates what the run will add:

- the model state: the method built on PyTorch's meta device (no memory) gives its exact
  parameter and buffer counts; parameters count 4 times (weights, gradients and two
  optimiser moments, Adam's; SGD holds fewer);
- one step: optim.batch_size x views x data.frames clip-frames, each holding its input
  (C x V x M floats, 4 copies: the loader's, the augmented views, the modality, the
  gradient) and the encoder's activations. For the GRU these were measured: 12 floats per
  hidden unit, direction and layer (MoCo on MSR Action3D, batch 4, 500 vs 2,000 frames:
  +298 MB for 12,000 clip-frames, 25 KB each, against 25.5 KB estimated). The graph and
  MLP encoders' activations are not modelled, so for them the estimate is a lower bound.

More than the memory available now (`sslskel.data.limits.available_memory`) is refused
with the estimate, naming the settings that drive it.

Example:
    >>> from sslskel.engine.config import load_config
    >>> cfg = load_config(None, ["optim.batch_size=64", "data.frames=64", "data.layout=ntu25"])
    >>> estimate = estimate_run_memory(cfg, channels=3, joints=25, persons=2, views=2)
    >>> round(estimate.step_bytes / 2**20)   # 64 x 2 x 64 clip-frames of a 2 x 128 GRU
    211
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data.limits import available_memory, format_bytes
from ..errors import UserError
from ..methods import build_method

FLOAT_BYTES = 4
PARAMETER_COPIES = 4  # weights, gradients, Adam's two moments
INPUT_COPIES = 4
GRU_FLOATS_PER_UNIT = 12  # per hidden unit, direction and layer, for one clip-frame (measured)


@dataclass(frozen=True)
class MemoryEstimate:
    state_bytes: int  # parameters (x PARAMETER_COPIES) and buffers
    step_bytes: int  # one training step's batch and activations

    @property
    def total(self) -> int:
        return self.state_bytes + self.step_bytes


def model_counts(cfg, channels: int, persons: int) -> tuple[int, int]:
    """(parameters, buffer elements) of the method `cfg` builds, counted on the meta device."""
    with torch.device("meta"):
        method = build_method(cfg, in_channels=channels, num_persons=persons)
    parameters = sum(p.numel() for p in method.parameters())
    buffers = sum(b.numel() for b in method.buffers())
    return parameters, buffers


def activation_floats(encoder_cfg) -> int:
    """Floats of the encoder's activations per clip-frame (0 where not modelled)."""
    if encoder_cfg.name != "gru":
        return 0
    args = encoder_cfg.args
    return GRU_FLOATS_PER_UNIT * 2 * args.get("hidden_size", 1024) * args.get("num_layers", 3)


def estimate_run_memory(cfg, channels: int, joints: int, persons: int, views: int) -> MemoryEstimate:
    parameters, buffers = model_counts(cfg, channels, persons)
    state = FLOAT_BYTES * (PARAMETER_COPIES * parameters + buffers)
    # the whole batch: under torchrun on one machine its processes share that machine's memory
    clip_frames = cfg.optim.batch_size * views * cfg.data.frames
    per_clip_frame = INPUT_COPIES * channels * joints * persons + activation_floats(cfg.encoder)
    return MemoryEstimate(state, FLOAT_BYTES * clip_frames * per_clip_frame)


def check_run_memory(cfg, channels: int, joints: int, persons: int, views: int) -> MemoryEstimate:
    """The estimate; UserError naming the settings when it exceeds the memory available."""
    estimate = estimate_run_memory(cfg, channels, joints, persons, views)
    available = available_memory()
    if available is not None and estimate.total > available:
        raise UserError(
            "optim.batch_size, data.frames, encoder.args", "memory",
            f"a run that fits in the {format_bytes(available)} of memory available",
            f"an estimated {format_bytes(estimate.total)} ({format_bytes(estimate.step_bytes)} per step for "
            f"{cfg.optim.batch_size} clips x {views} views x {cfg.data.frames} frames, "
            f"{format_bytes(estimate.state_bytes)} of model state)")
    return estimate
