"""A license-free, procedurally generated human body in SMPL's file layout.

The body is a set of closed generalized-cylinder tubes (trunk + neck + head, two arms, two legs, two
feet): elliptical rings along polylines through SMPL's 24 rest-pose joints, with a smooth radius profile
and ellipsoidal end caps. Every tube is a closed, consistently outward-oriented triangle surface, so the
mesh is watertight (every edge is shared by exactly two faces) with positive signed volume.

Frame and proportions (SMPL's convention): rest T-pose, metres, y up, x = the subject's LEFT, z = forward
(the body faces +z), pelvis joint at y = -0.23, soles at y ~= -1.16, top of the head at y ~= +0.555:
stature ~1.71 m.

Arrays (what :func:`make_procedural_body` returns, the keys and dtypes of SMPL ``.npz`` files):
- ``v_template (V,3) float64``, ``f (F,3) int32``, ``J (24,3) float64`` rest joints,
- ``shapedirs (V,3,10) float64``: one unit of beta is one "standard" step of a named, nameable change:
  beta0 stature (+1 = 4 % larger overall, ~+7 cm), beta1 girth / weight (+10 % radii, belly forward),
  beta2 shoulder width (+2 cm per side), beta3 leg length (+5 cm), beta4 arm length (+3.5 cm),
  beta5 hip width, beta6 head size, beta7 torso length, beta8 limb muscularity, beta9 belly.
  Each column is the central difference of the generator over beta_k = +-1 (the generator is close to
  linear, so the blend shape reproduces it).
- ``posedirs (V,3,207) float64``: pose correctives on SMPL's ``(R - I)`` features: at hips, knees,
  shoulders and elbows the skin near the joint bulges outward by ``amp * (1 - cos angle)`` (from the trace
  of ``R - I``), compensating the volume LBS loses when a joint bends.
- ``J_regressor (24,V) float64``: each joint is the mean of the ring of vertices around it, so joints follow
  the shape blend shapes; ``weights (V,24) float64``: smooth blends between the neighbouring bones near each
  joint, rows sum to 1; ``kintree_table (2,24) int64`` with SMPL's tree (root parent stored as 2**32 - 1,
  as SMPL does).
Deterministic: no randomness; building it takes a few tens of milliseconds.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hmr_ros.smpl.kinematic_tree import NUM_JOINTS, SMPL_PARENTS

__all__ = ["make_procedural_body", "write_procedural_body", "NUM_BETAS", "SHAPE_DIRECTIONS"]

NUM_BETAS = 10
SHAPE_DIRECTIONS = (
    "stature", "girth", "shoulder_width", "leg_length", "arm_length",
    "hip_width", "head_size", "torso_length", "limb_muscularity", "belly",
)
_NUM_POSE_FEATURES = 9 * 23
# Target spacing between rings along a tube, metres; sets the vertex count (~6.9k).
_RING_SPACING = 0.0195
_CAP_RINGS = 3
# Pose-corrective bulge: outward push at a bent joint, as a fraction of the local radius at 90 degrees.
_BULGE_AMP = 0.12
_BULGE_JOINTS = (1, 2, 4, 5, 16, 17, 18, 19)


@dataclass
class _Station:
    """A ring placed on purpose: at a joint (``joint`` set) or where the radius profile changes."""

    pos: np.ndarray  # (3,) ring centre
    ru: float  # half-axis along the tube's u direction
    rv: float  # half-axis along v = t x u
    joint: int | None = None  # SMPL joint located at this ring (J_regressor row)
    bone: int | None = None  # joint whose rotation drives the tube from here on (skinning)


@dataclass
class _Tube:
    stations: list[_Station]
    around: int  # vertices per ring
    ref: np.ndarray  # direction u is taken closest to
    cap_start: float  # ellipsoidal cap lengths, metres
    cap_end: float
    bones: list[tuple[float, int]] = field(default_factory=list)


def _joints(p: np.ndarray) -> dict[int, np.ndarray]:
    """Left-side and midline rest joints (right side mirrors x) for shape parameters ``p`` (10,)."""
    up_torso = 0.025 * p[7]
    j = {
        0: (0.0, -0.23, 0.0),
        1: (0.085 + 0.012 * p[5], -0.31, 0.0),
        3: (0.0, -0.12, -0.005),
        4: (0.10 + 0.006 * p[5], -0.70 - 0.025 * p[3], 0.01),
        6: (0.0, 0.02 + 0.4 * up_torso, 0.0),
        7: (0.09 + 0.003 * p[5], -1.08 - 0.05 * p[3], -0.03),
        9: (0.0, 0.08 + 0.6 * up_torso, 0.01),
        10: (0.11 + 0.003 * p[5], -1.135 - 0.05 * p[3], 0.09),
        12: (0.0, 0.29 + up_torso, -0.01),
        13: (0.075 + 0.008 * p[2], 0.20 + up_torso, -0.005),
        15: (0.0, 0.37 + up_torso, 0.02),
        16: (0.175 + 0.02 * p[2], 0.225 + up_torso, -0.01),
        18: (0.43 + 0.02 * p[2] + 0.015 * p[4], 0.215 + up_torso, -0.03),
        20: (0.68 + 0.02 * p[2] + 0.03 * p[4], 0.22 + up_torso, -0.03),
        22: (0.765 + 0.02 * p[2] + 0.035 * p[4], 0.215 + up_torso, -0.035),
    }
    return {k: np.asarray(v, dtype=np.float64) for k, v in j.items()}


def _mirror(x: np.ndarray) -> np.ndarray:
    return x * np.array([-1.0, 1.0, 1.0])


def _tubes(p: np.ndarray) -> list[_Tube]:
    """The body's tubes for shape parameters ``p`` (10,), before the global stature scale."""
    J = _joints(p)
    girth = 1.0 + 0.10 * p[1]
    limb = girth * (1.0 + 0.08 * p[8])
    head = 1.0 + 0.08 * p[6]
    belly_r = 1.0 + 0.15 * p[9]
    belly_z = 0.015 * p[1] + 0.02 * p[9]
    hipw = 0.015 * p[5]
    up = 0.025 * p[7]
    S = _Station
    y3 = lambda x, y, z: np.array([x, y, z], dtype=np.float64)  # noqa: E731

    trunk = _Tube(
        stations=[
            S(y3(0, -0.33, 0.0), (0.13 + hipw) * girth, 0.085 * girth, bone=0),
            S(J[0].copy(), (0.165 + hipw) * girth, 0.10 * girth, joint=0),
            S(J[3] + y3(0, 0, belly_z), 0.145 * girth, 0.095 * girth * belly_r, joint=3, bone=3),
            S(y3(0, -0.05 + 0.2 * up, 0.005 + belly_z), 0.14 * girth, 0.097 * girth * belly_r),
            S(J[6] + y3(0, 0, 0.5 * belly_z), 0.15 * girth, 0.10 * girth * belly_r, joint=6, bone=6),
            S(J[9].copy(), 0.16 * girth + 0.006 * p[2], 0.105 * girth, joint=9, bone=9),
            S(y3(0, 0.18 + 0.8 * up, 0.0), 0.17 * girth + 0.012 * p[2], 0.095 * girth),
            S(y3(0, 0.25 + up, -0.01), 0.13 * girth + 0.01 * p[2], 0.075 * girth),
            S(J[12].copy(), 0.055 * girth, 0.055 * girth, joint=12, bone=12),
            S(J[15].copy(), 0.062 * head, 0.068 * head, joint=15, bone=15),
            S(y3(0, 0.445 + up + 0.005 * p[6], 0.025), 0.082 * head, 0.098 * head),
            S(y3(0, 0.50 + up + 0.01 * p[6], 0.02), 0.072 * head, 0.085 * head),
        ],
        around=40, ref=y3(1, 0, 0), cap_start=0.05, cap_end=0.055 * head,
    )
    tubes = [trunk]
    for side in (+1, -1):
        m = (lambda v: v) if side > 0 else _mirror
        jl = {k: m(v) for k, v in J.items()}
        L = {k: (k if side > 0 else k + 1) for k in (1, 4, 7, 10, 13, 16, 18, 20, 22)}  # SMPL right = left+1
        hip, knee, ankle = jl[1], jl[4], jl[7]
        leg = _Tube(
            stations=[
                S(hip + y3(0, 0.07, 0), 0.085 * limb, 0.09 * limb, bone=0),
                S(hip.copy(), 0.09 * limb, 0.095 * limb, joint=L[1], bone=L[1]),
                S(hip + 0.45 * (knee - hip), 0.075 * limb, 0.08 * limb),
                S(knee.copy(), 0.055 * limb, 0.058 * limb, joint=L[4], bone=L[4]),
                S(knee + 0.3 * (ankle - knee), 0.056 * limb, 0.062 * limb),
                S(ankle.copy(), 0.035 * girth, 0.04 * girth, joint=L[7], bone=L[7]),
                S(ankle + y3(0, -0.035, -0.01), 0.035 * girth, 0.04 * girth),
            ],
            around=24, ref=y3(1, 0, 0), cap_start=0.04, cap_end=0.02,
        )
        foot_j = jl[10]
        foot = _Tube(
            stations=[
                S(ankle + y3(0, -0.04, -0.04), 0.038 * girth, 0.035, bone=L[7]),
                S(ankle + y3(0.005 * side, -0.04, 0.01), 0.042 * girth, 0.04),
                S(foot_j.copy(), 0.046 * girth, 0.025, joint=L[10], bone=L[10]),
                S(foot_j + y3(0.005 * side, -0.005, 0.06), 0.04 * girth, 0.018),
            ],
            around=16, ref=y3(1, 0, 0), cap_start=0.025, cap_end=0.03,
        )
        collar, shoulder, elbow, wrist, hand = jl[13], jl[16], jl[18], jl[20], jl[22]
        arm = _Tube(
            stations=[
                S(collar + y3(-0.045 * side, 0.01, -0.005), 0.05 * limb, 0.048 * limb, bone=L[13]),
                S(collar.copy(), 0.055 * limb, 0.05 * limb, joint=L[13]),
                S(shoulder.copy(), 0.055 * limb, 0.055 * limb, joint=L[16], bone=L[16]),
                S(shoulder + 0.45 * (elbow - shoulder), 0.048 * limb, 0.045 * limb),
                S(elbow.copy(), 0.038 * limb, 0.036 * limb, joint=L[18], bone=L[18]),
                S(elbow + 0.3 * (wrist - elbow), 0.04 * limb, 0.036 * limb),
                S(wrist.copy(), 0.03 * girth, 0.022 * girth, joint=L[20], bone=L[20]),
                S(hand.copy(), 0.045 * girth, 0.016 * girth, joint=L[22], bone=L[22]),
                S(hand + y3(0.10 * side, -0.005, 0.0), 0.038 * girth, 0.012 * girth),
            ],
            around=20, ref=y3(0, 0, 1), cap_start=0.02, cap_end=0.015,
        )
        tubes += [leg, foot, arm]
    return tubes


