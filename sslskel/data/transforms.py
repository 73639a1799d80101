"""Skeleton augmentations as small composable steps.

Every step is called as ``step(x, num_frames, rng) -> (x_new, num_frames_new)`` where x is
one float32 sample (C, T, V, M) (C=3 coordinates, M persons, zero padded after
num_frames). Random steps draw only from the `rng` (a numpy Generator) they are given, so
a dataset that makes one Generator per (seed, epoch, sample index) gets reproducible and
resumable augmentation; deterministic steps ignore it. No step writes into its input.
`Compose` chains steps; the presets (`PRESETS`, `build_transform`) are the published
recipes of docs/methods.md (MoCo, SkeletonGCL, Evaluation protocols).

Recipes and where they come from:
- CropResize: CMD/HaLP temporal crop. Crop length = floor(num_frames * U(low, high)),
  at least min(min_frames, num_frames) (the authors' code uses 64), random start, resized
  to out_frames with linear interpolation identical to
  F.interpolate(mode="bilinear", align_corners=False) over (C*V*M, crop) as in their code.
- CenterCrop: start = int((1 - ratio) * num_frames / 2), frames [start, num_frames - start),
  resized the same way (CMD/HaLP and CTR-GCN evaluation crop).
- Shear: identity with the six off-diagonal entries U(-amount, amount), x' = R x.
- JointCorruption: 15 distinct random joints; with p_zero set to 0, otherwise multiplied
  by a random 3x3 matrix with entries U(-1, 1) (CMD's spatial augmentation).
- Rotate: CTR-GCN, angles U(-max_angle, max_angle) rad per axis, R = Rz Ry Rx.
  MainAxisRotate: AimCLR, one random main axis U(0, 30) deg, the others U(0, 1) deg.
- PadCrop: AimCLR temporal crop: pad the valid frames by num_frames // padding_ratio at
  both ends by mirroring (edge frame repeated, like AimCLR's ``x[:, :p][:, ::-1]``), then a
  random window of num_frames frames.
- AimCLR extreme view: shear, spatial flip (p=0.5), rotation, time flip (p=0.5), Gaussian
  noise std 0.01 (p=0.5), Gaussian blur over time kernel 15 sigma U(0.1, 2) (p=0.5), axis
  mask (p=0.5), in that order (AimCLR's ``_strong_aug``).

Deviations and choices (written down as the project asks):
- AimCLR works on data already resized to 50 frames offline. Here the AimCLR presets
  start with `Resize(frames)` (linear, all valid frames) so they accept the usual
  (3, 300, 25, 2) zero padded data; `PadCrop` keeps the length it is given instead of
  taking an `out_frames` argument.
- AimCLR's blur kernel is not normalised (its weights sum to ~1 for sigma 0.1 and ~5 for
  sigma 2, so "blur" also scales the pose). `GaussianBlur(normalize=True)` (default) divides
  by the sum, as a blur should; `normalize=False` reproduces the authors' code.
- Noise and blur touch only the valid frames (AimCLR's data has no padding), so padding
  stays zero. Blur pads with zeros at both ends of the valid frames as AimCLR's conv does.
- AimCLR's spatial flip only swaps left/right joints; `Flip(negate_x=True)` (default) also
  mirrors x so the result is a real mirror image; the AimCLR preset uses negate_x=False.
- `linear_train` keeps the authors' 64-frame lower bound on the crop (their
  crop_subsequence uses it for [0.5, 1] training crops too); pass min_frames=0 to drop it.
- `Center` subtracts body 1's centre joint per frame from every body present in that frame
  (a body is present if any of its coordinates is non-zero), on valid frames only.
- JointCorruption's random matrix multiplies as x' = A x; the authors' code computes
  x' = A^T x, the same distribution since the entries are i.i.d.
- Bad samples raise DataFormatError with the step's name in place of a file name (a step
  does not know which file the sample came from).

Example:
    >>> import numpy as np
    >>> x = np.zeros((3, 300, 25, 2), np.float32)
    >>> x[:, :120] = np.random.default_rng(0).normal(size=(3, 120, 25, 2))
    >>> aug = build_transform("cmd_pretrain", frames=64)
    >>> y, n = aug(x, 120, np.random.default_rng(1))
    >>> y.shape, n, y.dtype
    ((3, 64, 25, 2), 64, dtype('float32'))
    >>> z, _ = aug(x, 120, np.random.default_rng(1))
    >>> bool(np.array_equal(y, z))
    True
"""

