"""Procedural SMPL motions with labels, joint limits and blended transitions.

Pose representation: per joint three Euler angles ``(a, b, c)`` in radians with ``R = Rx(a) @ Ry(b) @ Rz(c)``
(rotate about z first, then y, then x, all about the parent's axes), in SMPL's local frames: y up, x = the
subject's left, z forward. With this order the T-pose arm lies along x, so ``c`` raises/lowers it in the frontal
plane, ``b`` swings it forward in the horizontal plane and ``a`` swings the lowered arm forward/back; for legs and
spine ``a`` is flexion. Right-side joints mirror the left: same ``a``, negated ``b`` and ``c``.

Joint limits (degrees, left side; right side mirrored), applied to every pose by clipping, so linear blends of
poses stay inside them (the box is convex):

======================  =============  ============  =============
joint                   a (x)          b (y)         c (z)
======================  =============  ============  =============
hip                     -125 .. 30     -40 .. 40     -20 .. 45      (a < 0: thigh forward; c > 0: abduction)
knee                    0 .. 140       -5 .. 5       -5 .. 5        (a > 0: flexion)
ankle                   -30 .. 45      -20 .. 20     -20 .. 20
foot (toes)             -20 .. 20      0             0
spine1/2/3              -15 .. 35      -25 .. 25     -20 .. 20      (a > 0: forward bend; up to 105 deg total)
neck                    -30 .. 40      -40 .. 40     -25 .. 25
head                    -25 .. 30      -45 .. 45     -20 .. 20
collar                  -15 .. 15      -15 .. 15     -10 .. 30
shoulder                -170 .. 70     -100 .. 40    -95 .. 95      (c = -72: arm hanging; a < 0: forward)
elbow                   -10 .. 10      -150 .. 0     -10 .. 10      (b < 0: flexion of the left elbow)
wrist                   -40 .. 40      -40 .. 40     -40 .. 40
hand                    -15 .. 15      -15 .. 15     -15 .. 15
======================  =============  ============  =============

Motions (:data:`MOTIONS`): walk, run, turn (stepping on the spot while yawing), idle (sway, breathing, looking
around), wave, reach, point, squat, sit (sit down, hold, stand up), bend (forward bend), sidestep. Each motion
maps local time ``t`` (seconds, may be negative during a blend-in) and sampled parameters to Euler angles (T, 24, 3)
and root motion in the body frame: forward and leftward speed (m/s) and yaw rate (rad/s). Cyclic motions (walk,
run, turn, sidestep, wave) run at a random cadence and phase; one-shot motions (reach, point, squat, sit, bend) ease
in and out with smoothsteps over 0.5-1.0 s. A person's timeline is a sequence of 1.2-4 s segments; consecutive
segments cross-fade over :data:`BLEND_S` seconds with a smoothstep weight, and a frame's label is the motion with
the larger weight. Peak joint angular speed stays below ~20 rad/s (running knees ~15).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["MOTIONS", "BLEND_S", "JOINT_LIMITS_DEG", "euler_to_rotmat", "rotmat_to_euler", "Segment",
           "PersonMotion", "motion_pose", "sample_params", "sample_timeline", "evaluate_timeline"]

MOTIONS = ("walk", "run", "turn", "idle", "wave", "reach", "point", "squat", "sit", "bend", "sidestep")
BLEND_S = 0.5

L_HIP, R_HIP, SPINE1, L_KNEE, R_KNEE, SPINE2, L_ANKLE, R_ANKLE, SPINE3, L_FOOT, R_FOOT, NECK = range(1, 13)
L_COLLAR, R_COLLAR, HEAD, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST, L_HAND, R_HAND = range(13, 24)


def _limits() -> np.ndarray:
    lim = np.zeros((24, 3, 2))
    left = {
        L_HIP: [(-125, 30), (-40, 40), (-20, 45)], L_KNEE: [(0, 140), (-5, 5), (-5, 5)],
        L_ANKLE: [(-30, 45), (-20, 20), (-20, 20)], L_FOOT: [(-20, 20), (0, 0), (0, 0)],
        L_COLLAR: [(-15, 15), (-15, 15), (-10, 30)], L_SHOULDER: [(-170, 70), (-100, 40), (-95, 95)],
        L_ELBOW: [(-10, 10), (-150, 0), (-10, 10)], L_WRIST: [(-40, 40)] * 3, L_HAND: [(-15, 15)] * 3,
    }
    mirror = {L_HIP: R_HIP, L_KNEE: R_KNEE, L_ANKLE: R_ANKLE, L_FOOT: R_FOOT, L_COLLAR: R_COLLAR,
              L_SHOULDER: R_SHOULDER, L_ELBOW: R_ELBOW, L_WRIST: R_WRIST, L_HAND: R_HAND}
    for j, rows in left.items():
        lim[j] = rows
        r = np.array(rows, dtype=float)
        lim[mirror[j]] = np.stack([r[0], -r[1, ::-1], -r[2, ::-1]])
    for j in (SPINE1, SPINE2, SPINE3):
        lim[j] = [(-15, 35), (-25, 25), (-20, 20)]
    lim[NECK] = [(-30, 40), (-40, 40), (-25, 25)]
    lim[HEAD] = [(-25, 30), (-45, 45), (-20, 20)]
    return lim


#: (24, 3, 2) lower/upper Euler limits in degrees (joint 0, the root, is unconstrained: zeros here).
JOINT_LIMITS_DEG = _limits()
_LIM = np.deg2rad(JOINT_LIMITS_DEG)


def euler_to_rotmat(e: np.ndarray) -> np.ndarray:
    """(..., 3) Euler angles (a, b, c), radians -> (..., 3, 3) ``Rx(a) @ Ry(b) @ Rz(c)``."""
    ca, cb, cc = np.cos(e[..., 0]), np.cos(e[..., 1]), np.cos(e[..., 2])
    sa, sb, sc = np.sin(e[..., 0]), np.sin(e[..., 1]), np.sin(e[..., 2])
    R = np.empty(e.shape[:-1] + (3, 3))
    R[..., 0, 0], R[..., 0, 1], R[..., 0, 2] = cb * cc, -cb * sc, sb
    R[..., 1, 0] = ca * sc + sa * sb * cc
    R[..., 1, 1] = ca * cc - sa * sb * sc
    R[..., 1, 2] = -sa * cb
    R[..., 2, 0] = sa * sc - ca * sb * cc
    R[..., 2, 1] = sa * cc + ca * sb * sc
    R[..., 2, 2] = ca * cb
    return R


def rotmat_to_euler(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) Euler angles of :func:`euler_to_rotmat` (unique for |b| < 90 deg)."""
    b = np.arcsin(np.clip(R[..., 0, 2], -1.0, 1.0))
    a = np.arctan2(-R[..., 1, 2], R[..., 2, 2])
    c = np.arctan2(-R[..., 0, 1], R[..., 0, 0])
    return np.stack([a, b, c], axis=-1)


