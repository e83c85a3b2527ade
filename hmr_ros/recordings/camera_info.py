"""Camera intrinsics from a ROS ``camera_calibration`` YAML file (what ``cameracalibrator`` and
``camera_info_manager`` write), without ROS.

    calib = read_camera_yaml("head_camera.yaml")    # camera_messages.Calibration(K (3, 3), width, height)
    K, note = calib.K_for(640, 480)                 # the node's size policy (camera_messages.Calibration.K_for)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from hmr_ros.camera import MAX_IMAGE_SIDE, resolve_intrinsics
from hmr_ros.camera_messages import Calibration


def read_camera_yaml(path: str | Path) -> Calibration:
    """Parse ``camera_matrix`` (and ``image_width``/``image_height``); ValueError saying what is
    wrong for anything else (missing file, not YAML, no 3x3 matrix, a K that ``hmr_ros.camera.resolve_intrinsics``
    refuses: non-finite, non-positive or huge focal lengths, a principal point far off the image)."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ValueError(f"cannot read camera info {path}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise ValueError(f"camera info {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("camera_matrix"), dict):
        raise ValueError(f"camera info {path} has no camera_matrix (ROS camera_calibration format: camera_matrix: "
                         "{rows: 3, cols: 3, data: [fx, 0, cx, 0, fy, cy, 0, 0, 1]})")
    data = doc["camera_matrix"].get("data")
    try:
        K = np.asarray(data, dtype=np.float64).reshape(3, 3)
    except (TypeError, ValueError):
        raise ValueError(f"camera info {path}: camera_matrix.data must hold 9 numbers, got {data!r}") from None
    if not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"camera info {path}: camera_matrix needs finite, positive focal lengths, got {K.tolist()}")
    try:
        width, height = int(doc.get("image_width") or 0), int(doc.get("image_height") or 0)
    except (TypeError, ValueError):
        raise ValueError(f"camera info {path}: image_width/image_height must be integers") from None
    # the core's rules, once here: a file it would refuse (fx = 1e7, a principal point far off the image) is one
    # clear error now, not every frame skipped later; without a size the largest accepted image bounds it
    try:
        resolve_intrinsics(K, width or MAX_IMAGE_SIDE, height or MAX_IMAGE_SIDE)
    except ValueError as e:
        raise ValueError(f"camera info {path}: {e}") from None
    return Calibration(K, width, height, source=f"calibration file {path.name}")