from __future__ import annotations

import inspect
import math
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np

from .errors import DataFormatError
from .layouts import SkeletonLayout, get_layout
from .modalities import MODALITIES, bone_parents, to_modality

Sample = tuple[np.ndarray, int]


# --------------------------------------------------------------------------- helpers

def _layout(layout: str | SkeletonLayout) -> SkeletonLayout:
    return get_layout(layout) if isinstance(layout, str) else layout


def _check_sample(x, num_frames, step: str, coordinates: bool = False) -> int:
    """Validate one (C, T, V, M) sample and return num_frames as a Python int."""
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        got = f"shape {getattr(x, 'shape', None)} of type {type(x).__name__}"
        raise DataFormatError(step, "x", "a numpy array of shape (C, T, V, M)", got)
    if coordinates and x.shape[0] != 3:
        raise DataFormatError(step, "x", "3 coordinate channels (C=3)", f"C={x.shape[0]}")
    try:
        n = int(num_frames)
    except (TypeError, ValueError):
        raise DataFormatError(step, "num_frames", "an integer", repr(num_frames)) from None
    if not 1 <= n <= x.shape[1]:
        raise DataFormatError(step, "num_frames", f"an integer in [1, T={x.shape[1]}]", str(n))
    return n


def _as_float32(x: np.ndarray) -> np.ndarray:
    return x if x.dtype == np.float32 else x.astype(np.float32)


