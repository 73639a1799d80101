import math

import numpy as np
import pytest
import torch

from sslskel.data.layouts import get_layout
from sslskel.errors import UserError
from sslskel.methods.camera import (
    camera_views,
    project_perspective,
    random_rotation_matrices,
    rotate,
    rotation_matrices,
)

torch.set_num_threads(1)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def np_rotation(azimuth, elevation, roll):
    """R_y(roll) R_x(elevation) R_z(azimuth), written out by hand (radians)."""
    ca, sa, ce, se, cr, sr = (math.cos(azimuth), math.sin(azimuth), math.cos(elevation),
                              math.sin(elevation), math.cos(roll), math.sin(roll))
    rz = np.array([[ca, -sa, 0], [sa, ca, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, ce, -se], [0, se, ce]])
    ry = np.array([[cr, 0, sr], [0, 1, 0], [-sr, 0, cr]])
    return ry @ rx @ rz


def recover_angles(r):
    """(azimuth, elevation, roll) in degrees from R = R_y(roll) R_x(elevation) R_z(azimuth)."""
    return (np.degrees(np.arctan2(r[1, 0], r[1, 1])), np.degrees(np.arcsin(-r[1, 2])),
            np.degrees(np.arctan2(r[0, 2], r[2, 2])))


def clips(n=4, t=6, v=25, m=2, seed=3):
    torch.manual_seed(seed)
    return torch.randn(n, 3, t, v, m)


@pytest.mark.parametrize("bounds", [(180.0, 30.0, 30.0), (45.0, 10.0, 5.0)])
def test_rotations_are_proper_and_their_angles_within_bounds(bounds):
    r = random_rotation_matrices(2000, gen(), *bounds).double()
    torch.testing.assert_close(r @ r.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(2000, 3, 3),
                               atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(2000, dtype=torch.float64), atol=1e-6, rtol=0)
    angles = np.array([recover_angles(m) for m in r.numpy()])  # (2000, 3)
    assert (np.abs(angles) <= np.array(bounds) + 1e-3).all()
    # the whole range is used, not just part of it
    assert (np.abs(angles).max(0) > 0.95 * np.array(bounds)).all()
    for m, a in zip(r.numpy()[:20], angles[:20]):
        np.testing.assert_allclose(m, np_rotation(*np.radians(a)), atol=1e-6)


def test_axes_azimuth_is_about_the_vertical_and_roll_about_the_depth_axis():
    one = torch.tensor([0.4])
    zero = torch.zeros(1)
    azimuth, elevation, roll = (rotation_matrices(one, zero, zero)[0], rotation_matrices(zero, one, zero)[0],
                                rotation_matrices(zero, zero, one)[0])
    torch.testing.assert_close(azimuth[:, 2], torch.tensor([0.0, 0.0, 1.0]))  # z (spine) kept
    torch.testing.assert_close(elevation[:, 0], torch.tensor([1.0, 0.0, 0.0]))  # x (shoulders) kept
    torch.testing.assert_close(roll[:, 1], torch.tensor([0.0, 1.0, 0.0]))  # y (depth) kept
    np.testing.assert_allclose(rotation_matrices(one, one * 0.5, -one)[0].numpy(),
                               np_rotation(0.4, 0.2, -0.4), atol=1e-6)


def test_rotate_matches_a_loop():
    x, r = clips(), random_rotation_matrices(4, gen(1))
    out = rotate(x, r).numpy()
    xn, rn = x.numpy(), r.numpy()
    n, c, t, v, m = x.shape
    for i in range(n):
        for ti in range(t):
            for vi in range(v):
                for mi in range(m):
                    np.testing.assert_allclose(out[i, :, ti, vi, mi], rn[i] @ xn[i, :, ti, vi, mi],
                                               atol=1e-5)


def test_bone_lengths_are_preserved():
    x = clips()
    y = camera_views(x, gen(2))
    layout = get_layout("ntu25")
    child, parent = zip(*layout.bones)
    bones = lambda s: (s[:, :, :, list(child)] - s[:, :, :, list(parent)]).norm(dim=1)  # noqa: E731
    torch.testing.assert_close(bones(y), bones(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("project_2d", [False, True])
def test_zero_frames_and_absent_persons_stay_zero(project_2d):
    x = clips()
    x[0, :, 3:] = 0  # padding frames
    x[1, ..., 1] = 0  # no second person
    x[2, :, :, 7] = 0  # a missing joint
    y = camera_views(x, gen(4), project_2d=project_2d)
    assert (y[0, :, 3:] == 0).all() and (y[1, ..., 1] == 0).all() and (y[2, :, :, 7] == 0).all()
    assert (y[0, :, :3] != 0).any()


def test_projection_by_hand():
    x = torch.zeros(1, 3, 1, 2, 1)
    x[0, :, 0, 0, 0] = torch.tensor([0.3, 0.5, -0.2])
    x[0, :, 0, 1, 0] = torch.tensor([-1.0, -1.0, 2.0])
    y = project_perspective(x, depth_offset=3.0)
    torch.testing.assert_close(y[0, :, 0, 0, 0], torch.tensor([0.3 / 3.5, 0.0, -0.2 / 3.5]))
    torch.testing.assert_close(y[0, :, 0, 1, 0], torch.tensor([-1.0 / 2.0, 0.0, 2.0 / 2.0]))
    # camera_views with no rotation is the projection alone
    torch.testing.assert_close(camera_views(x, gen(), 0.0, 0.0, 0.0, project_2d=True, depth_offset=3.0), y)
    torch.testing.assert_close(camera_views(x, gen(), 0.0, 0.0, 0.0), x)


def test_determinism_and_no_global_rng():
    x = clips()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a, b = camera_views(x, gen(7), project_2d=True), camera_views(x, gen(7), project_2d=True)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, b)
    assert not torch.allclose(a, camera_views(x, gen(8), project_2d=True))


def test_bad_arguments():
    with pytest.raises(UserError, match="azimuth_deg"):
        random_rotation_matrices(2, gen(), azimuth_deg=200)
    with pytest.raises(UserError, match="roll_deg"):
        random_rotation_matrices(2, gen(), roll_deg=-1)
    with pytest.raises(UserError, match="depth_offset"):
        project_perspective(clips(), depth_offset=0.0)
    with pytest.raises(ValueError, match="x.shape"):
        camera_views(torch.zeros(2, 6, 3, 25, 2), gen())