@dataclass
class _Mesh:
    vertices: np.ndarray  # (V, 3)
    faces: np.ndarray  # (F, 3)
    arc: np.ndarray  # (V,) arc length of the vertex's ring along its tube
    tube: np.ndarray  # (V,) tube index
    radial: np.ndarray  # (V, 3) unit direction from ring centre (poles: along the tube)
    radius: np.ndarray  # (V,) mean ring radius
    joint_rings: dict[int, np.ndarray]  # SMPL joint -> vertex indices of its ring
    bones: list[list[tuple[float, int, float]]]  # per tube: (arc start, joint, blend half-width)


def _ease(t: np.ndarray) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.pi * t)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.sqrt((v * v).sum(-1, keepdims=True))


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # plain 3-vector cross product: np.cross's generality costs ~10x on single vectors
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _build(p: np.ndarray) -> _Mesh:
    """Mesh (same topology for every ``p``) for shape parameters ``p`` (10,)."""
    scale = 1.0 + 0.04 * p[0]
    verts, faces, arcs, tube_ids, radial, radius = [], [], [], [], [], []
    joint_rings: dict[int, np.ndarray] = {}
    bones_all = []
    offset = 0
    for ti, tube in enumerate(_tubes(p)):
        st = tube.stations
        P = np.stack([s.pos for s in st])
        seg = np.diff(P, axis=0)
        seg_len = np.linalg.norm(seg, axis=1)
        seg_dir = seg / seg_len[:, None]
        s_station = np.concatenate([[0.0], np.cumsum(seg_len)])
        # Ring counts come from the rest shape so the topology never depends on p.
        n_seg = [max(2, int(round(l / _RING_SPACING))) for l in _rest_seg_lengths(ti)]
        centers, tangents, ru, rv, s_ring, station_ring = [], [], [], [], [], {}
        for k in range(len(seg)):
            t = np.arange(n_seg[k]) / n_seg[k]
            station_ring[k] = len(centers)
            for tt in t:
                centers.append(P[k] + tt * seg[k])
                if tt == 0.0 and k > 0:
                    tangents.append(_unit(seg_dir[k - 1] + seg_dir[k]))
                else:
                    tangents.append(seg_dir[k])
                e = _ease(tt)
                ru.append(st[k].ru + e * (st[k + 1].ru - st[k].ru))
                rv.append(st[k].rv + e * (st[k + 1].rv - st[k].rv))
                s_ring.append(s_station[k] + tt * seg_len[k])
        station_ring[len(seg)] = len(centers)
        centers.append(P[-1])
        tangents.append(seg_dir[-1])
        ru.append(st[-1].ru)
        rv.append(st[-1].rv)
        s_ring.append(s_station[-1])
        # ellipsoidal caps: rings at angle a from the end ring, offset L sin(a), radii r cos(a)
        ang = np.arange(1, _CAP_RINGS + 1) * (0.5 * np.pi) / (_CAP_RINGS + 1)
        first = [(P[0] - tube.cap_start * np.sin(a) * seg_dir[0], seg_dir[0], st[0].ru * np.cos(a),
                  st[0].rv * np.cos(a), -tube.cap_start * np.sin(a)) for a in ang[::-1]]
        last = [(P[-1] + tube.cap_end * np.sin(a) * seg_dir[-1], seg_dir[-1], st[-1].ru * np.cos(a),
                 st[-1].rv * np.cos(a), s_station[-1] + tube.cap_end * np.sin(a)) for a in ang]
        rings = first + list(zip(centers, tangents, ru, rv, s_ring)) + last
        m = tube.around
        phi = 2 * np.pi * np.arange(m) / m
        # start pole, rings, end pole
        pole0 = P[0] - tube.cap_start * seg_dir[0]
        pole1 = P[-1] + tube.cap_end * seg_dir[-1]
        tv = [pole0[None]]
        arc = [np.array([-tube.cap_start])]
        rad = [-seg_dir[0][None]]
        rr = [np.array([0.5 * (st[0].ru + st[0].rv)])]
        for c, t, a, b, s in rings:
            u = _unit(tube.ref - np.dot(tube.ref, t) * t)
            v = _cross(t, u)
            dirs = np.cos(phi)[:, None] * a * u + np.sin(phi)[:, None] * b * v
            tv.append(c + dirs)
            arc.append(np.full(m, s))
            rad.append(_unit(dirs))
            rr.append(np.full(m, 0.5 * (a + b)))
        tv.append(pole1[None])
        arc.append(np.array([s_station[-1] + tube.cap_end]))
        rad.append(seg_dir[-1][None])
        rr.append(np.array([0.5 * (st[-1].ru + st[-1].rv)]))
        R = len(rings)
        ring0 = offset + 1  # first ring vertex index
        k = np.arange(m)
        k1 = (k + 1) % m
        f = [np.stack([np.full(m, offset), ring0 + k1, ring0 + k], 1)]
        for i in range(R - 1):
            a, b = ring0 + i * m + k, ring0 + i * m + k1
            c, d = a + m, b + m
            f += [np.stack([a, b, c], 1), np.stack([b, d, c], 1)]
        end_pole = ring0 + R * m
        last_ring = ring0 + (R - 1) * m
        f.append(np.stack([np.full(m, end_pole), last_ring + k, last_ring + k1], 1))
        for si, s in enumerate(st):
            if s.joint is not None:
                r = station_ring[si] + len(first)
                joint_rings[s.joint] = ring0 + r * m + k
        blend = []
        for si, s in enumerate(st):
            if s.bone is not None:
                # blend half-width ~ half the local radius, limited by the neighbouring bone lengths
                w = 0.5 * 0.5 * (s.ru + s.rv)
                if si > 0:
                    w = min(w, 0.45 * (s_station[si] - s_station[max(0, si - 1)]))
                blend.append((s_station[si], s.bone, w))
        bones_all.append(blend)
        tv = np.concatenate(tv)
        verts.append(tv)
        faces += f
        arcs += arc
        radial += rad
        radius += rr
        tube_ids.append(np.full(len(tv), ti))
        offset += len(tv)
    return _Mesh(
        vertices=np.concatenate(verts) * scale,
        faces=np.concatenate(faces).astype(np.int64),
        arc=np.concatenate(arcs),
        tube=np.concatenate(tube_ids),
        radial=np.concatenate(radial),
        radius=np.concatenate(radius) * scale,
        joint_rings=joint_rings,
        bones=bones_all,
    )


