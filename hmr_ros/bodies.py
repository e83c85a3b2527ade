"""The typed result of the core: one reconstructed person in one frame."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Body:
    """One person seen in one image.

    All 3D quantities are in metres in the camera optical frame (x right, y down, z forward) of the
    image given to ``Estimator.step``. Rotations are axis-angle (radians), SMPL joint order.

    Attributes:
        score: detection confidence in [0, 1].
        box: (4,) float32, x0, y0, x1, y1 in pixels of the input image (projected mesh extent).
        center: (2,) float32, the detected body centre in pixels of the input image.
        betas: (10,) float32 shape coefficients.
        global_orient: (3,) float32 root rotation, axis-angle, camera optical frame.
        body_pose: (69,) float32, 23 joints x axis-angle, SMPL order (joints 1..23).
        translation: (3,) float32, SMPL ``transl``: vertices = body_model(betas, pose) + translation.
        joints: (24, 3) float32, SMPL joints.
        vertices: (V, 3) float32, mesh vertices; faces are ``Estimator.faces``.
        token: (D,) float32 instance feature after temporal attention (for re-identification), or None.
        id: track id; empty until a tracker assigns one.
    """

    score: float
    box: np.ndarray
    center: np.ndarray
    betas: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    translation: np.ndarray
    joints: np.ndarray
    vertices: np.ndarray
    token: np.ndarray | None = None
    id: str = field(default="")
