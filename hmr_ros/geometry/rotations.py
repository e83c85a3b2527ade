"""Rotation representations and conversions (torch, batched over any leading dimensions).

Conventions
- Rotation matrices act on column vectors: ``x' = R @ x``.
- Axis-angle: a 3-vector whose direction is the rotation axis and whose norm is the angle in radians
  (right-hand rule), the SMPL ``global_orient`` / ``body_pose`` convention.
- Quaternions: ``(w, x, y, z)`` with the real part first, unit norm.
- 6D rotation (Zhou et al., "On the Continuity of Rotation Representations", CVPR 2019): the FIRST TWO
  COLUMNS of the rotation matrix, concatenated: ``x6 = [R[:, 0], R[:, 1]]`` i.e.
  ``(R00, R10, R20, R01, R11, R21)``. Note that SPIN/HMR2 reshape a 6-vector to (3, 2), which interleaves
  the two columns; a network trained with that layout needs its 6D outputs permuted to use this module.

All functions are differentiable, contain no data-dependent Python control flow (ONNX-exportable) and are
stable at the singular angles (0 and pi) where the textbook formulas divide by zero.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "rot6d_to_rotmat",
    "rotmat_to_rot6d",
    "axis_angle_to_rotmat",
    "rotmat_to_axis_angle",
    "axis_angle_to_quaternion",
    "quaternion_to_axis_angle",
    "quaternion_to_rotmat",
    "rotmat_to_quaternion",
]

# Below this angle (radians) the closed-form coefficients switch to their Taylor series; the series'
# truncation error there is ~theta^4/120 < 1e-14, far below float32/float64 resolution of the result.
_SMALL_ANGLE = 1e-3


def rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """6D rotation -> rotation matrix by Gram-Schmidt on the two columns.

    Args:
        x: (..., 6), ``[a1, a2]`` the (unnormalised) first and second columns.
    Returns:
        (..., 3, 3) rotation matrices with columns ``b1 = a1/|a1|``, ``b2`` = the part of ``a2``
        orthogonal to ``b1``, normalised, and ``b3 = b1 x b2`` (so det = +1).
    """
    if x.shape[-1] != 6:
        raise ValueError(f"rot6d_to_rotmat expects (..., 6), got {tuple(x.shape)}")
    a1, a2 = x[..., 0:3], x[..., 3:6]
    b1 = F.normalize(a1, dim=-1, eps=1e-8)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1, eps=1e-8)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def rotmat_to_rot6d(R: torch.Tensor) -> torch.Tensor:
    """Rotation matrix (..., 3, 3) -> 6D (..., 6): its first two columns; exact inverse of
    :func:`rot6d_to_rotmat` on rotation matrices."""
    _check_rotmat_shape(R, "rotmat_to_rot6d")
    return torch.cat([R[..., :, 0], R[..., :, 1]], dim=-1)


def _skew(v: torch.Tensor) -> torch.Tensor:
    """(..., 3) -> (..., 3, 3) cross-product matrix ``[v]x`` with ``[v]x @ u = v x u``."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(v.shape[:-1] + (3, 3))


