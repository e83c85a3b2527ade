"""Pinhole projection: the one function that maps camera-frame points to pixels.

Frames and units: points in metres in the camera optical frame (x right, y down, z forward, REP-103);
pixels (u right, v down) with the intrinsics ``K`` of ``sensor_msgs/CameraInfo``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["project"]

# Depth floor in metres: a point on or behind the camera plane has no image. By default it is divided by
# this tiny positive depth, which sends it far off-image (where box and visibility tests drop it) instead
# of to inf or, worse, mirrored back into the image by a negative depth.
_MIN_DEPTH_M = 1e-6


def project(points: np.ndarray, K: np.ndarray, *, nan_behind_camera: bool = False) -> np.ndarray:
    """Project points through a pinhole camera.

    Args:
        points: (..., 3) metres, camera optical frame.
        K: (3, 3) intrinsics ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` in pixels (skew s usually 0).
        nan_behind_camera: points with z <= 1e-6 m get NaN pixels (for annotations, where such a point
            must not count as anywhere in the image) instead of far-off-image ones.
    Returns:
        (..., 2) float64 pixel coordinates (u, v): ``u = fx x/z + s y/z + cx``, ``v = fy y/z + cy``.
    """
    points = np.asarray(points, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    if points.shape[-1] != 3 or K.shape != (3, 3):
        raise ValueError(f"project expects points (..., 3) and K (3, 3), got {points.shape} and {K.shape}")
    z = points[..., 2:3]
    xy = points[..., :2] / np.maximum(z, _MIN_DEPTH_M)
    uv = xy @ K[:2, :2].T + K[:2, 2]
    return np.where(z > _MIN_DEPTH_M, uv, np.nan) if nan_behind_camera else uv
