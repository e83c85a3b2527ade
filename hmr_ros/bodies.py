"""The typed result of the core: one reconstructed person in one frame."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class PosedSMPL:
    """A posed SMPL body: the fields every person carries, reconstructed (:class:`Body`) or ground truth
    (:class:`hmr_ros.clips.PersonTruth`).

    Metres in the camera optical frame (x right, y down, z forward); rotations axis-angle (radians), SMPL joint order.

    Attributes:
        betas: (10,) shape coefficients.
        global_orient: (3,) root rotation, camera optical frame.
        body_pose: (69,) 23 joints x axis-angle (joints 1..23).
        translation: (3,) SMPL ``transl``: vertices = body_model(betas, pose) + translation.
        joints: (24, 3) SMPL joints.
        vertices: (V, 3) mesh vertices.
    """

    betas: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    translation: np.ndarray
    joints: np.ndarray
    vertices: np.ndarray


@dataclass
class Body(PosedSMPL):
    """One person seen in one image: :class:`PosedSMPL` (float32 arrays; faces are ``Estimator.faces``) in the
    camera optical frame of the image given to ``Estimator.step``, and what the detector and tracker add.

    Attributes:
        score: detection confidence in [0, 1].
        box: (4,) float32, x0, y0, x1, y1 in pixels of the input image (projected mesh extent).
        center: (2,) float32, the detected body centre in pixels of the input image.
        token: (D,) float32 instance feature after temporal attention (for re-identification), or None.
        id: track id; empty until a tracker assigns one.
    """

    score: float
    box: np.ndarray
    center: np.ndarray
    token: np.ndarray | None = None
    id: str = field(default="")


def box_roi(box, width: int, height: int) -> tuple[int, int, int, int]:
    """(4,) x0, y0, x1, y1 pixel box (``Body.box``) -> integer (x_offset, y_offset, width, height) of the pixels it
    covers, clipped to a ``width`` x ``height`` image (NaN sides count as 0): a ``sensor_msgs/RegionOfInterest``."""
    x0, y0, x1, y1 = (float(v) if math.isfinite(float(v)) else 0.0 for v in np.asarray(box, dtype=np.float64))
    x0, x1 = min(max(x0, 0.0), width), min(max(x1, 0.0), width)
    y0, y1 = min(max(y0, 0.0), height), min(max(y1, 0.0), height)
    x, y = int(math.floor(x0)), int(math.floor(y0))
    return x, y, max(0, int(math.ceil(x1)) - x), max(0, int(math.ceil(y1)) - y)
