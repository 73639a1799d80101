"""What the cameras record of the synthetic stage: camera poses, sensor noise (more on joints
the body hides from the camera) and dropouts of limbs or bodies (the package docstring has the
design; `generator.generate` calls these).

Example:
    >>> from sslskel.data.synthetic.generator import SyntheticConfig
    >>> rotations, centres = camera_poses(SyntheticConfig())
    >>> rotations.shape, bool(np.allclose(rotations @ rotations.transpose(0, 2, 1), np.eye(3)))
    ((3, 3, 3), True)
"""

from __future__ import annotations

import numpy as np

from .. import kinematics as K
from .actions import deg


def camera_poses(cfg) -> tuple[np.ndarray, np.ndarray]:
    """World -> camera rotations (K, 3, 3) and camera centres (K, 3). A camera at azimuth a
    stands at distance d from the stage centre, on the side the performers face, and looks at
    the stage centre 0.9 m above the floor; camera axes as Kinect (z forward, y up, x left)."""
    az = deg(np.asarray(cfg.camera_azimuths_deg))
    d = np.asarray(cfg.camera_distances)
    centres = np.stack([-d * np.sin(az), np.asarray(cfg.camera_heights), -d * np.cos(az)], 1)
    forward = np.array([0.0, 0.9, 0.0]) - centres
    forward /= np.linalg.norm(forward, axis=1, keepdims=True)
    left = np.cross([0.0, 1.0, 0.0], forward)
    left /= np.linalg.norm(left, axis=1, keepdims=True)
    up = np.cross(forward, left)
    return np.stack([left, up, forward], 1), centres


def hidden_joints(cam_joints: np.ndarray) -> np.ndarray:
    """(..., T, 25, 3) camera-space joints -> bool (..., T, 25): behind the own torso as seen
    from the camera (deeper than the spine and within 0.22 m of it across the image)."""
    torso = cam_joints[..., K.SPINE_MID:K.SPINE_MID + 1, :]
    rel = cam_joints - torso
    return (rel[..., 2] > 0.06) & (np.hypot(rel[..., 0], rel[..., 1]) < 0.22)


def smooth_noise(rng: np.random.Generator, shape, width: int = 9) -> np.ndarray:
    """Gaussian noise low-passed over time (axis 1) by a moving average, unit std."""
    white = rng.standard_normal(shape, dtype=np.float32)
    kernel = np.ones(width) / np.sqrt(width)
    padded = np.concatenate([white[:, -width + 1:], white], 1)
    csum = np.cumsum(padded, axis=1)
    out = csum[:, width - 1:] - np.concatenate([np.zeros_like(csum[:, :1]), csum[:, :-width]], 1)
    return out * kernel[0]


def observe(cfg, joints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stage joints (P, T, 25, M, 3) -> float32 camera-space recordings (P, K, T, 25, M, 3),
    each camera with its own sensor noise (one camera at a time to bound memory)."""
    rot, centres = camera_poses(cfg)
    out = np.empty((joints.shape[0], len(rot)) + joints.shape[1:], np.float32)
    for k in range(len(rot)):
        cam = np.einsum("ij,ptvmj->ptvmi", rot[k], joints - centres[k]).astype(np.float32)
        depth = np.clip(cam[..., 2:3], 0.5, None)
        cam += cfg.noise_std * (depth / 3.0) * rng.standard_normal(cam.shape, dtype=np.float32)
        if cfg.occlusion_noise_std > 0:
            hidden = np.moveaxis(hidden_joints(np.moveaxis(cam, 3, 1)), 1, 3)  # (P, T, 25, M)
            cam += cfg.occlusion_noise_std * hidden[..., None] * smooth_noise(rng, cam.shape)
        out[:, k] = cam
    return out


def apply_dropouts(cfg, data: np.ndarray, lengths: np.ndarray,
                   rng: np.random.Generator) -> None:
    """Zero a limb (or, one time in four, all of body 1) for 2-8 frames in some samples.
    data: (N, T, 25, M, 3), changed in place."""
    n, t = data.shape[:2]
    limbs = [np.arange(4, 8), np.arange(8, 12), np.arange(12, 16), np.arange(16, 20),
             np.array([21, 22]), np.array([23, 24]), np.arange(25)]
    chosen = np.flatnonzero(rng.random(n) < cfg.dropout_prob)
    which = rng.choice(len(limbs), len(chosen), p=[0.125] * 6 + [0.25])
    span = rng.integers(2, 9, len(chosen))
    first = (rng.random(len(chosen)) * np.maximum(lengths[chosen] - span, 1)).astype(int)
    mask = np.zeros((n, t, K.NUM_JOINTS), bool)
    frames = np.arange(t)
    in_span = (frames[None] >= first[:, None]) & (frames[None] < (first + span)[:, None])
    limb_mask = np.zeros((len(limbs), K.NUM_JOINTS), bool)
    for i, limb in enumerate(limbs):
        limb_mask[i, limb] = True
    mask[chosen] = in_span[:, :, None] & limb_mask[which][:, None, :]
    data[..., 0, :][mask] = 0.0
