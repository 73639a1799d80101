"""The embedded synthetic NTU-like dataset: jointed bodies performing actions, seen by 3 cameras.

Real skeleton data cannot be shipped, so new users, the tests and the benchmarks run on this.
Each sample is made by forward kinematics (`sslskel.data.kinematics`) of a 25-joint body with
per-subject bone lengths, moved by per-class motion primitives of arms, legs, torso and root.

What varies, as in NTU RGB+D 60:
- actions: 30 classes (`ACTION_NAMES`), the first `num_classes` (default 20) are used. They
  include pairs that differ only in the limb (raise / wave left vs right hand), the direction
  (step forward vs back, sit down vs stand up), the speed (slow point vs fast punch, clap vs
  fast clap) or the number of repetitions (jump once vs three times); two-person actions
  (handshake, push, hug, high five) have a second body, the others a zero second body;
- subjects: size and proportions (bone lengths), amplitude (overall and per class), tempo and
  resting posture (`style_scale`), and each subject's own manner of every action: a gain on
  each joint angle the action moves and an offset of every joint angle but the root while it
  is under way (`manner_scale`; `sample_manners`), shared by the subject's replications and
  cameras;
- performances: a random monotone time warp and the subject's tempo (`timing_scale`), a
  low-frequency "fidget" of every joint angle and a slow drift of the heading (up to
  +-12 deg) (`performance_scale`), and in half of them an unrelated arm movement (scratching,
  adjusting clothes) at a random time (`distraction_prob`); the partner in a two-person action
  is another subject with its own bones and manner;
- 2 replications per (subject, action): the subject faces camera 1 in the first and camera 3
  in the second, as NTU asked its performers to do;
- 3 Kinect-like cameras (azimuth -45, 0, +45 degrees, different heights and distances, all
  recording the SAME performance at the same time), camera-space metres: camera looks along
  +z, y up, x to the camera's left; subjects stand 2.5-3.5 m away;
- sensor noise: white noise growing with depth, plus smooth drift on joints the camera cannot
  see (behind the torso), which is what makes the camera matter after pre-normalisation;
  occasional tracking dropouts (a limb or the whole body 1 zero for 2-8 frames);
- 2-50 idle frames before and after the action; 30-150 frames per sample.

Names are `S001CcccPpppRrrrAaaa` (camera 1-3, performer = subject, replication 1-2, action =
label + 1), so `ntu_meta_from_names` and the official NTU split rules apply: `xsub` trains on
the NTU60 training subjects (1 2 4 5 8 9 13 14 15 16 17 18 19 of 1-20: 13 train / 7 test),
`xview` on cameras 2 and 3.

The cache (`ensure_synthetic`) is the CMD / HaLP layout (docs/methods.md, File formats) after the same
pre-normalisation users' CMD files went through (`sslskel.data.prenorm.pre_normalize`):
`<cache>/synthetic-<config hash>/<benchmark>/{train,val}_data_joint.npy` float32
(N, 3, max_frames, 25, 2), `{train,val}_num_frame.npy`, `{train,val}_label.pkl`.
Cache root: `$SSLSKEL_CACHE`, else `~/.cache/sslskel`. Each benchmark directory is written to
a temporary directory and renamed into place, so a reader never sees half a cache.

Deviation from real CMD files: frames after `num_frames` are zero (the 2s-AGCN script tiles
the sequence there); every reader crops to `num_frames`, so nothing downstream sees either.

Calibration (`benchmarks/calibrate_synthetic.py --epochs 16 --pretrain-epochs 15`, default
config, 1 CPU thread, 4 minutes; final-epoch test accuracy in %, seed 0; also in `CALIBRATION`):
    supervised BiGRU(128, 2 layers) + linear, xsub   87.5
    supervised, xview                                97.5
    1-NN (cosine) on raw pre-normalised coordinates  68.8        (xsub)
    linear probe on a frozen random-init BiGRU       30.7        (xsub)
    MoCo 15 epochs, online kNN k=1                   50.2        (xsub; random encoder 26.9)
Version 2 of this generator (little subject style, no manners) gave 98.1 / 97.8 / 93.7 / 41.8:
raw matching nearly as good as a trained encoder. Version 1 (strong per-performance fidgets
and distractions) gave 87.0 / 97.8 / 60.6 / 28.3, but pretraining learned nothing on it:
per-performance variation tells clips apart better than the actions, a shortcut for instance
discrimination. Version 3 puts the difficulty into per-(subject, action) manners instead,
which every test subject brings new but which no two clips of one performance differ in.
The README ("Synthetic data") has the measured effect of each knob.
As on NTU RGB+D (CTR-GCN 92.4 xsub vs 96.8 xview), cross-view is easier than cross-subject.

Example:
    >>> cfg = SyntheticConfig(num_classes=4, num_subjects=2, num_replications=1)
    >>> data = generate(cfg)
    >>> data.data.shape, len(data), data.names[0]
    ((24, 3, 150, 25, 2), 24, 'S001C001P001R001A001')
    >>> sorted(set(data.meta["camera"].tolist()))
    [1, 2, 3]
    >>> len(cross_view_partners(data.names)[0])
    2
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import kinematics as K
from .container import SkeletonData, ntu_meta_from_names, parse_ntu_name
from .kinematics import forward_kinematics, rotation_y, sample_bone_offsets
from .prenorm import pre_normalize
from .splits import ntu_split_mask

GENERATOR_VERSION = 3  # bump when the generated data changes, so old caches are not reused
FPS = 30.0
BENCHMARKS = ("xsub", "xview")

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

    @property
    def num_cameras(self) -> int:
        return len(self.camera_azimuths_deg)

    def digest(self) -> str:
        """Short hash of everything that changes the data (cache directory name)."""
        text = json.dumps({"version": GENERATOR_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


# -- waveforms (s: (n, T) action phase in [0, 1]) ------------------------------------------------
def ramp(s, a, b):
    """Smooth step from 0 at s <= a to 1 at s >= b."""
    x = np.clip((s - a) / (b - a), 0.0, 1.0)
    return x * x * (3 - 2 * x)


def hold(s, a, b, c, d):
    """Rise over [a, b], stay at 1, fall over [c, d]."""
    return ramp(s, a, b) - ramp(s, c, d)


def pulse(s, center, width):
    return np.exp(-0.5 * ((s - center) / width) ** 2)


def deg(x):
    return np.radians(x)


# -- a motion: joint angles and root movement of n bodies ---------------------------------------
class Motion:
    """Deltas an action adds to the idle pose: local Euler angles, root displacement in the
    body frame (metres), root yaw (radians) and airborne height (metres)."""

    def __init__(self, n: int, t: int):
        self.angles = np.zeros((n, t, K.NUM_JOINTS, 3))
        self.disp = np.zeros((n, t, 3))
        self.yaw = np.zeros((n, t))
        self.lift = np.zeros((n, t))

    def arm(self, side, flex=0.0, abd=0.0, horiz=0.0, elbow=0.0, elbow_side=0.0):
        """side +1 left, -1 right (or an (n, 1) array of them). flex: forward raise; abd:
        sideways raise; horiz: outward swing of a raised arm; elbow: elbow flexion;
        elbow_side: sideways forearm swing."""
        # upper-arm bone (ends at the elbow) = shoulder joint; forearm bone = elbow joint
        for sign, shoulder, elbow_joint, weight in self._sides(side, (K.LEFT_ELBOW, K.LEFT_WRIST),
                                                               (K.RIGHT_ELBOW, K.RIGHT_WRIST)):
            self.angles[:, :, shoulder, 0] -= weight * flex
            self.angles[:, :, shoulder, 1] += weight * sign * horiz
            self.angles[:, :, shoulder, 2] += weight * sign * abd
            self.angles[:, :, elbow_joint, 0] -= weight * elbow
            self.angles[:, :, elbow_joint, 2] += weight * sign * elbow_side

    def leg(self, side, flex=0.0, abd=0.0, knee=0.0):
        # thigh bone (ends at the knee) = hip joint; shin bone = knee joint
        for sign, hip, knee_joint, weight in self._sides(side, (K.LEFT_KNEE, K.LEFT_ANKLE),
                                                         (K.RIGHT_KNEE, K.RIGHT_ANKLE)):
            self.angles[:, :, hip, 0] -= weight * flex
            self.angles[:, :, hip, 2] += weight * sign * abd
            self.angles[:, :, knee_joint, 0] += weight * knee

    @staticmethod
    def _sides(side, left, right):
        """(sign, joint a, joint b, weight) for the left and right limb; weight 1 where the
        per-sample `side` picks that limb, 0 elsewhere."""
        is_left = (np.asarray(side) > 0).astype(float)
        return [(1.0, *left, is_left), (-1.0, *right, 1.0 - is_left)]

    def spine(self, bend=0.0, twist=0.0, side_bend=0.0):
        for joint, share in ((K.SPINE_MID, 0.6), (K.SPINE_SHOULDER, 0.4)):
            self.angles[:, :, joint, 0] += share * bend
            self.angles[:, :, joint, 1] += share * twist
            self.angles[:, :, joint, 2] += share * side_bend

    def nod(self, angle):
        self.angles[:, :, K.HEAD, 0] += angle


@dataclass
class ActionContext:
    s: np.ndarray  # (n, T) phase of the action, 0 before, 1 after
    amp: np.ndarray  # (n, 1) amplitude style
    phase: np.ndarray  # (n, 1) random phase for oscillations
    lead: np.ndarray  # (n, 1) +1 / -1: leading leg or turning direction (a nuisance)
    reps: np.ndarray  # (n, 1) a random number in [0, 1) to pick repetition counts

    def motion(self) -> Motion:
        return Motion(*self.s.shape)


# -- one-person primitives --------------------------------------------------------------------
def raise_hand(side):
    def make(c: ActionContext):
        m, h = c.motion(), hold(c.s, 0.0, 0.35, 0.65, 1.0)
        m.arm(side, flex=c.amp * deg(155) * h, abd=deg(12) * h, elbow=deg(12) * h)
        return m
    return make


def wave(side):
    def make(c):
        m, h = c.motion(), hold(c.s, 0.0, 0.2, 0.8, 1.0)
        cycles = 3 + np.floor(3 * c.reps)
        swing = np.sin(2 * np.pi * cycles * c.s + c.phase)
        m.arm(side, flex=deg(80) * h, horiz=deg(50) * h, elbow=deg(100) * h,
              elbow_side=c.amp * deg(35) * swing * h)
        return m
    return make


def punch(side):
    def make(c):
        m, guard = c.motion(), hold(c.s, 0.0, 0.15, 0.85, 1.0)
        strike = pulse(c.s, 0.38, 0.05) + pulse(c.s, 0.62, 0.05)
        for arm in (1, -1):
            m.arm(arm, flex=deg(20) * guard, elbow=deg(110) * guard, horiz=-deg(10) * guard)
        m.arm(side, flex=c.amp * deg(70) * strike, elbow=-deg(110) * strike)
        m.spine(twist=-side * deg(18) * strike)
        return m
    return make


def point(side):
    def make(c):
        m, h = c.motion(), hold(c.s, 0.0, 0.4, 0.75, 1.0)
        m.arm(side, flex=c.amp * deg(88) * h, horiz=-deg(8) * h, elbow=deg(5) * h)
        m.nod(deg(-5) * h)
        return m
    return make


def kick(side):
    def make(c):
        m = c.motion()
        chamber = hold(c.s, 0.15, 0.35, 0.42, 0.55)
        thrust = hold(c.s, 0.3, 0.45, 0.52, 0.75)
        m.leg(side, flex=c.amp * deg(75) * thrust + deg(20) * chamber, knee=deg(85) * chamber)
        for arm in (1, -1):
            m.arm(arm, abd=deg(25) * thrust, elbow=deg(30) * thrust)
        m.spine(bend=-deg(10) * thrust)
        return m
    return make


def squat(c):
    m, h = c.motion(), hold(c.s, 0.0, 0.35, 0.65, 1.0) * c.amp
    for side in (1, -1):
        m.leg(side, flex=deg(95) * h, knee=deg(115) * h)
        m.arm(side, flex=deg(75) * h)
    m.spine(bend=deg(25) * h)
    return m


def jump_once(c):
    m = c.motion()
    crouch = hold(c.s, 0.1, 0.3, 0.33, 0.42) + hold(c.s, 0.62, 0.7, 0.75, 0.92)
    air = np.sin(np.pi * np.clip((c.s - 0.4) / 0.24, 0, 1))
    for side in (1, -1):
        m.leg(side, flex=deg(60) * crouch, knee=deg(80) * crouch)
        m.arm(side, flex=-deg(35) * crouch + c.amp * deg(140) * air)
    m.spine(bend=deg(20) * crouch)
    m.lift += c.amp * 0.3 * air
    return m


def jump_three(c):
    m = c.motion()
    active = hold(c.s, 0.0, 0.06, 0.94, 1.0)
    u = 3 * c.s
    crouch = 0.5 * (1 + np.cos(2 * np.pi * u)) * active
    air = np.maximum(0.0, -np.cos(2 * np.pi * u)) * active
    for side in (1, -1):
        m.leg(side, flex=deg(35) * crouch, knee=deg(50) * crouch)
        m.arm(side, abd=deg(25) * air, elbow=deg(20) * crouch)
    m.spine(bend=deg(10) * crouch)
    m.lift += c.amp * 0.15 * air
    return m


def bow(c):
    m, h = c.motion(), hold(c.s, 0.0, 0.35, 0.6, 1.0) * c.amp
    m.spine(bend=deg(55) * h)
    m.nod(deg(15) * h)
    for side in (1, -1):  # arms keep hanging while the torso bends
        m.arm(side, flex=deg(45) * h, horiz=-deg(5) * h)
    return m


def turn_around(c):
    m = c.motion()
    m.yaw += c.lead * np.pi * ramp(c.s, 0.1, 0.9)
    steps = np.sin(2 * np.pi * 3 * c.s) * hold(c.s, 0.05, 0.15, 0.85, 0.95)
    for side in (1, -1):
        lift = np.maximum(0.0, side * steps)
        m.leg(side, flex=deg(25) * lift, knee=deg(40) * lift)
    return m


def step(direction):
    def make(c):
        m = c.motion()
        lead_leg = hold(c.s, 0.1, 0.28, 0.32, 0.5)
        trail_leg = hold(c.s, 0.45, 0.6, 0.65, 0.8)
        lead, trail = c.lead, -c.lead
        if direction > 0:  # forward: swing the lead thigh forward, then bring the other one
            m.leg(lead, flex=deg(35) * lead_leg, knee=deg(30) * lead_leg)
            m.leg(trail, flex=deg(25) * trail_leg, knee=deg(45) * trail_leg)
        else:  # backward: the lead thigh extends behind with the knee bent
            m.leg(lead, flex=-deg(25) * lead_leg, knee=deg(45) * lead_leg)
            m.leg(trail, flex=-deg(15) * trail_leg, knee=deg(35) * trail_leg)
            m.spine(bend=deg(6) * lead_leg)
        m.disp[..., 2] += direction * c.amp * 0.45 * ramp(c.s, 0.15, 0.75)
        return m
    return make


def clap(speed):
    def make(c):
        m, h = c.motion(), hold(c.s, 0.0, 0.2, 0.8, 1.0)
        cycles = speed * (3 + np.floor(3 * c.reps))
        open_ = 0.5 + 0.5 * np.cos(2 * np.pi * cycles * ramp(c.s, 0.2, 0.8))
        for side in (1, -1):
            m.arm(side, flex=deg(75) * h, elbow=deg(40) * h,
                  horiz=(c.amp * deg(45) * open_ - deg(20)) * h)
        return m
    return make


def throw(c):
    side = -1  # right hand
    m = c.motion()
    windup = hold(c.s, 0.1, 0.4, 0.48, 0.56)
    release = hold(c.s, 0.48, 0.58, 0.7, 0.9)
    m.arm(side, flex=deg(160) * windup + c.amp * deg(75) * release, elbow=deg(100) * windup,
          horiz=deg(25) * windup)
    m.arm(-side, flex=deg(50) * windup, abd=deg(20) * release)
    m.spine(twist=side * deg(25) * windup - side * deg(25) * release, bend=deg(15) * release)
    m.leg(-side, flex=deg(25) * hold(c.s, 0.3, 0.5, 0.7, 0.9))
    return m


def seated(p, m, amp):
    """Posture blending from standing (p=0) to seated on a chair (p=1)."""
    for side in (1, -1):
        m.leg(side, flex=deg(88) * p, knee=deg(88) * p)
        m.arm(side, flex=deg(35) * p + deg(35) * 4 * p * (1 - p), elbow=deg(35) * p)
    m.spine(bend=amp * deg(35) * 4 * p * (1 - p) + deg(5) * p)
    m.disp[..., 2] -= 0.25 * p


def sit_down(c):
    m = c.motion()
    seated(ramp(c.s, 0.1, 0.8), m, c.amp)
    return m


def stand_up(c):
    m = c.motion()
    seated(1 - ramp(c.s, 0.2, 0.9), m, c.amp)
    return m


def nod_head(c):
    m = c.motion()
    cycles = 2 + np.floor(2 * c.reps)
    m.nod(c.amp * deg(22) * np.maximum(0, np.sin(2 * np.pi * cycles * c.s)) * hold(c.s, 0, .1, .9, 1))
    return m


def touch_head(c):
    m, h = c.motion(), hold(c.s, 0.0, 0.35, 0.7, 1.0)
    m.arm(-1, flex=deg(130) * h, abd=deg(25) * h, horiz=-deg(25) * h, elbow=c.amp * deg(125) * h)
    m.nod(deg(10) * h)
    return m


def reach_up(c):
    m, h = c.motion(), hold(c.s, 0.0, 0.35, 0.65, 1.0)
    for side in (1, -1):
        m.arm(side, flex=c.amp * deg(165) * h, abd=deg(10) * h)
    m.spine(bend=-deg(10) * h)
    m.nod(-deg(15) * h)
    m.lift += 0.05 * h
    return m


def side_step(side):
    def make(c):
        m = c.motion()
        first = hold(c.s, 0.1, 0.28, 0.32, 0.5)
        second = hold(c.s, 0.45, 0.6, 0.65, 0.8)
        m.leg(side, abd=deg(25) * first, knee=deg(15) * first)
        m.leg(-side, abd=deg(15) * second, knee=deg(15) * second)
        m.disp[..., 0] += side * c.amp * 0.4 * ramp(c.s, 0.15, 0.75)
        return m
    return make


# -- two-person primitives: return (motion of body 1, motion of body 2) -------------------------
def approach(m, s, distance, start=0.0, meet=0.3, part=0.75, end=1.0):
    m.disp[..., 2] += distance * hold(s, start, meet, part, end)


def handshake(c):
    ms = c.motion(), c.motion()
    h = hold(c.s, 0.1, 0.3, 0.7, 0.9)
    shake = np.sin(2 * np.pi * 3 * c.s) * hold(c.s, 0.3, 0.4, 0.6, 0.7)
    for m in ms:
        approach(m, c.s, 0.2, meet=0.25, part=0.8)
        m.arm(-1, flex=deg(50) * h + c.amp * deg(10) * shake, elbow=deg(35) * h, horiz=-deg(12) * h)
    return ms


def push(c):
    pusher, pushed = c.motion(), c.motion()
    arms = hold(c.s, 0.2, 0.35, 0.5, 0.75)
    extend = ramp(c.s, 0.38, 0.47)
    for side in (1, -1):
        pusher.arm(side, flex=deg(85) * arms, elbow=deg(90) * arms * (1 - extend), horiz=-deg(10) * arms)
    pusher.disp[..., 2] += 0.2 * ramp(c.s, 0.3, 0.5)
    hit = hold(c.s, 0.42, 0.5, 0.6, 0.8)
    pushed.disp[..., 2] -= c.amp * 0.35 * ramp(c.s, 0.42, 0.65)
    pushed.spine(bend=-deg(15) * hit)
    for side in (1, -1):
        pushed.arm(side, abd=deg(30) * hit, flex=deg(20) * hit)
    pushed.leg(c.lead, flex=-deg(25) * hit, knee=deg(30) * hit)
    return pusher, pushed


def hug(c):
    ms = c.motion(), c.motion()
    h = hold(c.s, 0.2, 0.4, 0.7, 0.85)
    for m in ms:
        approach(m, c.s, 0.3, meet=0.35, part=0.75)
        for side in (1, -1):
            m.arm(side, flex=deg(80) * h, elbow=c.amp * deg(70) * h, horiz=-deg(15) * h)
        m.spine(bend=deg(8) * h)
    return ms


def high_five(c):
    ms = c.motion(), c.motion()
    h = hold(c.s, 0.2, 0.4, 0.5, 0.7)
    for m in ms:
        approach(m, c.s, 0.15, meet=0.3, part=0.7)
        m.arm(-1, flex=c.amp * deg(150) * h, elbow=deg(30) * h, horiz=-deg(10) * h)
    return ms


@dataclass(frozen=True)
class Action:
    name: str
    make: object  # ActionContext -> Motion (one person) or (Motion, Motion)
    frames: int  # duration of the action part at tempo 1
    two_person: bool = False


ACTIONS = (
    Action("raise right hand", raise_hand(-1), 60),
    Action("raise left hand", raise_hand(1), 60),
    Action("wave right hand", wave(-1), 75),
    Action("wave left hand", wave(1), 75),
    Action("punch (right)", punch(-1), 55),
    Action("point forward (right)", point(-1), 65),
    Action("kick (right)", kick(-1), 50),
    Action("squat", squat, 70),
    Action("jump", jump_once, 50),
    Action("jump three times", jump_three, 75),
    Action("bow", bow, 65),
    Action("turn around", turn_around, 70),
    Action("step forward", step(1), 55),
    Action("step back", step(-1), 55),
    Action("clap", clap(1), 60),
    Action("throw (right)", throw, 55),
    Action("sit down", sit_down, 70),
    Action("stand up", stand_up, 70),
    Action("handshake", handshake, 80, True),
    Action("push", push, 55, True),
    Action("hug", hug, 85, True),
    Action("kick (left)", kick(1), 50),
    Action("punch (left)", punch(1), 55),
    Action("nod head", nod_head, 45),
    Action("touch head", touch_head, 60),
    Action("reach up", reach_up, 60),
    Action("side step left", side_step(1), 55),
    Action("side step right", side_step(-1), 55),
    Action("clap fast", clap(2), 45),
    Action("high five", high_five, 55, True),
)
ACTION_NAMES = tuple(a.name for a in ACTIONS)


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


# -- cameras, noise, dropouts -----------------------------------------------------------------
def camera_poses(cfg: SyntheticConfig) -> tuple[np.ndarray, np.ndarray]:
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


def observe(cfg: SyntheticConfig, joints: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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


def apply_dropouts(cfg: SyntheticConfig, data: np.ndarray, lengths: np.ndarray,
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


def cross_view_partners(names: list[str]) -> dict[int, list[int]]:
    """Index -> indices of the same performance (setup, subject, replication, action) seen by
    the other cameras. Names that do not parse have no partners."""
    groups: dict[tuple, list[int]] = {}
    keys = []
    for i, name in enumerate(names):
        parsed = parse_ntu_name(name)
        key = None if parsed is None else (parsed["setup"], parsed["subject"],
                                           parsed["replication"], parsed["action"])
        keys.append(key)
        if key is not None:
            groups.setdefault(key, []).append(i)
    return {i: [j for j in groups[key] if j != i] if key is not None else []
            for i, key in enumerate(keys)}


# -- cache --------------------------------------------------------------------------------------
def cache_root(cache_dir=None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get("SSLSKEL_CACHE") or Path.home() / ".cache" / "sslskel")


CACHE_FILES = tuple(f"{split}_{kind}" for split in ("train", "val")
                    for kind in ("data_joint.npy", "num_frame.npy", "label.pkl"))


def is_complete(directory: Path) -> bool:
    return all((directory / f).is_file() for f in CACHE_FILES)


def write_cmd_split(directory: Path, data: SkeletonData, normalized: np.ndarray, split: str, mask) -> None:
    rows = np.flatnonzero(mask)
    np.save(directory / f"{split}_data_joint.npy", normalized[rows])
    np.save(directory / f"{split}_num_frame.npy", data.num_frames[rows])
    with open(directory / f"{split}_label.pkl", "wb") as f:
        pickle.dump(([data.names[i] for i in rows], [int(v) for v in data.labels[rows]]), f)


def write_benchmark_atomically(target: Path, data: SkeletonData, normalized: np.ndarray,
                               benchmark: str, cfg: SyntheticConfig) -> None:
    """Write the CMD files of one benchmark into a temp dir beside `target`, then rename it.
    If another process finished first, its copy is kept and ours discarded."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        for split in ("train", "val"):
            write_cmd_split(tmp, data, normalized, split, ntu_split_mask(data.meta, benchmark, split))
        (tmp / "synthetic_config.json").write_text(json.dumps(asdict(cfg), indent=1))
        try:
            os.rename(tmp, target)
        except OSError:
            if not is_complete(target):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def normalized_copy(data: SkeletonData) -> np.ndarray:
    """CMD pre-normalisation; frames after each sample's length set back to zero."""
    out = pre_normalize(data.data, data.num_frames)
    valid = np.arange(out.shape[2])[None, :] < data.num_frames[:, None]  # (N, T)
    return out * valid[:, None, :, None, None]


