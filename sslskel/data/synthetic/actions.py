"""The synthetic set's actions: waveforms over an action's phase, a `Motion` (joint-angle and root
deltas on top of the idle pose), one- and two-person primitives, and the `ACTIONS` table.

Example:
    >>> len(ACTIONS), ACTION_NAMES[:2]
    (30, ('raise right hand', 'raise left hand'))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import kinematics as K


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
