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

Projection (`project_2d`): a pinhole camera with unit focal length at y = -depth_offset
looking along +y, with z up: (x, y, z) -> (x / d, 0, z / d), d = y + depth_offset (clamped to
at least 1e-6). The depth channel is set to zero so clips stay (N, 3, T, V, M) and
every encoder takes them; x and z keep their meaning (no mirror image). Unrotated, this camera
sees the subject's back (azimuth 180 degrees is the frontal view); under a uniform azimuth
that makes no difference. `depth_offset` is in the data's units (metres for Kinect data;
3.0 is a Kinect-like distance; the authors put the camera at 2 spine lengths of their
normalised 3-D poses). All-zero joints project to zero.

Randomness comes only from the torch.Generator passed in (the global RNG is not touched), so
a seeded generator gives the same views on every run.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(4, 3, 8, 25, 2)
    >>> x[1, :, 5:] = 0  # padding
    >>> views = camera_views(x, g, project_2d=True)
    >>> views.shape, bool((views[1, :, 5:] == 0).all()), bool((views[:, 1] == 0).all())
    (torch.Size([4, 3, 8, 25, 2]), True, True)
    >>> r = random_rotation_matrices(3, torch.Generator().manual_seed(1))
    >>> torch.allclose(r @ r.transpose(1, 2), torch.eye(3).expand(3, 3, 3), atol=1e-6)
    True
"""

from __future__ import annotations

import math

import torch

from ..errors import UserError

HORIZONTAL_AXIS, DEPTH_AXIS, VERTICAL_AXIS = 0, 1, 2  # x: shoulder line, y: facing, z: spine
DEFAULT_DEPTH_OFFSET = 3.0
MIN_DEPTH = 1e-6


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


def project_perspective(x: torch.Tensor, depth_offset: float = DEFAULT_DEPTH_OFFSET) -> torch.Tensor:
    """(N, 3, T, V, M) -> (x / d, 0, z / d) with d = y + depth_offset (module docstring)."""
    _check_clips(x)
    if not (isinstance(depth_offset, (int, float)) and depth_offset > 0 and math.isfinite(depth_offset)):
        raise UserError("camera augmentation", "depth_offset", "a positive number", repr(depth_offset))
    depth = (x[:, DEPTH_AXIS] + depth_offset).clamp_min(MIN_DEPTH)
    return torch.stack([x[:, HORIZONTAL_AXIS] / depth, torch.zeros_like(depth),
                        x[:, VERTICAL_AXIS] / depth], dim=1)


def camera_views(x: torch.Tensor, generator: torch.Generator, azimuth_deg: float = 180.0,
                 elevation_deg: float = 30.0, roll_deg: float = 30.0, project_2d: bool = False,
                 depth_offset: float = DEFAULT_DEPTH_OFFSET) -> torch.Tensor:
    """A random new camera's view of every clip of (N, 3, T, V, M) `x` (same shape)."""
    _check_clips(x)
    views = rotate(x, random_rotation_matrices(len(x), generator, azimuth_deg, elevation_deg, roll_deg))
    return project_perspective(views, depth_offset) if project_2d else views
