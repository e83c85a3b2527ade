"""Pinhole projection: the one function that maps camera-frame points to pixels, for numpy and torch.

Frames and units: points in metres in the camera optical frame (x right, y down, z forward, REP-103);
pixels (u right, v down) with the intrinsics ``K`` of ``sensor_msgs/CameraInfo``.
"""
from __future__ import annotations

import sys

import numpy as np

__all__ = ["project", "MIN_DEPTH_M"]

# Depth floor in metres: a point on or behind the camera plane has no image. By default it is divided by
# this tiny positive depth, which sends it far off-image (where box and visibility tests drop it) instead
# of to inf or, worse, mirrored back into the image by a negative depth.
MIN_DEPTH_M = 1e-6


def _is_tensor(x) -> bool:
    torch = sys.modules.get("torch")  # numpy callers never pay for importing torch
    return torch is not None and isinstance(x, torch.Tensor)


def project(points, K, *, nan_behind_camera: bool = False):
    """Project points through a pinhole camera.

    Args:
        points: (..., 3) metres, camera optical frame; a numpy array or a torch tensor (then differentiable,
            and the result keeps its dtype and device).
        K: (3, 3) intrinsics ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` in pixels (skew s usually 0), or (B, 3, 3)
            one camera per leading index of ``points`` (B, ..., 3), as in a training batch.
        nan_behind_camera: points with z <= ``MIN_DEPTH_M`` get NaN pixels (for annotations, where such a point
            must not count as anywhere in the image) instead of far-off-image ones.
    Returns:
        (..., 2) pixel coordinates (u, v): ``u = fx x/z + s y/z + cx``, ``v = fy y/z + cy``; float64 for numpy.
    """
    if _is_tensor(points):
        import torch
        K = torch.as_tensor(K, dtype=points.dtype, device=points.device)
    else:
        points = np.asarray(points, dtype=np.float64)
        K = np.asarray(K, dtype=np.float64)
    if points.shape[-1] != 3 or K.shape[-2:] != (3, 3) or K.ndim not in (2, 3) \
            or (K.ndim == 3 and (points.ndim < 2 or K.shape[0] != points.shape[0])):
        raise ValueError(f"project expects points (..., 3) with K (3, 3), or points (B, ..., 3) with K (B, 3, 3); "
                         f"got {tuple(points.shape)} and {tuple(K.shape)}")
    if K.ndim == 3:  # (B, 3, 3) -> (B, 1, ..., 1, 3, 3) against points (B, ..., 3)
        K = K.reshape((K.shape[0],) + (1,) * (points.ndim - 2) + (3, 3))
    z = points[..., 2:3]
    xy = points[..., :2] / (z.clamp(min=MIN_DEPTH_M) if _is_tensor(z) else np.maximum(z, MIN_DEPTH_M))
    uv = (xy[..., None, :] * K[..., :2, :2]).sum(-1) + K[..., :2, 2]
    if not nan_behind_camera:
        return uv
    if _is_tensor(uv):
        import torch
        return torch.where(z > MIN_DEPTH_M, uv, torch.full_like(uv, float("nan")))
    return np.where(z > MIN_DEPTH_M, uv, np.nan)
