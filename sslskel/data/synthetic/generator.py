"""Generating the synthetic set: the configuration, subjects and their manners, performances,
forward kinematics, cameras, sensor noise and dropouts (the package docstring has the design).

Example:
    >>> data = generate(SyntheticConfig(num_classes=2, num_subjects=1, num_replications=1))
    >>> data.data.shape, data.names[:2]
    ((6, 3, 150, 25, 2), ['S001C001P001R001A001', 'S001C002P001R001A001'])
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from .. import kinematics as K
from ..container import SkeletonData, ntu_meta_from_names
from ..kinematics import forward_kinematics, rotation_y, sample_bone_offsets
from .actions import ACTIONS, ActionContext, Motion, deg, hold
from .recording import apply_dropouts, observe

GENERATOR_VERSION = 3  # bump when the generated data changes, so old caches are not reused
FPS = 30.0

# measured by benchmarks/calibrate_synthetic.py --epochs 16 --pretrain-epochs 15 --seed 0 on the
# default config (GENERATOR_VERSION 3); accuracies in %
CALIBRATION = {
    "supervised_xsub": 87.5,
    "supervised_xview": 97.5,
    "raw_knn_xsub": 68.81,
    "pooled_knn_xsub": 63.33,
    "random_gru_linear_xsub": 30.71,
    "moco_knn_xsub": 50.24,
}


# -- configuration ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SyntheticConfig:
    num_classes: int = 20
    num_subjects: int = 20
    num_replications: int = 2
    seed: int = 0
    min_frames: int = 30
    max_frames: int = 150
    idle_frames: tuple[int, int] = (2, 50)  # range of idle frames before and after the action
    noise_std: float = 0.008  # metres of white sensor noise at 3 m depth
    occlusion_noise_std: float = 0.04  # metres of smooth drift on joints hidden from the camera
    dropout_prob: float = 0.15  # chance that a sample has one tracking dropout
    camera_azimuths_deg: tuple[float, ...] = (-45.0, 0.0, 45.0)
    camera_heights: tuple[float, ...] = (1.0, 0.8, 1.25)  # metres above the floor
    camera_distances: tuple[float, ...] = (3.0, 2.8, 3.2)  # metres to the stage centre
    style_scale: float = 1.0  # scales subject posture and amplitude variation
    manner_scale: float = 0.7  # scales how differently each subject performs each action
    performance_scale: float = 0.6  # scales per-performance fidgets and heading drift
    timing_scale: float = 1.5  # scales subject tempo and the per-performance time warp
    distraction_prob: float = 0.5  # chance of an unrelated arm movement in a performance

    def __post_init__(self):
        if not 1 <= self.num_classes <= len(ACTIONS):
            raise ValueError(f"num_classes must be in [1, {len(ACTIONS)}], got {self.num_classes}")
        if self.num_subjects < 1 or self.num_replications < 1:
            raise ValueError("num_subjects and num_replications must be >= 1")
        if not 20 <= self.min_frames <= self.max_frames:
            raise ValueError(f"need 20 <= min_frames <= max_frames, got {self.min_frames}, {self.max_frames}")
        if not (len(self.camera_azimuths_deg) == len(self.camera_heights) == len(self.camera_distances)):
            raise ValueError("camera_azimuths_deg, camera_heights and camera_distances need one "
                             "entry per camera")

    @classmethod
    def from_mapping(cls, mapping: dict, where: str = "data.synthetic") -> SyntheticConfig:
        """Build from a config mapping (YAML lists for tuples); ValueError naming a bad key."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(mapping) - set(fields))
        if unknown:
            raise ValueError(f"unknown key '{where}.{unknown[0]}'; valid keys of '{where}': "
                             f"{', '.join(sorted(fields))}")
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in mapping.items()}
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from None

    @property
    def num_cameras(self) -> int:
        return len(self.camera_azimuths_deg)

    def digest(self) -> str:
        """Short hash of everything that changes the data (cache directory name)."""
        text = json.dumps({"version": GENERATOR_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


# -- subjects and performances ----------------------------------------------------------------
@dataclass
class Subjects:
    offsets: np.ndarray  # (S, 25, 3) rest bone offsets
    amplitude: np.ndarray  # (S,)
    tempo: np.ndarray  # (S,) > 1 is slower
    posture: np.ndarray  # (S, 25, 3) resting joint angles


def sample_subjects(rng: np.random.Generator, num: int, style: float, timing: float) -> Subjects:
    posture = np.zeros((num, K.NUM_JOINTS, 3))
    for side, sh, el, hip in ((1, K.LEFT_ELBOW, K.LEFT_WRIST, K.LEFT_KNEE),
                              (-1, K.RIGHT_ELBOW, K.RIGHT_WRIST, K.RIGHT_KNEE)):
        posture[:, sh, 2] = side * deg(rng.uniform(3, 15, num))
        posture[:, el, 0] = -deg(rng.uniform(5, 30, num))
        posture[:, hip, 2] = side * deg(rng.uniform(0, 8, num))
    posture[:, K.SPINE_MID, 0] = deg(rng.uniform(-4, 10, num))
    posture[:, K.HEAD, 0] = deg(rng.uniform(-10, 12, num))
    posture[:, K.NECK, 2] = deg(rng.uniform(-6, 6, num))
    return Subjects(
        offsets=sample_bone_offsets(rng, num),
        amplitude=1.0 + style * rng.uniform(-0.22, 0.18, num),
        tempo=np.exp(timing * rng.uniform(np.log(0.75), np.log(1.35), num)),
        posture=posture * style,
    )


@dataclass
class Performances:
    """One row per recorded performance (subject, action, replication)."""
    subject: np.ndarray  # (P,) 0-based
    action: np.ndarray
    replication: np.ndarray  # 0-based
    partner: np.ndarray  # 0-based subject of body 2 (used by two-person actions only)
    length: np.ndarray  # (P,) frames
    start: np.ndarray  # (P,) first frame of the action
    duration: np.ndarray  # (P,) frames of the action
    facing: np.ndarray  # (P,) yaw of body 1 in the stage frame
    position: np.ndarray  # (P, 3) stage position of the pair / person


def plan_performances(cfg: SyntheticConfig, subjects: Subjects, rng: np.random.Generator) -> Performances:
    s, a, r = np.meshgrid(np.arange(cfg.num_subjects), np.arange(cfg.num_classes),
                          np.arange(cfg.num_replications), indexing="ij")
    s, a, r = s.ravel(), a.ravel(), r.ravel()
    p = len(s)
    base = np.array([act.frames for act in ACTIONS])[a]
    duration = base * subjects.tempo[s] * rng.uniform(0.85, 1.15, p)
    duration = np.clip(np.round(duration), 15, cfg.max_frames - 2).astype(np.int64)
    lo, hi = cfg.idle_frames
    idle = rng.integers(lo, hi + 1, size=(p, 2))
    # shrink idle time to fit max_frames, then pad the end up to min_frames
    room = cfg.max_frames - duration
    idle = np.minimum(idle, np.stack([room // 2, room - room // 2], 1))
    length = np.clip(duration + idle.sum(1), cfg.min_frames, cfg.max_frames)
    # NTU: one replication facing camera 1, the next facing camera 3
    toward = np.where(r % 2 == 0, cfg.camera_azimuths_deg[0], cfg.camera_azimuths_deg[-1])
    facing = np.pi + deg(toward + rng.uniform(-12, 12, p))
    partner = (s + rng.integers(1, max(cfg.num_subjects, 2), p)) % max(cfg.num_subjects, 1)
    position = np.stack([rng.uniform(-0.3, 0.3, p), np.zeros(p), rng.uniform(-0.3, 0.3, p)], 1)
    return Performances(s, a, r, partner, length, idle[:, 0], duration, facing, position)


# -- building the 3-D motion ------------------------------------------------------------------
def fidget(rng: np.random.Generator, n: int, t: int, amplitude: float) -> np.ndarray:
    """Smooth personal variation of every joint angle: 3 random sinusoids of 0.1-0.8 Hz."""
    time = np.arange(t) / FPS
    out = np.zeros((n, t, K.NUM_JOINTS, 3))
    for _ in range(3):
        freq = rng.uniform(0.1, 0.8, (n, 1, K.NUM_JOINTS, 3))
        phase = rng.uniform(0, 2 * np.pi, (n, 1, K.NUM_JOINTS, 3))
        size = rng.uniform(0, amplitude, (n, 1, K.NUM_JOINTS, 3))
        out += size * np.sin(2 * np.pi * freq * time[None, :, None, None] + phase)
    out[:, :, K.SPINE_BASE] = 0.0  # the root stays upright
    return out


def time_warp(s: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A random monotone re-timing of each row of s in [0, 1] (ends fixed): some parts of the
    action faster, others slower."""
    n, strength = len(s), min(strength, 1.0)
    w1 = strength * rng.uniform(-0.7, 0.7, (n, 1))
    w2 = strength * rng.uniform(-0.25, 0.25, (n, 1))
    # derivative 1 + w1 cos + w2 cos >= 1 - 0.7 - 0.25 > 0: monotone
    return s + w1 * np.sin(2 * np.pi * s) / (2 * np.pi) + w2 * np.sin(4 * np.pi * s) / (4 * np.pi)


def distractions(rng: np.random.Generator, n: int, t: int, prob: float) -> Motion:
    """Unrelated arm movements (scratching, adjusting clothes) at random times in some
    performances: either arm, 20-45 frames, anywhere in the clip."""
    m = Motion(n, t)
    on = rng.random((n, 1)) < prob
    start = rng.uniform(-10, t - 20, (n, 1))
    span = rng.uniform(20, 45, (n, 1))
    frames = np.arange(t)[None, :]
    h = hold(frames, start, start + span / 3, start + 2 * span / 3, start + span) * on
    side = rng.choice([-1.0, 1.0], (n, 1))
    m.arm(side, flex=deg(rng.uniform(15, 70, (n, 1))) * h, abd=deg(rng.uniform(0, 30, (n, 1))) * h,
          elbow=deg(rng.uniform(20, 110, (n, 1))) * h, horiz=-deg(rng.uniform(0, 30, (n, 1))) * h)
    return m


def sample_manners(rng: np.random.Generator, num_subjects: int, num_classes: int,
                   scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Each subject's own manner of each action, (S, C, 25, 3) each: a log-normal gain on
    every joint angle the action moves (sigma 0.3 * scale: more elbow and less shoulder, a
    lower kick) and an offset of every joint angle but the root (sigma 12 deg * scale: a
    leaning torso, the other arm held differently) while the action is under way.

    This is the variation that makes cross-subject recognition hard on NTU: shared by all
    replications and cameras of a (subject, action), so it is not a cue that tells one clip
    from another (which would give instance discrimination a shortcut), but it is new for
    every test subject, so matching a test clip to its nearest training clip fails."""
    shape = (num_subjects, num_classes, K.NUM_JOINTS, 3)
    gain = np.exp(scale * 0.3 * rng.standard_normal(shape))
    offset = scale * deg(12) * rng.standard_normal(shape)
    offset[:, :, K.SPINE_BASE] = 0.0
    return gain, offset


def apply_manner(angles: np.ndarray, gain: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Action joint angles (n, T, 25, 3) in a manner (gain, offset: (n, 25, 3) each). The
    offset follows the action's activity (its largest joint angle, as a fraction of the
    sample's peak), so idle frames before and after the action are left as they were.

    Example:
        >>> a = np.zeros((1, 4, 25, 3)); a[0, 1:3, 5, 0] = [0.5, 1.0]
        >>> out = apply_manner(a, np.full((1, 25, 3), 2.0), np.full((1, 25, 3), 0.1))
        >>> out[0, :, 5, 0].round(2).tolist(), out[0, :, 7, 1].round(2).tolist()
        ([0.0, 1.05, 2.1, 0.0], [0.0, 0.05, 0.1, 0.0])
    """
    activity = np.abs(angles).max(axis=(2, 3))  # (n, T)
    activity = activity / np.maximum(activity.max(1, keepdims=True), 1e-9)
    return angles * gain[:, None] + activity[..., None, None] * offset[:, None]


def action_motions(cfg: SyntheticConfig, perf: Performances, subjects: Subjects, t: int,
                   rng: np.random.Generator) -> tuple[Motion, Motion]:
    """Motion deltas of body 1 and body 2 for every performance, built class by class."""
    p = len(perf.subject)
    body1, body2 = Motion(p, t), Motion(p, t)
    frames = np.arange(t)[None, :]
    phase_of_action = time_warp(np.clip((frames - perf.start[:, None]) / perf.duration[:, None], 0.0, 1.0),
                                cfg.timing_scale, rng)
    # a subject's own way of doing each class, then this performance's variation
    own_style = rng.uniform(0.8, 1.2, (cfg.num_subjects, cfg.num_classes)) ** cfg.style_scale
    amp = (subjects.amplitude[perf.subject] * own_style[perf.subject, perf.action]
           * rng.uniform(0.9, 1.1, p))[:, None]
    rand_phase = rng.uniform(0, 2 * np.pi, (p, 1))
    lead = rng.choice([-1.0, 1.0], (p, 1))
    reps = rng.uniform(0, 1, (p, 1))
    gain, offset = sample_manners(rng, cfg.num_subjects, cfg.num_classes, cfg.manner_scale)
    for label in range(cfg.num_classes):
        idx = np.flatnonzero(perf.action == label)
        ctx = ActionContext(phase_of_action[idx], amp[idx], rand_phase[idx], lead[idx], reps[idx])
        made = ACTIONS[label].make(ctx)
        first, second = made if ACTIONS[label].two_person else (made, None)
        for target, m in ((body1, first), (body2, second)):
            if m is None:
                continue
            who = perf.subject[idx] if target is body1 else perf.partner[idx]
            target.angles[idx] = apply_manner(m.angles, gain[who, label], offset[who, label])
            target.disp[idx] = m.disp
            target.yaw[idx] = m.yaw
            target.lift[idx] = m.lift
    return body1, body2


def keep_feet_flat(angles: np.ndarray) -> None:
    """Set each ankle to cancel the hip and knee pitch, so the foot stays level."""
    for hip, knee, foot in ((K.LEFT_KNEE, K.LEFT_ANKLE, K.LEFT_FOOT),
                            (K.RIGHT_KNEE, K.RIGHT_ANKLE, K.RIGHT_FOOT)):
        angles[:, :, foot, 0] = -(angles[:, :, hip, 0] + angles[:, :, knee, 0])


def pose_bodies(offsets, angles, disp, yaw, lift, facing, position) -> np.ndarray:
    """Stage-frame joints (B, T, 25, 3): FK, root placed by facing + displacement, feet on the floor."""
    keep_feet_flat(angles)
    body_yaw = facing[:, None] + yaw
    root = position[:, None, :] + np.einsum("bij,btj->bti", rotation_y(facing), disp)
    joints = forward_kinematics(offsets, angles, root, body_yaw)
    feet = joints[:, :, [K.LEFT_ANKLE, K.LEFT_FOOT, K.RIGHT_ANKLE, K.RIGHT_FOOT], 1].min(-1)
    joints[..., 1] += (lift - feet)[..., None]  # lowest foot on the floor (y = 0) unless airborne
    return joints


def build_stage_motion(cfg: SyntheticConfig, rng: np.random.Generator):
    """All performances in the stage frame: joints (P, T, 25, 2 bodies, 3), the plan, the subjects."""
    subjects = sample_subjects(rng, cfg.num_subjects, cfg.style_scale, cfg.timing_scale)
    perf = plan_performances(cfg, subjects, rng)
    p, t = len(perf.subject), cfg.max_frames
    body1, body2 = action_motions(cfg, perf, subjects, t, rng)
    two = np.array([a.two_person for a in ACTIONS])[perf.action]
    # two-person actions: the pair faces each other across the stage centre, 1.0-1.4 m apart,
    # the line between them across the direction the performer would face alone
    yaw1 = perf.facing + np.where(two, np.pi / 2, 0.0)
    gap = rng.uniform(1.0, 1.4, p)
    facing_dir = np.stack([np.sin(yaw1), np.zeros(p), np.cos(yaw1)], 1)
    shift = np.where(two[:, None], 0.5 * gap[:, None] * facing_dir, 0.0)
    joints = np.zeros((p, t, K.NUM_JOINTS, 2, 3))
    for b, (m, who, yaw, pos) in enumerate((
            (body1, perf.subject, yaw1, perf.position - shift),
            (body2, perf.partner, yaw1 + np.pi, perf.position + shift))):
        rows = np.arange(p) if b == 0 else np.flatnonzero(two)
        if len(rows) == 0:
            continue
        base = subjects.posture[who[rows]][:, None] + fidget(rng, len(rows), t, cfg.performance_scale * deg(9))
        base += distractions(rng, len(rows), t, cfg.distraction_prob).angles
        drift = cfg.performance_scale * deg(rng.uniform(-20, 20, (len(rows), 1))) * np.linspace(0, 1, t)[None]
        joints[rows, :, :, b] = pose_bodies(
            subjects.offsets[who[rows]], base + m.angles[rows], m.disp[rows], m.yaw[rows] + drift,
            m.lift[rows], yaw[rows], pos[rows])
    return joints, perf


# -- the dataset ------------------------------------------------------------------------------
def sample_names(camera, subject, replication, action) -> list[str]:
    """NTU-style names from 1-based codes (setup is always 1)."""
    return [f"S001C{c:03d}P{s:03d}R{r:03d}A{a:03d}"
            for c, s, r, a in zip(camera.tolist(), subject.tolist(), replication.tolist(), action.tolist())]


def generate(config: SyntheticConfig | None = None) -> SkeletonData:
    """Every sample of the dataset in camera space (before pre-normalisation), meta filled.
    Rows are ordered by subject, action, replication, then camera."""
    cfg = config or SyntheticConfig()
    rng = np.random.default_rng(cfg.seed)
    joints, perf = build_stage_motion(cfg, rng)
    cams = observe(cfg, joints, rng)  # (P, K, T, 25, M, 3)
    p, k, t = cams.shape[:3]
    flat = cams.reshape(p * k, t, K.NUM_JOINTS, 2, 3)
    lengths = np.repeat(perf.length, k)
    two = np.repeat(np.array([a.two_person for a in ACTIONS])[perf.action], k)
    apply_dropouts(cfg, flat, lengths, rng)
    flat[:, :, :, 1][~two] = 0.0
    flat[np.arange(t)[None, :] >= lengths[:, None]] = 0.0
    data = np.ascontiguousarray(flat.transpose(0, 4, 1, 2, 3), dtype=np.float32)
    camera = np.tile(np.arange(1, k + 1), p)
    names = sample_names(camera, np.repeat(perf.subject + 1, k),
                         np.repeat(perf.replication + 1, k), np.repeat(perf.action + 1, k))
    return SkeletonData(data, lengths, np.repeat(perf.action, k), names,
                        meta=ntu_meta_from_names(names), source=f"synthetic:{cfg.digest()}",
                        num_classes=cfg.num_classes)
