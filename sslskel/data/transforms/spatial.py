"""Spatial and spatio-temporal augmentation steps: shear, joint corruption, rotations,
flip, bone scaling, centring, axis mask, Gaussian noise and blur, and the modality
conversion, with `rotation_matrix`."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import DataFormatError
from ..layouts import SkeletonLayout
from ..modalities import MODALITIES, bone_parents, to_modality
from .base import Sample, Transform, _as_float32, _check_sample, _layout

# --------------------------------------------------------------------------- helpers

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


# --------------------------------------------------------------------------- spatial

class Shear(Transform):
    """x' = R x with R = identity plus off-diagonal entries U(-amount, amount)."""

    def __init__(self, amount: float = 1.0):
        if amount < 0:
            raise ValueError(f"Shear: amount must be >= 0, got {amount}")
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
            raise ValueError(f"Rotate: max_angle must be >= 0, got {max_angle}")
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
            raise ValueError(f"BoneScale: amount must be in [0, 1), got {amount}")
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
            raise ValueError(f"GaussianNoise: std must be >= 0, got {std}")
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
            raise ValueError(f"GaussianBlur: kernel_size must be odd and >= 1, got {kernel_size}")
        if not 0.0 < sigma[0] <= sigma[1]:
            raise ValueError(f"GaussianBlur: sigma must satisfy 0 < low <= high, got {sigma}")
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