@lru_cache(maxsize=1024)
def _linear_indices(in_len: int, out_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source frames and weights of torch's linear interpolation with align_corners=False."""
    src = (np.arange(out_len) + 0.5) * (in_len / out_len) - 0.5
    src = np.maximum(src, 0.0)  # torch clamps negative source positions to the first frame
    left = np.minimum(src.astype(np.int64), in_len - 1)
    right = np.minimum(left + 1, in_len - 1)
    weight = (src - left).astype(np.float32)[None, :, None, None]
    return left, right, weight


def resize_time(x: np.ndarray, out_len: int) -> np.ndarray:
    """Resize (C, L, V, M) to (C, out_len, V, M) along time, as
    F.interpolate(x as (1, 1, C*V*M, L), size=(C*V*M, out_len), mode="bilinear",
    align_corners=False)."""
    left, right, weight = _linear_indices(x.shape[1], out_len)
    x = _as_float32(x)
    return x[:, left] * (1.0 - weight) + x[:, right] * weight


def _apply_matrix(matrix: np.ndarray, x: np.ndarray) -> np.ndarray:
    """x'[:, t, v, m] = matrix @ x[:, t, v, m] for every frame, joint and body."""
    flat = _as_float32(x).reshape(x.shape[0], -1)
    return (matrix.astype(np.float32) @ flat).reshape(x.shape)


def rotation_matrix(angles: Sequence[float]) -> np.ndarray:
    """R = Rz Ry Rx for angles (ax, ay, az) in radians, with CTR-GCN's / AimCLR's sign
    convention (Rx = [[1,0,0],[0,c,s],[0,-s,c]] and so on); x' = R x."""
    (cx, cy, cz), (sx, sy, sz) = np.cos(angles), np.sin(angles)
    rx = np.array([[1, 0, 0], [0, cx, sx], [0, -sx, cx]])
    ry = np.array([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]])
    rz = np.array([[cz, sz, 0], [-sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _short(value) -> str:
    if isinstance(value, SkeletonLayout):
        return repr(value.name)
    return repr(value)


class Transform:
    """Base: a readable repr built from the constructor arguments stored on self."""

    def __call__(self, x: np.ndarray, num_frames: int, rng: np.random.Generator) -> Sample:
        raise NotImplementedError

    def __repr__(self) -> str:
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        args = ", ".join(f"{name}={_short(getattr(self, name))}" for name in names)
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------------------- composition

class Compose(Transform):
    """Apply steps in order. The result is always a fresh float32 array, so a caller may
    write into it without touching the dataset (or its memory map)."""

    def __init__(self, steps: Sequence[Callable]):
        self.steps = tuple(steps)

    def __call__(self, x, num_frames, rng) -> Sample:
        out, n = x, num_frames
        for step in self.steps:
            out, n = step(out, n, rng)
        if out is x or not out.flags.writeable:
            out = out.copy()
        return _as_float32(np.ascontiguousarray(out)), int(n)

    def __repr__(self) -> str:
        if not self.steps:
            return "Compose([])"
        lines = "".join(f"    {step!r},\n" for step in self.steps)
        return f"Compose([\n{lines}])"


class RandomApply(Transform):
    """Apply `step` with probability p, else pass the sample through."""

    def __init__(self, step: Callable, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomApply: p must be in [0, 1]; got {p}")
        self.step, self.p = step, float(p)

    def __call__(self, x, num_frames, rng) -> Sample:
        if rng.random() < self.p:
            return self.step(x, num_frames, rng)
        return x, num_frames


class RandomChoice(Transform):
    """Apply exactly one of `steps`, chosen with probabilities p (uniform if None)."""

    def __init__(self, steps: Sequence[Callable], p: Sequence[float] | None = None):
        if not steps:
            raise ValueError("RandomChoice: needs at least one step")
        if p is not None:
            if len(p) != len(steps) or min(p) < 0 or not math.isclose(sum(p), 1.0):
                raise ValueError(f"RandomChoice: p must be {len(steps)} non-negative numbers "
                                 f"summing to 1; got {p}")
            p = tuple(float(v) for v in p)
        self.steps, self.p = tuple(steps), p
        self._cumulative = None if p is None else np.cumsum(p) / sum(p)

    def choose(self, rng: np.random.Generator) -> int:
        """Index of the step to apply (one uniform draw; rng.choice(p=...) is ~10x slower)."""
        if self._cumulative is None:
            return int(rng.integers(len(self.steps)))
        index = int(np.searchsorted(self._cumulative, rng.random(), side="right"))
        return min(index, len(self.steps) - 1)

    def __call__(self, x, num_frames, rng) -> Sample:
        return self.steps[self.choose(rng)](x, num_frames, rng)


# --------------------------------------------------------------------------- temporal

class CropResize(Transform):
    """CMD/HaLP random temporal crop of the valid frames, resized to out_frames."""

    def __init__(self, scale: tuple[float, float] = (0.1, 1.0), min_frames: int = 64,
                 out_frames: int = 64):
        low, high = scale
        if not 0.0 < low <= high <= 1.0:
            raise ValueError(f"CropResize: scale must satisfy 0 < low <= high <= 1; got {scale}")
        if min_frames < 0 or out_frames < 1:
            raise ValueError(f"CropResize: need min_frames >= 0 and out_frames >= 1; "
                             f"got {min_frames}, {out_frames}")
        self.scale = (float(low), float(high))
        self.min_frames, self.out_frames = int(min_frames), int(out_frames)

    def crop_window(self, num_frames: int, rng: np.random.Generator) -> tuple[int, int]:
        """(start, length) of the crop; exposed so tests and plots can see the window."""
        ratio = rng.uniform(*self.scale)
        length = int(np.floor(num_frames * ratio))
        length = min(max(length, self.min_frames, 1), num_frames)
        start = int(rng.integers(0, num_frames - length + 1))
        return start, length

    def __call__(self, x, num_frames, rng) -> Sample:
        n = _check_sample(x, num_frames, "CropResize")
        start, length = self.crop_window(n, rng)
        return resize_time(x[:, start:start + length], self.out_frames), self.out_frames


class CenterCrop(Transform):
    """Deterministic centre crop of ratio * num_frames valid frames, resized to out_frames."""

    def __init__(self, ratio: float = 0.95, out_frames: int = 64):
        if not 0.0 < ratio <= 1.0 or out_frames < 1:
            raise ValueError(f"CenterCrop: need 0 < ratio <= 1 and out_frames >= 1; "
                             f"got {ratio}, {out_frames}")
        self.ratio, self.out_frames = float(ratio), int(out_frames)

    def __call__(self, x, num_frames, rng=None) -> Sample:
        n = _check_sample(x, num_frames, "CenterCrop")
        start = int((1.0 - self.ratio) * n / 2)
        return resize_time(x[:, start:n - start], self.out_frames), self.out_frames


class Resize(Transform):
    """Resize all valid frames to out_frames (linear), e.g. AimCLR's 50-frame input."""

    def __init__(self, out_frames: int = 50):
        if out_frames < 1:
            raise ValueError(f"Resize: out_frames must be >= 1; got {out_frames}")
        self.out_frames = int(out_frames)

    def __call__(self, x, num_frames, rng=None) -> Sample:
        n = _check_sample(x, num_frames, "Resize")
        return resize_time(x[:, :n], self.out_frames), self.out_frames


class PadCrop(Transform):
    """AimCLR temporal crop: mirror-pad the valid frames by num_frames // padding_ratio at
    both ends, then take a random window of num_frames frames. Padding after num_frames
    (if any) stays zero and the valid length is unchanged."""

    def __init__(self, padding_ratio: int = 6):
        if padding_ratio < 1:
            raise ValueError(f"PadCrop: padding_ratio must be >= 1; got {padding_ratio}")
        self.padding_ratio = int(padding_ratio)

    def __call__(self, x, num_frames, rng) -> Sample:
        n = _check_sample(x, num_frames, "PadCrop")
        pad = n // self.padding_ratio
        start = int(rng.integers(0, 2 * pad + 1))
        # frame i of the padded sequence is valid frame i - pad, mirrored at both edges
        source = np.arange(n) + start - pad
        source = np.where(source < 0, -source - 1, source)
        source = np.where(source >= n, 2 * n - 1 - source, source)
        out = np.zeros_like(x)
        out[:, :n] = x[:, source]
        return out, n


class TimeFlip(Transform):
    """Reverse the valid frames (AimCLR's random_time_flip without its coin flip)."""

    def __init__(self):
        pass

    def __call__(self, x, num_frames, rng=None) -> Sample:
        n = _check_sample(x, num_frames, "TimeFlip")
        out = x.copy()
        out[:, :n] = x[:, n - 1::-1]
        return out, n


# --------------------------------------------------------------------------- spatial

class Shear(Transform):
    """x' = R x with R = identity plus off-diagonal entries U(-amount, amount)."""

    def __init__(self, amount: float = 1.0):
        if amount < 0:
            raise ValueError(f"Shear: amount must be >= 0; got {amount}")
        self.amount = float(amount)

    def matrix(self, rng: np.random.Generator) -> np.ndarray:
        shear = rng.uniform(-self.amount, self.amount, size=(3, 3))
        np.fill_diagonal(shear, 1.0)
        return shear

    def __call__(self, x, num_frames, rng) -> Sample:
        _check_sample(x, num_frames, "Shear", coordinates=True)
        return _apply_matrix(self.matrix(rng), x), num_frames


class JointCorruption(Transform):
    """CMD: pick num_joints joints; with p_zero zero them, else multiply their coordinates
    by a random 3x3 matrix with entries U(-1, 1)."""

    def __init__(self, num_joints: int = 15, p_zero: float = 0.5):
        if num_joints < 1 or not 0.0 <= p_zero <= 1.0:
            raise ValueError(f"JointCorruption: need num_joints >= 1 and 0 <= p_zero <= 1; "
                             f"got {num_joints}, {p_zero}")
        self.num_joints, self.p_zero = int(num_joints), float(p_zero)

    def __call__(self, x, num_frames, rng) -> Sample:
        _check_sample(x, num_frames, "JointCorruption", coordinates=True)
        if self.num_joints > x.shape[2]:
            raise DataFormatError("JointCorruption", "x", f"at least {self.num_joints} joints",
                                  f"V={x.shape[2]}")
        zero_out = rng.random() < self.p_zero
        # a uniformly random subset of distinct joints; cheaper than rng.choice(replace=False)
        joints = rng.permutation(x.shape[2])[:self.num_joints]
        out = x.copy()
        if zero_out:
            out[:, :, joints] = 0.0
        else:
            mixing = rng.uniform(-1.0, 1.0, size=(3, 3))
            out[:, :, joints] = _apply_matrix(mixing, x[:, :, joints])
        return out, num_frames


class Rotate(Transform):
    """CTR-GCN random rotation: angles U(-max_angle, max_angle) rad about x, y and z."""

    def __init__(self, max_angle: float = 0.3):
        if max_angle < 0:
            raise ValueError(f"Rotate: max_angle must be >= 0; got {max_angle}")
        self.max_angle = float(max_angle)

    def __call__(self, x, num_frames, rng) -> Sample:
        _check_sample(x, num_frames, "Rotate", coordinates=True)
        angles = rng.uniform(-self.max_angle, self.max_angle, size=3)
        return _apply_matrix(rotation_matrix(angles), x), num_frames


class MainAxisRotate(Transform):
    """AimCLR random rotation: one random main axis by U(0, main_degrees) degrees, the other
    two by U(0, other_degrees) degrees."""

    def __init__(self, main_degrees: float = 30.0, other_degrees: float = 1.0):
        self.main_degrees, self.other_degrees = float(main_degrees), float(other_degrees)

    def __call__(self, x, num_frames, rng) -> Sample:
        _check_sample(x, num_frames, "MainAxisRotate", coordinates=True)
        degrees = rng.uniform(0.0, self.other_degrees, size=3)
        main_axis = rng.integers(3)
        degrees[main_axis] = rng.uniform(0.0, self.main_degrees)
        return _apply_matrix(rotation_matrix(np.radians(degrees)), x), num_frames


class Flip(Transform):
    """Swap left and right joints (layout.left_right); with negate_x also mirror x."""

    def __init__(self, layout: str | SkeletonLayout = "ntu25", negate_x: bool = True):
        self.layout, self.negate_x = _layout(layout), bool(negate_x)
        self._permutation = np.asarray(self.layout.flip_permutation())

    def __call__(self, x, num_frames, rng=None) -> Sample:
        _check_sample(x, num_frames, "Flip", coordinates=self.negate_x)
        if x.shape[2] != self.layout.num_joints:
            raise DataFormatError("Flip", "x", f"V={self.layout.num_joints} joints of layout "
                                  f"{self.layout.name!r}", f"V={x.shape[2]}")
        out = x[:, :, self._permutation]  # fancy indexing copies
        if self.negate_x:
            out[0] = -out[0]
        return out, num_frames


class BoneScale(Transform):
    """Scale every bone's length by its own factor U(1 - amount, 1 + amount), the same for
    a left / right pair and for every frame and body, and rebuild the skeleton outwards
    from the root (the layout's self-loop joint) so joints stay connected: a new body
    build performing the same motion. Absent (all-zero) joints stay zero."""

    def __init__(self, layout: str | SkeletonLayout = "ntu25", amount: float = 0.2):
        if not 0.0 <= amount < 1.0:
            raise ValueError(f"BoneScale: amount must be in [0, 1); got {amount}")
        self.layout, self.amount = _layout(layout), float(amount)
        parents = bone_parents(self.layout)
        self._parents = np.asarray(parents)
        # joints ordered so a parent always comes before its children
        order, placed = [], set()
        while len(order) < len(parents):
            ready = [v for v in range(len(parents)) if v not in placed
                     and (parents[v] == v or parents[v] in placed)]
            if not ready:
                raise ValueError(f"BoneScale: layout {self.layout.name!r} bones do not form a tree")
            order += ready
            placed.update(ready)
        self._order = [v for v in order if parents[v] != v]
        partner = dict(self.layout.left_right) | {b: a for a, b in self.layout.left_right}
        self._partner = np.array([min(v, partner.get(v, v)) for v in range(len(parents))])

    def __call__(self, x, num_frames, rng) -> Sample:
        _check_sample(x, num_frames, "BoneScale", coordinates=True)
        if x.shape[2] != self.layout.num_joints:
            raise DataFormatError("BoneScale", "x", f"V={self.layout.num_joints} joints of layout "
                                  f"{self.layout.name!r}", f"V={x.shape[2]}")
        factors = rng.uniform(1.0 - self.amount, 1.0 + self.amount, size=len(self._parents))
        factors = factors[self._partner]  # a left / right pair keeps one length
        bones = x - x[:, :, self._parents]
        out = x.copy()
        for v in self._order:
            out[:, :, v] = out[:, :, self._parents[v]] + factors[v] * bones[:, :, v]
        present = np.any(x != 0, axis=0, keepdims=True)
        return out * present, num_frames


class Center(Transform):
    """Subtract body 1's centre joint (layout.center) per valid frame from every body
    present in that frame; absent bodies and padding stay zero."""

    def __init__(self, layout: str | SkeletonLayout = "ntu25"):
        self.layout = _layout(layout)

    def __call__(self, x, num_frames, rng=None) -> Sample:
        n = _check_sample(x, num_frames, "Center")
        valid = x[:, :n]
        centre = valid[:, :, self.layout.center, 0]                    # (C, n)
        present = np.any(valid != 0, axis=(0, 2))                      # (n, M)
        out = x.copy()
        out[:, :n] -= centre[:, :, None, None] * present[None, :, None, :]
        return out, num_frames


class AxisMask(Transform):
    """AimCLR axis mask: zero one random coordinate axis."""

    def __init__(self):
        pass

    def __call__(self, x, num_frames, rng) -> Sample:
        _check_sample(x, num_frames, "AxisMask")
        out = x.copy()
        out[rng.integers(x.shape[0])] = 0.0
        return out, num_frames


# --------------------------------------------------------------------------- spatio-temporal

class GaussianNoise(Transform):
    """Add N(0, std^2) noise to the valid frames (AimCLR, std 0.01)."""

    def __init__(self, std: float = 0.01):
        if std < 0:
            raise ValueError(f"GaussianNoise: std must be >= 0; got {std}")
        self.std = float(std)

    def __call__(self, x, num_frames, rng) -> Sample:
        n = _check_sample(x, num_frames, "GaussianNoise")
        noise = rng.normal(0.0, self.std, size=(x.shape[0], n) + x.shape[2:])
        out = _as_float32(x).copy()
        out[:, :n] += noise.astype(np.float32)
        return out, num_frames


class GaussianBlur(Transform):
    """Gaussian filter over time on the valid frames (AimCLR: kernel 15, sigma U(0.1, 2)),
    zero padded at both ends like AimCLR's conv; normalize=False keeps AimCLR's
    unnormalised kernel."""

    def __init__(self, kernel_size: int = 15, sigma: tuple[float, float] = (0.1, 2.0),
                 normalize: bool = True):
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"GaussianBlur: kernel_size must be odd and >= 1; got {kernel_size}")
        if not 0.0 < sigma[0] <= sigma[1]:
            raise ValueError(f"GaussianBlur: sigma must satisfy 0 < low <= high; got {sigma}")
        self.kernel_size = int(kernel_size)
        self.sigma = (float(sigma[0]), float(sigma[1]))
        self.normalize = bool(normalize)

    def kernel(self, sigma: float) -> np.ndarray:
        radius = self.kernel_size // 2
        offsets = np.arange(-radius, radius + 1)
        weights = np.exp(-offsets.astype(np.float64) ** 2 / (2.0 * sigma ** 2))
        return weights / weights.sum() if self.normalize else weights

    def __call__(self, x, num_frames, rng) -> Sample:
        n = _check_sample(x, num_frames, "GaussianBlur")
        weights = self.kernel(rng.uniform(*self.sigma))
        radius = self.kernel_size // 2
        # banded (n, n) matrix: out[t] = sum_s band[t, s] x[s]; frames beyond the valid
        # range contribute zero, which is the zero padding of AimCLR's conv
        offset = np.arange(n)[None, :] - np.arange(n)[:, None]
        band = np.where(np.abs(offset) <= radius, weights[np.clip(offset + radius, 0,
                                                                   self.kernel_size - 1)], 0.0)
        blurred = np.tensordot(band.astype(np.float32), x[:, :n], axes=(1, 1))  # (n, C, V, M)
        out = np.zeros_like(_as_float32(x))
        out[:, :n] = blurred.transpose(1, 0, 2, 3)
        return out, num_frames


# --------------------------------------------------------------------------- modality

class ToModality(Transform):
    """Convert joints to "joint", "bone", "motion" or "bone_motion" (see modalities.py)."""

    def __init__(self, name: str = "joint", layout: str | SkeletonLayout = "ntu25"):
        if name not in MODALITIES:
            raise KeyError(f"unknown modality {name!r}; valid: {sorted(MODALITIES)}")
        self.name, self.layout = name, _layout(layout)

    def __call__(self, x, num_frames, rng=None) -> Sample:
        n = _check_sample(x, num_frames, "ToModality")
        return to_modality(x, self.name, self.layout, n), num_frames


# --------------------------------------------------------------------------- presets

def _with_modality(steps: list, modality: str, layout) -> Compose:
    if modality != "joint":
        steps.append(ToModality(modality, layout))
    return Compose(steps)


def cmd_pretrain(frames: int = 64, min_frames: int = 64, modality: str = "joint",
                 layout: str | SkeletonLayout = "ntu25") -> Compose:
    """CMD/HaLP view: crop U(0.1, 1) resized to `frames`, then joint corruption or shear."""
    return _with_modality([
        CropResize(scale=(0.1, 1.0), min_frames=min_frames, out_frames=frames),
        RandomChoice([JointCorruption(num_joints=15, p_zero=0.5), Shear(amount=1.0)],
                     p=(0.5, 0.5)),
    ], modality, layout)


def aimclr_pretrain(frames: int = 50, modality: str = "joint",
                    layout: str | SkeletonLayout = "ntu25") -> Compose:
    """AimCLR normal view: temporal pad-crop then shear 0.5."""
    return _with_modality([Resize(frames), PadCrop(padding_ratio=6), Shear(amount=0.5)],
                          modality, layout)


def aimclr_extreme(frames: int = 50, modality: str = "joint",
                   layout: str | SkeletonLayout = "ntu25", blur_normalize: bool = True) -> Compose:
    """AimCLR extreme view (its _strong_aug order)."""
    return _with_modality([
        Resize(frames),
        PadCrop(padding_ratio=6),
        Shear(amount=0.5),
        RandomApply(Flip(layout, negate_x=False), p=0.5),
        MainAxisRotate(main_degrees=30.0, other_degrees=1.0),
        RandomApply(TimeFlip(), p=0.5),
        RandomApply(GaussianNoise(std=0.01), p=0.5),
        RandomApply(GaussianBlur(kernel_size=15, sigma=(0.1, 2.0), normalize=blur_normalize),
                    p=0.5),
        RandomApply(AxisMask(), p=0.5),
    ], modality, layout)


def small_pretrain(frames: int = 64, crop: tuple[float, float] = (0.5, 1.0), min_frames: int = 8,
                   max_angle: float = 0.3, shear: float = 0.5, corrupt_joints: float = 0.3,
                   p_corrupt: float = 0.5, noise_std: float = 0.0, bone_scale: float = 0.0,
                   modality: str = "joint", layout: str | SkeletonLayout = "ntu25") -> Compose:
    """Pretraining view for small real datasets (MSR Action3D, UTD-MHAD, NW-UCLA).

    CMD's view leaves clips shorter than its 64-frame crop floor uncropped (MSR Action3D's
    median is 39 frames), and its 3x3 corruption matrices swamp the small motions of one
    Kinect camera. Here: a crop U(crop) of the valid frames (at least `min_frames`),
    resized to `frames`; a rotation U(-max_angle, max_angle) rad per axis; a shear of
    `shear`; then, with probability `p_corrupt`, a fraction `corrupt_joints` of the joints
    zeroed or mixed as in CMD; optional Gaussian noise (metres) and bone-length scaling
    U(1 - bone_scale, 1 + bone_scale) (`BoneScale`).
    """
    num_joints = max(1, round(corrupt_joints * _layout(layout).num_joints))
    steps = [CropResize(scale=tuple(crop), min_frames=min_frames, out_frames=frames)]
    if bone_scale > 0:
        steps.append(BoneScale(layout, amount=bone_scale))
    if max_angle > 0:
        steps.append(Rotate(max_angle=max_angle))
    if shear > 0:
        steps.append(Shear(amount=shear))
    if p_corrupt > 0:
        steps.append(RandomApply(JointCorruption(num_joints=num_joints, p_zero=0.5), p=p_corrupt))
    if noise_std > 0:
        steps.append(GaussianNoise(std=noise_std))
    return _with_modality(steps, modality, layout)


def linear_train(frames: int = 64, min_frames: int = 64, modality: str = "joint",
                 layout: str | SkeletonLayout = "ntu25") -> Compose:
    """CMD/HaLP linear-evaluation training crop: ratio U(0.5, 1), resized to `frames`."""
    return _with_modality([CropResize(scale=(0.5, 1.0), min_frames=min_frames,
                                      out_frames=frames)], modality, layout)


def eval_crop(frames: int = 64, ratio: float = 0.95, modality: str = "joint",
              layout: str | SkeletonLayout = "ntu25") -> Compose:
    """Deterministic evaluation view: centre crop `ratio`, resized to `frames`."""
    return _with_modality([CenterCrop(ratio=ratio, out_frames=frames)], modality, layout)


def ctrgcn_train(frames: int = 64, min_frames: int = 64, max_angle: float = 0.3,
                 modality: str = "joint", layout: str | SkeletonLayout = "ntu25") -> Compose:
    """CTR-GCN training view (docs/methods.md, SkeletonGCL): crop [0.5, 1] to `frames` + rotation."""
    return _with_modality([
        CropResize(scale=(0.5, 1.0), min_frames=min_frames, out_frames=frames),
        Rotate(max_angle=max_angle),
    ], modality, layout)


PRESETS: dict[str, Callable[..., Compose]] = {
    "cmd_pretrain": cmd_pretrain,
    "aimclr_pretrain": aimclr_pretrain,
    "aimclr_extreme": aimclr_extreme,
    "linear_train": linear_train,
    "eval_crop": eval_crop,
    "ctrgcn_train": ctrgcn_train,
    "small_pretrain": small_pretrain,
}


def build_transform(name: str, **kwargs) -> Compose:
    """PRESETS[name](**kwargs), with a KeyError listing the valid names."""
    try:
        factory = PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown transform preset {name!r}; valid: {sorted(PRESETS)}") from None
    return factory(**kwargs)
