"""Rotation helpers in numpy (float64), for the per-frame code that must not pay for torch or scipy.

The torch module :mod:`hmr_ros.geometry.rotations` serves the network and the body model (batched,
differentiable, exportable); this one serves the tracker, the One-Euro filters and the simulators, which
handle a few dozen rotations per call where the fixed cost of a torch or scipy call dominates.

Conventions (the same as :mod:`hmr_ros.geometry.rotations`)
- Axis-angle: (..., 3), direction = axis, norm = angle in radians (right-hand rule), SMPL's convention.
- Quaternions: (..., 4) in (w, x, y, z) order, real part first. q and -q are the same rotation.
- Rotation matrices act on column vectors: ``x' = R @ x``; ``quat_mul(a, b)`` is the rotation ``R_a R_b``
  (b first, then a).
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "quat_from_rotvec",
    "rotvec_from_quat",
    "quat_mul",
    "quat_conj",
    "geodesic_angle",
    "rotmat_from_rotvec",
    "rotmat_from_quat",
]

# Below this angle (radians) the closed forms switch to their Taylor series: the dropped terms are
# O(theta^4) < 1e-24, far below float64 resolution, while the closed forms would divide 0 by 0.
_SMALL_ANGLE = 1e-6


def _norm(v: np.ndarray) -> np.ndarray:
    """Euclidean norm over the last axis, kept as a length-1 axis (cheaper than ``np.linalg.norm``)."""
    return np.sqrt(np.sum(v * v, axis=-1, keepdims=True))


def quat_from_rotvec(rotvec: np.ndarray) -> np.ndarray:
    """Exponential map: (..., 3) axis-angle in radians -> (..., 4) unit quaternion (w, x, y, z), w >= 0
    for angles up to pi."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    if rotvec.shape[-1] != 3:
        raise ValueError(f"expected axis-angle vectors of shape (..., 3), got {rotvec.shape}")
    theta = _norm(rotvec)
    half = 0.5 * theta
    small = theta < _SMALL_ANGLE
    # sin(theta/2) / theta, by its series near zero where it is 0/0
    scale = np.where(small, 0.5 - theta**2 / 48.0, np.sin(half) / np.where(small, 1.0, theta))
    return np.concatenate([np.cos(half), rotvec * scale], axis=-1)


def rotvec_from_quat(quat: np.ndarray) -> np.ndarray:
    """Logarithm map: (..., 4) quaternions (w, x, y, z) of any sign and norm -> (..., 3) axis-angle with
    the angle in [0, pi] (the short way round)."""
    q = np.asarray(quat, dtype=np.float64)
    if q.shape[-1] != 4:
        raise ValueError(f"expected quaternions of shape (..., 4) in (w, x, y, z) order, got {q.shape}")
    q = q / _norm(q)
    q = np.where(q[..., :1] < 0.0, -q, q)
    w = q[..., :1]
    xyz = q[..., 1:]
    n = _norm(xyz)
    # 2 atan2(n, w) stays accurate near pi, where w -> 0 and an arccos(w) would lose precision
    theta = 2.0 * np.arctan2(n, w)
    small = n < _SMALL_ANGLE
    # theta / n -> 2 / w as n -> 0 (w -> 1 there)
    scale = np.where(small, 2.0 / np.maximum(w, _SMALL_ANGLE), theta / np.where(small, 1.0, n))
    return xyz * scale


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of (..., 4) quaternions (w, x, y, z), broadcast: b first, then a."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_conj(q: np.ndarray) -> np.ndarray:
    """Conjugate of (..., 4) quaternions (w, x, y, z): the inverse rotation for unit quaternions."""
    q = np.asarray(q, dtype=np.float64)
    return np.concatenate([q[..., :1], -q[..., 1:]], axis=-1)


def geodesic_angle(q_a: np.ndarray, q_b: np.ndarray) -> np.ndarray:
    """Angle in radians, in [0, pi], of the rotation between unit quaternions (..., 4) (broadcast);
    invariant to the sign of either quaternion."""
    d = np.abs(np.sum(np.asarray(q_a) * np.asarray(q_b), axis=-1))
    return 2.0 * np.arccos(np.clip(d, 0.0, 1.0))


def rotmat_from_rotvec(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues' formula: (..., 3) axis-angle in radians -> (..., 3, 3) rotation matrices.

    ``R = I + A [v]x + B [v]x^2`` with ``A = sin t / t`` and ``B = (1 - cos t) / t^2``, both by their
    series near zero.
    """
    v = np.asarray(rotvec, dtype=np.float64)
    if v.shape[-1] != 3:
        raise ValueError(f"expected axis-angle vectors of shape (..., 3), got {v.shape}")
    theta2 = np.sum(v * v, axis=-1)[..., None, None]
    small = theta2 < _SMALL_ANGLE**2
    theta2_safe = np.where(small, 1.0, theta2)
    theta = np.sqrt(theta2_safe)
    a = np.where(small, 1.0 - theta2 / 6.0, np.sin(theta) / theta)
    b = np.where(small, 0.5 - theta2 / 24.0, (1.0 - np.cos(theta)) / theta2_safe)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    o = np.zeros_like(x)
    k = np.stack([o, -z, y, z, o, -x, -y, x, o], axis=-1).reshape(v.shape[:-1] + (3, 3))
    return np.eye(3) + a * k + b * (k @ k)


def rotmat_from_quat(quat: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z), any norm -> (..., 3, 3) rotation matrices."""
    q = np.asarray(quat, dtype=np.float64)
    if q.shape[-1] != 4:
        raise ValueError(f"expected quaternions of shape (..., 4) in (w, x, y, z) order, got {q.shape}")
    w, x, y, z = np.moveaxis(q / _norm(q), -1, 0)
    return np.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        axis=-1,
    ).reshape(q.shape[:-1] + (3, 3))
