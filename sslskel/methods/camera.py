"""Camera augmentation for CV-MIM: a random new camera's view of 3-D skeleton clips.

Axes: sslskel's skeletons are pre-normalised (`sslskel.data.normalize`, mode "prenorm", the
default for every raw format): the spine is on +z (up), the right-minus-left shoulder line on
+x, so y = z x x is the direction the subject faces (checked on the synthetic data: the feet
point to +y). Here z is the vertical axis, x the horizontal image axis and y the depth axis.

Rotation: R = R_y(roll) @ R_x(elevation) @ R_z(azimuth), applied to column vectors (p' = R p)
about the origin, one R per clip (for all frames, joints and persons: the camera moves, not
the people). Read right to left: the subject turns by the azimuth about the vertical axis,
then the view tilts by the elevation about the horizontal image axis x, then rolls about the
viewing axis y. Azimuth ~ U(-a, a), elevation ~ U(-e, e), roll ~ U(-r, r) (paper: 180, 30, 30
degrees). Angles back from R: azimuth = atan2(R10, R11), elevation = asin(-R12),
roll = atan2(R02, R22). The authors' code composes R_z(azimuth) R_y(elevation) R_x(roll) in
its own (y, x, z) point layout; with these symmetric ranges both give random views of the
same spread, but the one here keeps "elevation" a tilt towards the camera.

The rotation is about the origin, not a centre joint: pre-normalised (and "center") data has
body 1's centre joint at the origin in every frame, so the two agree there, and about the
origin every all-zero joint (padding frames, absent persons, missing joints) stays exactly
zero without a mask. Raw camera-space data (data.normalize "none") would turn about the sensor.

Projection (`project_2d`), as the authors' code (poem/core/keypoint_utils.py,
random_project_and_select_keypoints and the 2-D keypoint profile's normalize):
1. every frame's 3-D pose is normalised: the hip centre (mean of the two hips) moved to the
   origin and the torso (shoulder centre to hip centre) scaled to length 1
   (`normalize_torso_3d`);
2. a pinhole camera with unit focal length at y = -camera_depth looking along +y, with z up,
   projects it: (x, y, z) -> (x / d, 0, z / d), d = y + camera_depth (`project_perspective`);
   camera_depth = 2 torso lengths, the authors' default_camera_z. A point at or behind the
   camera (d <= 0) has no image: it is masked (set to zero), where the authors divide by
   max(d, 1e-12) and an earlier version here clamped d at 1e-6, which both send such points
   to huge coordinates;
3. every frame's 2-D pose is normalised again: hip centre at the origin, the 2-D torso
   scaled to 0.5 (`normalize_torso_2d`; the authors' 2-D profile: offset at the hips, scale
   the shoulder-to-hip distance, scale_unit 0.5).
The depth channel is set to zero so clips stay (N, 3, T, V, M) and every encoder takes them;
x and z keep their meaning (no mirror image). Unrotated, this camera sees the subject's back
(azimuth 180 degrees is the frontal view); under a uniform azimuth that makes no difference.
All-zero joints (padding, absent persons, missing joints) stay zero through every step.

Randomness comes only from the torch.Generator passed in (the global RNG is not touched), so
a seeded generator gives the same views on every run.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(4, 3, 8, 25, 2)
    >>> x[1, :, 5:] = 0  # padding
    >>> views = camera_views(x, g, project_2d=True, layout="ntu25")
    >>> views.shape, bool((views[1, :, 5:] == 0).all()), bool((views[:, 1] == 0).all())
    (torch.Size([4, 3, 8, 25, 2]), True, True)
    >>> r = random_rotation_matrices(3, torch.Generator().manual_seed(1))
    >>> torch.allclose(r @ r.transpose(1, 2), torch.eye(3).expand(3, 3, 3), atol=1e-6)
    True
"""

from __future__ import annotations

import math

import torch

from ..data.layouts import SkeletonLayout, get_layout
from ..errors import UserError

HORIZONTAL_AXIS, DEPTH_AXIS, VERTICAL_AXIS = 0, 1, 2  # x: shoulder line, y: facing, z: spine
DEFAULT_CAMERA_DEPTH = 2.0  # in torso lengths of the normalised pose (the authors' default_camera_z)
SCALE_UNIT_2D = 0.5  # the 2-D torso length after normalisation (the authors' 2-D profiles)
EPS = 1e-12  # the authors' floor under scale distances


def _check_angle(name: str, value: float, most: float) -> None:
    if not (isinstance(value, (int, float)) and 0 <= value <= most):
        raise UserError("camera augmentation", name, f"a number of degrees in [0, {most:g}]", repr(value))


def _check_clips(x: torch.Tensor) -> None:
    if x.dim() != 5 or x.shape[1] != 3:
        raise ValueError(f"camera augmentation: x.shape: expected (N, 3, T, V, M) 3-D joints, "
                         f"got {tuple(x.shape)}")


def axis_rotations(angles: torch.Tensor, axis: int) -> torch.Tensor:
    """(n,) angles in radians -> (n, 3, 3) right-handed rotations about coordinate axis `axis`."""
    cos, sin = torch.cos(angles), torch.sin(angles)
    out = torch.zeros(*angles.shape, 3, 3, dtype=angles.dtype, device=angles.device)
    a, b = [i for i in range(3) if i != axis]
    if axis == 1:  # keep the cyclic order (z, x) so every rotation is counter-clockwise
        a, b = b, a
    out[..., axis, axis] = 1
    out[..., a, a], out[..., a, b] = cos, -sin
    out[..., b, a], out[..., b, b] = sin, cos
    return out