def ensure_synthetic(benchmark: str = "xsub", config: SyntheticConfig | None = None,
                     cache_dir=None) -> Path:
    """Directory holding the CMD-layout files of `benchmark` ('xsub' or 'xview'), generated
    (both benchmarks at once) if missing."""
    if benchmark not in BENCHMARKS:
        raise ValueError(f"unknown synthetic benchmark {benchmark!r}; valid: {', '.join(BENCHMARKS)}")
    cfg = config or SyntheticConfig()
    base = cache_root(cache_dir) / f"synthetic-{cfg.digest()}"
    if is_complete(base / benchmark):
        return base / benchmark
    data = generate(cfg)
    normalized = normalized_copy(data)
    for name in BENCHMARKS:
        if not is_complete(base / name):
            write_benchmark_atomically(base / name, data, normalized, name, cfg)
    return base / benchmark


# -- raw .skeleton files ------------------------------------------------------------------------
def write_raw_skeleton_files(out_dir, config: SyntheticConfig | None = None, limit: int = 12,
                             data: SkeletonData | None = None) -> list[Path]:
    """Write `limit` samples spread evenly over the dataset (so several subjects and actions)
    as NTU `.skeleton` text files in camera space; returns their paths. A body that is all
    zero in a frame (absent, or a whole-body dropout) is left out of that frame. `data`
    (e.g. from `generate`) avoids generating again."""
    from .ntu_raw import write_ntu_skeleton

    data = data if data is not None else generate(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    rows = np.unique(np.linspace(0, len(data) - 1, min(limit, len(data))).round().astype(int))
    for i in rows.tolist():
        x = data.sample(i)[:, : data.num_frames[i]]  # (3, T, 25, M)
        ids = [str(72057594037927936 + 1000 * i + m) for m in range(x.shape[3])]
        frames = [[(ids[m], x[:, f, :, m].T) for m in range(x.shape[3]) if np.any(x[:, f, :, m])]
                  for f in range(x.shape[1])]
        path = out / f"{data.names[i]}.skeleton"
        write_ntu_skeleton(path, frames)
        paths.append(path)
    return paths