@functools.lru_cache(maxsize=None)
def _rest_seg_lengths_all() -> tuple[tuple[float, ...], ...]:
    out = []
    for tube in _tubes(np.zeros(NUM_BETAS)):
        P = np.stack([s.pos for s in tube.stations])
        out.append(tuple(np.linalg.norm(np.diff(P, axis=0), axis=1)))
    return tuple(out)


def _rest_seg_lengths(tube_index: int) -> tuple[float, ...]:
    return _rest_seg_lengths_all()[tube_index]


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _skinning_weights(mesh: _Mesh) -> np.ndarray:
    """(V, 24): along each tube, bone k rises smoothly from 0 to 1 across the window +-w around its start
    and hands over to bone k+1 the same way; telescoping differences make rows sum to 1 and stay >= 0."""
    W = np.zeros((len(mesh.vertices), NUM_JOINTS))
    for ti, blend in enumerate(mesh.bones):
        idx = np.nonzero(mesh.tube == ti)[0]
        s = mesh.arc[idx]
        # h[k] = how much of the tube from bone k on has taken over; h[0] = 1
        h = [np.ones_like(s)] + [_smoothstep((s - (s0 - w)) / (2 * w)) for s0, _, w in blend[1:]]
        h.append(np.zeros_like(s))
        for k, (_, joint, _) in enumerate(blend):
            W[idx, joint] += h[k] - h[k + 1]
    return W


