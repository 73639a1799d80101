"""The CTR-GCN authors' NW-UCLA input pipeline (their `feeders/feeder_ucla.py`) as transform
steps, for SkeletonGCL's NW-UCLA row (docs/methods.md, SkeletonGCL):

- `CenterOnFirstFrame`: subtract joint 1 (the spine) of the first frame from every frame;
- `RandomViewScale` (training): X @ (Ry Rx S), angles drawn as whole degrees in [-60, 60]
  about x and y, scale U(0.5, 1.5);
- `MinMaxScale`: each axis mapped to [-1, 1] over all frames and joints of the clip;
- `RandomFrames` (training): 52 sorted frame indices drawn without replacement from 100
  copies of every frame index (`random.sample(list(range(L)) * 100, 52)`: frames repeat in
  short clips, are skipped in long ones);
- `UniformFrames` (test): `np.linspace(0, L - 1, 52)` truncated to integers.

The presets `ucla_feeder_train` / `ucla_feeder_eval` chain them as the feeder does. The data are
read as they are (`data.normalize: none`): the feeder does all the normalisation. Only body 0
is used for the centre and the scale; NW-UCLA has one body.

Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(3, 30, 20, 1)).astype(np.float32)
    >>> out, frames = ucla_feeder_train(frames=52)(x, 30, np.random.default_rng(1))
    >>> out.shape, frames, float(out.min()), float(out.max())
    ((3, 52, 20, 1), 52, -1.0, 1.0)
"""

from __future__ import annotations

import numpy as np

from ..layouts import SkeletonLayout
from .base import Compose, Sample, Transform, _check_sample
from .spatial import ToModality


class CenterOnFirstFrame(Transform):
    """Subtract body 0's joint `joint` in the first frame from every valid frame."""

    def __init__(self, joint: int = 1):
        self.joint = int(joint)

    def __call__(self, x, num_frames, rng=None) -> Sample:
        n = _check_sample(x, num_frames, "CenterOnFirstFrame", coordinates=True)
        out = x.copy()
        out[:, :n] -= x[:, 0, self.joint, 0][:, None, None, None]
        return out, num_frames


class RandomViewScale(Transform):
    """The feeder's random view: rotations about x and y by whole degrees in
    [-max_degrees, max_degrees] and a scale U(low, high), as row vectors times Ry Rx S."""

    def __init__(self, max_degrees: int = 60, scale: tuple[float, float] = (0.5, 1.5)):
        self.max_degrees, self.scale = int(max_degrees), (float(scale[0]), float(scale[1]))

    def matrix(self, rng: np.random.Generator) -> np.ndarray:
        ax, ay = np.radians(rng.integers(-self.max_degrees, self.max_degrees + 1, size=2))
        s = rng.uniform(*self.scale)
        rx = np.array([[1, 0, 0], [0, np.cos(ax), np.sin(ax)], [0, -np.sin(ax), np.cos(ax)]])
        ry = np.array([[np.cos(ay), 0, -np.sin(ay)], [0, 1, 0], [np.sin(ay), 0, np.cos(ay)]])
        return ry @ rx @ (s * np.eye(3))

    def __call__(self, x, num_frames, rng) -> Sample:
        n = _check_sample(x, num_frames, "RandomViewScale", coordinates=True)
        out = x.copy()
        # (C, T, V, M) as rows of coordinates times the matrix, as the feeder's np.dot(X, R)
        out[:, :n] = np.einsum("ctvm,cd->dtvm", x[:, :n], self.matrix(rng)).astype(x.dtype)
        return out, num_frames


class MinMaxScale(Transform):
    """Each coordinate axis mapped to [-1, 1] by its minimum and maximum over the valid frames
    and all joints (an axis with no spread maps to 0 instead of dividing by zero)."""

    def __init__(self):
        pass

    def __call__(self, x, num_frames, rng=None) -> Sample:
        n = _check_sample(x, num_frames, "MinMaxScale", coordinates=True)
        valid = x[:, :n].reshape(x.shape[0], -1)
        low, high = valid.min(1), valid.max(1)
        spread = np.where(high > low, high - low, 1.0)
        out = np.zeros_like(x)
        out[:, :n] = ((x[:, :n] - low[:, None, None, None]) / spread[:, None, None, None]) * 2 - 1
        out[:, :n][(high <= low)] = 0.0
        return out, num_frames


class RandomFrames(Transform):
    """`out_frames` sorted indices drawn without replacement from `copies` copies of every
    valid frame index."""

    def __init__(self, out_frames: int = 52, copies: int = 100):
        self.out_frames, self.copies = int(out_frames), int(copies)

    def __call__(self, x, num_frames, rng) -> Sample:
        n = _check_sample(x, num_frames, "RandomFrames")
        if n * self.copies < self.out_frames:
            raise ValueError(f"RandomFrames: {n} frames x {self.copies} copies < {self.out_frames}")
        picks = rng.choice(n * self.copies, size=self.out_frames, replace=False) % n
        return x[:, np.sort(picks)], self.out_frames


class UniformFrames(Transform):
    """`out_frames` indices spread evenly over the valid frames, truncated (np.linspace)."""

    def __init__(self, out_frames: int = 52):
        self.out_frames = int(out_frames)

    def __call__(self, x, num_frames, rng=None) -> Sample:
        n = _check_sample(x, num_frames, "UniformFrames")
        return x[:, np.linspace(0, n - 1, self.out_frames).astype(np.int64)], self.out_frames


def _chain(steps: list, modality: str, layout) -> Compose:
    if modality != "joint":  # the feeder's bone / motion streams come from these joints
        steps.append(ToModality(modality, layout))
    return Compose(steps)


def ucla_feeder_train(frames: int = 52, max_degrees: int = 60, modality: str = "joint",
                      layout: str | SkeletonLayout = "ucla20") -> Compose:
    """The CTR-GCN NW-UCLA training view: centre, random view and scale, min-max, random frames."""
    return _chain([CenterOnFirstFrame(), RandomViewScale(max_degrees), MinMaxScale(), RandomFrames(frames)],
                  modality, layout)


def ucla_feeder_eval(frames: int = 52, modality: str = "joint",
                     layout: str | SkeletonLayout = "ucla20") -> Compose:
    """The CTR-GCN NW-UCLA test view: centre, min-max, evenly spaced frames."""
    return _chain([CenterOnFirstFrame(), MinMaxScale(), UniformFrames(frames)], modality, layout)