def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _sym(E: np.ndarray, left: int, right: int, a=0.0, b=0.0, c=0.0, a_r=None, b_r=None, c_r=None) -> None:
    """Add angles to a left joint and its mirror (right: same a, negated b and c; *_r override the right)."""
    E[:, left] += np.stack(np.broadcast_arrays(a, b, c, np.zeros(len(E)))[:3], -1)
    ar = a if a_r is None else a_r
    br = b if b_r is None else b_r
    cr = c if c_r is None else c_r
    E[:, right] += np.stack(np.broadcast_arrays(ar, -np.asarray(br), -np.asarray(cr), np.zeros(len(E)))[:3], -1)


def _neutral(T: int) -> np.ndarray:
    """Standing with arms hanging (72 deg down) and slightly bent elbows."""
    E = np.zeros((T, 24, 3))
    _sym(E, L_SHOULDER, R_SHOULDER, c=-1.25)
    _sym(E, L_ELBOW, R_ELBOW, b=-0.25)
    return E


def _gait(t, p, hip, knee_lo, knee, arm, elbow, lean):
    """Shared walk/run cycle: ``phase`` in radians, 2 pi per stride (left + right step)."""
    T = len(t)
    ph = p["phase"] + 2 * np.pi * p["cadence"] * t
    s, c = np.sin(ph), np.cos(ph)
    E = _neutral(T)
    _sym(E, L_HIP, R_HIP, a=-hip * s - 0.1 * hip, a_r=hip * s - 0.1 * hip)
    _sym(E, L_KNEE, R_KNEE, a=knee_lo + knee * np.maximum(0, c) ** 2, a_r=knee_lo + knee * np.maximum(0, -c) ** 2)
    _sym(E, L_ANKLE, R_ANKLE, a=-0.15 * s, a_r=0.15 * s)
    E[:, SPINE1, 1] += 0.06 * s
    E[:, SPINE1, 0] += lean
    _sym(E, L_SHOULDER, R_SHOULDER, a=arm * s, a_r=-arm * s)
    _sym(E, L_ELBOW, R_ELBOW, b=-elbow - 0.15 * np.maximum(0, -s), b_r=-elbow - 0.15 * np.maximum(0, s))
    return E