def _pose_correctives(mesh: _Mesh) -> np.ndarray:
    """(V, 3, 207): outward bulge around bending joints, linear in the trace of ``R - I``."""
    V = len(mesh.vertices)
    posedirs = np.zeros((V, 3, _NUM_POSE_FEATURES))
    for j in _BULGE_JOINTS:
        ring = mesh.joint_rings[j]
        ti = mesh.tube[ring[0]]
        s0 = mesh.arc[ring[0]]
        r0 = mesh.radius[ring[0]]
        idx = np.nonzero(mesh.tube == ti)[0]
        falloff = np.exp(-(((mesh.arc[idx] - s0) / (1.2 * r0)) ** 2))
        disp = (_BULGE_AMP * mesh.radius[idx] * falloff)[:, None] * mesh.radial[idx]
        # 1 - cos(angle) = -(tr(R - I)) / 2: the diagonal features each carry -1/2 of the bulge
        for d in (0, 4, 8):
            posedirs[idx, :, (j - 1) * 9 + d] += -0.5 * disp
    return posedirs


@functools.lru_cache(maxsize=1)
def _procedural_body_cached() -> dict[str, np.ndarray]:
    zero = np.zeros(NUM_BETAS)
    mesh = _build(zero)
    V = len(mesh.vertices)
    shapedirs = np.zeros((V, 3, NUM_BETAS))
    for k in range(NUM_BETAS):
        e = np.zeros(NUM_BETAS)
        e[k] = 1.0
        shapedirs[:, :, k] = 0.5 * (_build(e).vertices - _build(-e).vertices)
    J_regressor = np.zeros((NUM_JOINTS, V))
    for j, ring in mesh.joint_rings.items():
        J_regressor[j, ring] = 1.0 / len(ring)
    kintree = np.array([[2**32 - 1 if p < 0 else p for p in SMPL_PARENTS], list(range(NUM_JOINTS))],
                       dtype=np.int64)
    return {
        "v_template": mesh.vertices,
        "f": mesh.faces.astype(np.int32),
        "J": J_regressor @ mesh.vertices,
        "shapedirs": shapedirs,
        "posedirs": _pose_correctives(mesh),
        "J_regressor": J_regressor,
        "weights": _skinning_weights(mesh),
        "kintree_table": kintree,
    }


def make_procedural_body() -> dict[str, np.ndarray]:
    """The procedural body as SMPL ``.npz`` arrays (see the module docstring); fresh copies each call."""
    return {k: v.copy() for k, v in _procedural_body_cached().items()}


def write_procedural_body(path: str | Path) -> Path:
    """Write the procedural body to ``path`` as an uncompressed ``.npz`` (SMPL layout); returns the path."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"write_procedural_body: expected a path ending in .npz, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **make_procedural_body())
    return path
