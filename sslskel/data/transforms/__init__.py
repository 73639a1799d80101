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

from .base import Compose, RandomApply, RandomChoice, Sample, Transform
from .presets import (
    PRESETS,
    aimclr_extreme,
    aimclr_pretrain,
    build_transform,
    cmd_pretrain,
    ctrgcn_train,
    eval_crop,
    linear_train,
    small_pretrain,
)
from .spatial import (
    AxisMask,
    BoneScale,
    Center,
    Flip,
    GaussianBlur,
    GaussianNoise,
    JointCorruption,
    MainAxisRotate,
    Rotate,
    Shear,
    ToModality,
    rotation_matrix,
)
from .temporal import CenterCrop, CropResize, PadCrop, Resize, TimeFlip, resize_time

__all__ = [
    # base and composition
    "Sample", "Transform", "Compose", "RandomApply", "RandomChoice",
    # temporal
    "CropResize", "CenterCrop", "Resize", "PadCrop", "TimeFlip", "resize_time",
    # spatial and spatio-temporal
    "Shear", "JointCorruption", "Rotate", "MainAxisRotate", "Flip", "BoneScale", "Center",
    "AxisMask", "GaussianNoise", "GaussianBlur", "ToModality", "rotation_matrix",
    # presets
    "cmd_pretrain", "aimclr_pretrain", "aimclr_extreme", "small_pretrain", "linear_train",
    "eval_crop", "ctrgcn_train", "PRESETS", "build_transform",
]