def axis_angle_to_rotmat(aa: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula ``R = I + A [v]x + B [v]x^2`` with ``A = sin t / t``, ``B = (1 - cos t) / t^2``.

    The coefficients are evaluated by their Taylor series below ``_SMALL_ANGLE`` so values and gradients
    stay finite at the zero rotation.

    Args:
        aa: (..., 3) axis-angle, radians.
    Returns:
        (..., 3, 3) rotation matrices.
    """
    if aa.shape[-1] != 3:
        raise ValueError(f"axis_angle_to_rotmat expects (..., 3), got {tuple(aa.shape)}")
    theta2 = (aa * aa).sum(-1, keepdim=True)
    small = theta2 < _SMALL_ANGLE**2
    # the where-guarded denominator keeps the unused branch (and its gradient) finite
    theta2_safe = torch.where(small, torch.ones_like(theta2), theta2)
    theta_safe = theta2_safe.sqrt()
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta_safe) / theta_safe)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta_safe)) / theta2_safe)
    K = _skew(aa)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand(K.shape)
    return eye + a[..., None] * K + b[..., None] * (K @ K)


def axis_angle_to_quaternion(aa: torch.Tensor) -> torch.Tensor:
    """(..., 3) axis-angle -> (..., 4) unit quaternion ``(w, x, y, z)``, stable near zero."""
    if aa.shape[-1] != 3:
        raise ValueError(f"axis_angle_to_quaternion expects (..., 3), got {tuple(aa.shape)}")
    theta2 = (aa * aa).sum(-1, keepdim=True)
    small = theta2 < _SMALL_ANGLE**2
    theta = torch.where(small, torch.ones_like(theta2), theta2).sqrt()
    half_sinc = torch.where(small, 0.5 - theta2 / 48.0, torch.sin(0.5 * theta) / theta)
    w = torch.where(small, 1.0 - theta2 / 8.0, torch.cos(0.5 * theta))
    return torch.cat([w, aa * half_sinc], dim=-1)


def quaternion_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) quaternion ``(w, x, y, z)`` (need not be unit) -> (..., 3) axis-angle with angle in [0, pi].

    Uses ``angle = 2 atan2(|xyz|, w)`` after flipping to ``w >= 0``, which is well conditioned both near 0
    (series for ``angle / |xyz|``) and near pi (where ``w -> 0`` and atan2 stays accurate).
    """
    if q.shape[-1] != 4:
        raise ValueError(f"quaternion_to_axis_angle expects (..., 4), got {tuple(q.shape)}")
    q = torch.where(q[..., :1] < 0, -q, q)
    w, xyz = q[..., :1], q[..., 1:]
    n2 = (xyz * xyz).sum(-1, keepdim=True)
    small = n2 < _SMALL_ANGLE**2
    n = torch.where(small, torch.ones_like(n2), n2).sqrt()
    # angle / n; for small n, 2 atan2(n, w) / n = (2 / w) (1 - n^2 / (3 w^2)) + O(n^4); w ~ |q| there
    w_safe = torch.where(small, w, torch.ones_like(w))
    scale = torch.where(small, 2.0 / w_safe * (1.0 - n2 / (3.0 * w_safe * w_safe)), 2.0 * torch.atan2(n, w) / n)
    return xyz * scale


def quaternion_to_rotmat(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) quaternion ``(w, x, y, z)`` -> (..., 3, 3); the quaternion is normalised first."""
    if q.shape[-1] != 4:
        raise ValueError(f"quaternion_to_rotmat expects (..., 4), got {tuple(q.shape)}")
    w, x, y, z = F.normalize(q, dim=-1, eps=1e-12).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(q.shape[:-1] + (3, 3))


def rotmat_to_quaternion(R: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation -> (..., 4) unit quaternion ``(w, x, y, z)`` with ``w >= 0``.

    Shepperd's method: four candidate quaternions are formed, each dividing by one of ``4w^2, 4x^2,
    4y^2, 4z^2``; the one with the largest divisor (always >= 1 for a rotation) is selected, so no branch
    ever divides by a small number (the naive trace formula fails near pi).
    """
    _check_rotmat_shape(R, "rotmat_to_quaternion")
    m00, m01, m02 = R[..., 0, 0], R[..., 0, 1], R[..., 0, 2]
    m10, m11, m12 = R[..., 1, 0], R[..., 1, 1], R[..., 1, 2]
    m20, m21, m22 = R[..., 2, 0], R[..., 2, 1], R[..., 2, 2]
    # 4w^2, 4x^2, 4y^2, 4z^2
    sq = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1
    )
    # 2|w|, 2|x|, 2|y|, 2|z|; clamped before sqrt so unselected near-zero entries keep finite gradients
    # (the selected one is always >= 1 because the four squares sum to 4)
    root = sq.clamp(min=0.01).sqrt()
    cand = torch.stack(
        [
            torch.stack([sq[..., 0], m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, sq[..., 1], m10 + m01, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, sq[..., 2], m12 + m21], dim=-1),
            torch.stack([m10 - m01, m02 + m20, m12 + m21, sq[..., 3]], dim=-1),
        ],
        dim=-2,
    )  # (..., 4 candidates, 4)
    cand = cand / (2.0 * root)[..., None]
    pick = F.one_hot(root.argmax(dim=-1), num_classes=4).to(R.dtype)
    q = (cand * pick[..., None]).sum(-2)
    q = F.normalize(q, dim=-1, eps=1e-12)
    return torch.where(q[..., :1] < 0, -q, q)


def rotmat_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation -> (..., 3) axis-angle, angle in [0, pi]; stable near 0 and near pi
    (goes through :func:`rotmat_to_quaternion`). At exactly pi the sign of the axis is arbitrary."""
    return quaternion_to_axis_angle(rotmat_to_quaternion(R))


def _check_rotmat_shape(R: torch.Tensor, fn: str) -> None:
    if R.dim() < 2 or R.shape[-2:] != (3, 3):
        raise ValueError(f"{fn} expects (..., 3, 3), got {tuple(R.shape)}")