def _envelope(t, p):
    """0 -> 1 -> 0 over the segment: ease in over ``rise`` s, hold, ease out before ``duration``."""
    return _smooth(t / p["rise"]) * _smooth((p["duration"] - t) / p["rise"])


def motion_pose(name: str, t: np.ndarray, p: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pose and root motion of one motion.

    Args:
        name: one of :data:`MOTIONS`. t: (T,) local time in seconds. p: parameters from :func:`sample_params`.
    Returns:
        euler (T, 24, 3) radians (joint 0 zero, clipped to the limits), velocity (T, 2) m/s in the body frame
        (forward, left), yaw_rate (T,) rad/s.
    """
    t = np.asarray(t, dtype=np.float64)
    T = len(t)
    vel, yaw = np.zeros((T, 2)), np.full(T, p.get("curve", 0.0))
    side = p.get("side", 1.0)  # 1: left arm, -1: right arm
    arm_j, elbow_j = (L_SHOULDER, L_ELBOW) if side > 0 else (R_SHOULDER, R_ELBOW)
    m = np.array([1.0, side, side])  # mirror factor for the chosen side's b and c
    if name == "walk":
        E = _gait(t, p, 0.45 * p["amp"], 0.1, 0.8, 0.35 * p["amp"], 0.3, 0.03)
        vel[:, 0] = p["speed"]
    elif name == "run":
        E = _gait(t, p, 0.7 * p["amp"], 0.3, 1.5, 0.6 * p["amp"], 1.3, 0.18)
        vel[:, 0] = p["speed"]
    elif name == "sidestep":
        ph = p["phase"] + 2 * np.pi * p["cadence"] * t
        E = _neutral(T)
        open_ = 0.22 * np.maximum(0, np.sin(ph))
        _sym(E, L_HIP, R_HIP, a=-0.1, c=open_ if p["dir"] > 0 else open_ * 0.3,
             c_r=open_ * 0.3 if p["dir"] > 0 else open_)
        _sym(E, L_KNEE, R_KNEE, a=0.15 + 0.2 * np.maximum(0, np.cos(ph)), a_r=0.15 + 0.2 * np.maximum(0, -np.cos(ph)))
        vel[:, 1] = p["dir"] * p["speed"] * (0.6 + 0.4 * np.sin(ph) ** 2)
        yaw[:] = 0.0
    elif name == "turn":
        ph = p["phase"] + 2 * np.pi * p["cadence"] * t
        E = _neutral(T)
        _sym(E, L_HIP, R_HIP, a=-0.35 * np.maximum(0, np.sin(ph)), a_r=-0.35 * np.maximum(0, -np.sin(ph)))
        _sym(E, L_KNEE, R_KNEE, a=0.6 * np.maximum(0, np.sin(ph)), a_r=0.6 * np.maximum(0, -np.sin(ph)))
        E[:, HEAD, 1] += 0.3 * np.sign(p["yaw_rate"])
        yaw[:] = p["yaw_rate"]
    elif name == "idle":
        E = _neutral(T)
        w = 2 * np.pi * t
        _sym(E, L_HIP, R_HIP, c=0.05 * np.sin(0.3 * w + p["phase"]))
        E[:, SPINE3, 0] += 0.03 * np.sin(0.25 * w)
        E[:, SPINE2, 2] += 0.04 * np.sin(0.3 * w + p["phase"])
        E[:, HEAD, 1] += p["look"] * np.sin(0.15 * w + p["phase"])
        E[:, NECK, 0] += 0.1 * np.sin(0.1 * w)
        _sym(E, L_SHOULDER, R_SHOULDER, a=0.05 * np.sin(0.2 * w))
    elif name == "wave":
        e = _envelope(t, p)[:, None]
        E = _neutral(T)
        target = np.zeros((24, 3))
        target[arm_j] = _WAVE_SHOULDER * m
        target[elbow_j] = np.array([0.0, -1.2 * side, 0.0])
        E[:, [arm_j, elbow_j]] = (1 - e[..., None]) * E[:, [arm_j, elbow_j]] + e[..., None] * target[[arm_j, elbow_j]]
        E[:, elbow_j, 1] += e[:, 0] * side * 0.4 * np.sin(p["phase"] + 2 * np.pi * p["cadence"] * t)
        E[:, HEAD, 1] += e[:, 0] * 0.2 * side
    elif name in ("reach", "point"):
        e = _envelope(t, p)[:, None]
        E = _neutral(T)
        if name == "reach":  # arm forward at elevation ``elev`` (0 = horizontal), elbow almost straight
            tgt_arm = np.array([-(np.pi / 2 + p["elev"]), 0.0, -np.pi / 2]) * m
            tgt_elbow = np.array([0.0, -0.1 * side, 0.0])
            E[:, SPINE2, 0] += e[:, 0] * 0.25 * max(0.0, -p["elev"]) * 2
        else:  # arm horizontal, swung forward by ``azim`` from the side
            tgt_arm = np.array([p["elev"] * 0.3, -p["azim"], 0.0]) * m
            tgt_elbow = np.array([0.0, -0.05 * side, 0.0])
            E[:, HEAD, 1] += e[:, 0] * 0.3 * side
        E[:, arm_j] = (1 - e) * E[:, arm_j] + e * tgt_arm
        E[:, elbow_j] = (1 - e) * E[:, elbow_j] + e * tgt_elbow
    elif name in ("squat", "sit", "bend"):
        e = _envelope(t, p)[:, None]
        E = _neutral(T)
        d = p["depth"]
        if name == "squat":
            hip, knee, ankle, lean, arms = -1.75 * d, 2.2 * d, 0.6 * d, 0.25 * d, -1.0 * d
        elif name == "sit":
            hip, knee, ankle, lean, arms = -1.5 * d, 1.55 * d, 0.0, 0.1 * d, -0.3 * d
        else:
            hip, knee, ankle, lean, arms = -0.6 * d, 0.15 * d, -0.1 * d, 0.55 * d, -0.6 * d
        _sym(E, L_HIP, R_HIP, a=hip * e[:, 0], c=0.08 * e[:, 0])
        _sym(E, L_KNEE, R_KNEE, a=knee * e[:, 0])
        _sym(E, L_ANKLE, R_ANKLE, a=ankle * e[:, 0])
        for j in (SPINE1, SPINE2, SPINE3):
            E[:, j, 0] += lean * e[:, 0]
        E[:, NECK, 0] -= 0.5 * lean * e[:, 0]  # keep looking ahead
        _sym(E, L_SHOULDER, R_SHOULDER, a=arms * e[:, 0])
    else:
        raise ValueError(f"motion_pose: unknown motion {name!r}; known: {MOTIONS}")
    E[:, 0] = 0.0
    return np.clip(E, _LIM[..., 0], _LIM[..., 1]), vel, yaw


# Waving shoulder: the upper arm raised 20 deg above horizontal, twisted by -90 deg about itself so the elbow's
# flexion lifts the forearm upward (composed, then written in this module's Euler order).
_WAVE_SHOULDER = rotmat_to_euler(euler_to_rotmat(np.array([0.0, 0.0, 0.35])) @ euler_to_rotmat(np.array([-1.5, 0.0, 0.0])))


def sample_params(name: str, rng: np.random.Generator, duration: float) -> dict:
    """Random speed, cadence, phase, amplitude, side, depth... for one segment of ``duration`` seconds."""
    p = {"phase": rng.uniform(0, 2 * np.pi), "duration": duration, "rise": rng.uniform(0.5, 1.0),
         "side": float(rng.choice([-1.0, 1.0])), "curve": 0.0}
    p["rise"] = min(p["rise"], duration / 2.2)
    if name == "walk":
        p.update(speed=rng.uniform(0.7, 1.7), amp=rng.uniform(0.8, 1.2), curve=rng.normal(0, 0.15))
        p["cadence"] = 0.9 * (0.6 + 0.4 * p["speed"])
    elif name == "run":
        p.update(speed=rng.uniform(2.0, 4.0), amp=rng.uniform(0.85, 1.15), curve=rng.normal(0, 0.1),
                 cadence=rng.uniform(1.3, 1.6))
    elif name == "sidestep":
        p.update(speed=rng.uniform(0.3, 0.8), cadence=rng.uniform(0.8, 1.2), dir=float(rng.choice([-1.0, 1.0])))
    elif name == "turn":
        p.update(cadence=rng.uniform(0.8, 1.1), yaw_rate=float(rng.choice([-1, 1]) * rng.uniform(0.8, 2.0)))
    elif name == "idle":
        p.update(look=rng.uniform(0.1, 0.6))
    elif name == "wave":
        p.update(cadence=rng.uniform(1.2, 2.2))
    elif name == "reach":
        p.update(elev=rng.uniform(-0.7, 1.0))
    elif name == "point":
        p.update(elev=rng.uniform(-0.3, 0.3), azim=rng.uniform(0.6, 1.6))
    elif name in ("squat", "sit", "bend"):
        p.update(depth=rng.uniform(0.6, 1.0))
    elif name not in MOTIONS:
        raise ValueError(f"sample_params: unknown motion {name!r}; known: {MOTIONS}")
    return p


@dataclass
class Segment:
    """One motion from ``start`` for ``duration`` seconds (params from :func:`sample_params`)."""

    name: str
    start: float
    duration: float
    params: dict = field(default_factory=dict)


@dataclass
class PersonMotion:
    """A person's motion sampled at times t (T,): euler (T, 24, 3) rad, velocity (T, 2) m/s body frame
    (forward, left), yaw_rate (T,) rad/s, label (T,) int index into :data:`MOTIONS`."""

    euler: np.ndarray
    velocity: np.ndarray
    yaw_rate: np.ndarray
    label: np.ndarray


def sample_timeline(rng: np.random.Generator, duration: float, motions: tuple[str, ...] = MOTIONS,
                    first: str | None = None) -> list[Segment]:
    """Consecutive segments of 1.2-4 s (longer than :data:`BLEND_S`) covering [0, ``duration``]; the first may
    start before 0 so a clip does not always open at a motion's start."""
    segs, start = [], -rng.uniform(0.0, 1.5)
    while start < duration:
        name = first if (first is not None and not segs) else str(rng.choice(motions))
        dur = float(rng.uniform(1.2, 4.0))
        segs.append(Segment(name, start, dur, sample_params(name, rng, dur)))
        start += dur
    return segs


def evaluate_timeline(segments: list[Segment], t: np.ndarray) -> PersonMotion:
    """Cross-fade the segments: weight of segment i rises over [start - B/2, start + B/2] and falls the same way
    at its end (smoothstep, B = :data:`BLEND_S`); the weights of neighbours sum to 1."""
    t = np.asarray(t, dtype=np.float64)
    E, vel, yaw = np.zeros((len(t), 24, 3)), np.zeros((len(t), 2)), np.zeros(len(t))
    weights = []
    for i, s in enumerate(segments):
        w_in = np.ones_like(t) if i == 0 else _smooth((t - s.start) / BLEND_S + 0.5)
        end = s.start + s.duration
        w_out = np.ones_like(t) if i == len(segments) - 1 else 1.0 - _smooth((t - end) / BLEND_S + 0.5)
        w = w_in * w_out
        weights.append(w)
        on = w > 0
        if not on.any():
            continue
        e, v, y = motion_pose(s.name, t[on] - s.start, s.params)
        E[on] += w[on, None, None] * e
        vel[on] += w[on, None] * v
        yaw[on] += w[on] * y
    label = np.array([MOTIONS.index(segments[k].name) for k in np.argmax(np.stack(weights), axis=0)])
    return PersonMotion(E, vel, yaw, label)
