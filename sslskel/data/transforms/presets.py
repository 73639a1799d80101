"""The published augmentation recipes (docs/methods.md) as `Compose` factories, the
`PRESETS` table and `build_transform`."""

from __future__ import annotations

from typing import Callable

from ..layouts import SkeletonLayout
from .base import Compose, RandomApply, RandomChoice, _layout
from .spatial import (
    AxisMask,
    BoneScale,
    Flip,
    GaussianBlur,
    GaussianNoise,
    JointCorruption,
    MainAxisRotate,
    Rotate,
    Shear,
    ToModality,
)
from .temporal import CenterCrop, CropResize, PadCrop, Resize, TimeFlip
from .ucla_feeder import ucla_feeder_eval, ucla_feeder_train


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
    "ucla_feeder_train": ucla_feeder_train,
    "ucla_feeder_eval": ucla_feeder_eval,
}


def build_transform(name: str, **kwargs) -> Compose:
    """PRESETS[name](**kwargs), with a KeyError listing the valid names."""
    try:
        factory = PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown transform preset {name!r}; valid: {sorted(PRESETS)}") from None
    return factory(**kwargs)