def rotation_matrices(azimuth: torch.Tensor, elevation: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """Angles in radians, (n,) each -> (n, 3, 3) R = R_y(roll) R_x(elevation) R_z(azimuth)."""
    return (axis_rotations(roll, DEPTH_AXIS) @ axis_rotations(elevation, HORIZONTAL_AXIS)
            @ axis_rotations(azimuth, VERTICAL_AXIS))


def random_rotation_matrices(n: int, generator: torch.Generator, azimuth_deg: float = 180.0,
                             elevation_deg: float = 30.0, roll_deg: float = 30.0) -> torch.Tensor:
    """(n, 3, 3) float32 rotations on the generator's device, angles uniform in +- the bounds."""
    _check_angle("azimuth_deg", azimuth_deg, 180)
    _check_angle("elevation_deg", elevation_deg, 90)
    _check_angle("roll_deg", roll_deg, 90)
    bounds = torch.tensor([azimuth_deg, elevation_deg, roll_deg], dtype=torch.float64,
                          device=generator.device) * (math.pi / 180)
    # one draw of (n, 3) uniforms: columns azimuth, elevation, roll
    u = torch.rand(n, 3, generator=generator, dtype=torch.float64, device=generator.device)
    angles = (2 * u - 1) * bounds
    return rotation_matrices(angles[:, 0], angles[:, 1], angles[:, 2]).float()


def rotate(x: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """(N, 3, T, V, M) clips, (N, 3, 3) rotations -> every point p of clip i becomes R_i p."""
    _check_clips(x)
    return torch.einsum("nij,njtvm->nitvm", rotations.to(x.device, x.dtype), x)


def torso_joints(layout: str | SkeletonLayout) -> tuple[list[int], list[int]]:
    """([left hip, right hip], [left shoulder, right shoulder]) joint indices of `layout`."""
    layout = get_layout(layout) if isinstance(layout, str) else layout
    names = list(layout.joint_names)
    try:
        return ([names.index("left_hip"), names.index("right_hip")],
                [names.index("left_shoulder"), names.index("right_shoulder")])
    except ValueError:
        raise UserError("camera projection", "data.layout", "a layout with left/right hips and shoulders",
                        layout.name) from None


def _present(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, T, V, M) True where a joint has any non-zero coordinate."""
    return (x != 0).any(dim=1, keepdim=True)


def _normalize_torso(x: torch.Tensor, layout, unit: float) -> torch.Tensor:
    """Per frame and person: hip centre to the origin, torso length (shoulder centre to hip
    centre) to `unit`; absent joints stay zero."""
    hips, shoulders = torso_joints(layout)
    present = _present(x)
    hip_centre = x[:, :, :, hips].mean(dim=3, keepdim=True)
    torso = (x[:, :, :, shoulders].mean(dim=3, keepdim=True) - hip_centre).norm(dim=1, keepdim=True)
    return torch.where(present, (x - hip_centre) / torso.clamp_min(EPS) * unit, torch.zeros_like(x))


def normalize_torso_3d(x: torch.Tensor, layout) -> torch.Tensor:
    """The authors' 3-D normalisation before projection: torso length 1 (module docstring)."""
    _check_clips(x)
    return _normalize_torso(x, layout, 1.0)


def normalize_torso_2d(x: torch.Tensor, layout) -> torch.Tensor:
    """The authors' 2-D normalisation of a projection (depth channel zero): torso length 0.5."""
    _check_clips(x)
    return _normalize_torso(x, layout, SCALE_UNIT_2D)


def project_perspective(x: torch.Tensor, depth_offset: float = DEFAULT_CAMERA_DEPTH) -> torch.Tensor:
    """(N, 3, T, V, M) -> (x / d, 0, z / d) with d = y + depth_offset; points with d <= 0
    (at or behind the camera) and absent joints become zero."""
    _check_clips(x)
    if not (isinstance(depth_offset, (int, float)) and depth_offset > 0 and math.isfinite(depth_offset)):
        raise UserError("camera augmentation", "depth_offset", "a positive number", repr(depth_offset))
    depth = x[:, DEPTH_AXIS] + depth_offset
    visible = (depth > 0) & _present(x)[:, 0]
    safe = torch.where(visible, depth, torch.ones_like(depth))
    zero = torch.zeros_like(depth)
    return torch.stack([torch.where(visible, x[:, HORIZONTAL_AXIS] / safe, zero), zero,
                        torch.where(visible, x[:, VERTICAL_AXIS] / safe, zero)], dim=1)


def project_like_authors(x: torch.Tensor, layout, camera_depth: float = DEFAULT_CAMERA_DEPTH) -> torch.Tensor:
    """normalize_torso_2d(project_perspective(normalize_torso_3d(x))): the paper's 2-D input."""
    return normalize_torso_2d(project_perspective(normalize_torso_3d(x, layout), camera_depth), layout)


def camera_views(x: torch.Tensor, generator: torch.Generator, azimuth_deg: float = 180.0,
                 elevation_deg: float = 30.0, roll_deg: float = 30.0, project_2d: bool = False,
                 depth_offset: float = DEFAULT_CAMERA_DEPTH, layout=None) -> torch.Tensor:
    """A random new camera's view of every clip of (N, 3, T, V, M) `x` (same shape). With
    `project_2d`: its 2-D projection, normalised as the authors' when `layout` is given."""
    _check_clips(x)
    views = rotate(x, random_rotation_matrices(len(x), generator, azimuth_deg, elevation_deg, roll_deg))
    if not project_2d:
        return views
    return project_like_authors(views, layout, depth_offset) if layout is not None \
        else project_perspective(views, depth_offset)
