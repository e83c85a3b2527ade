"""What a mesh marker of one person holds, without ROS: its namespace, opacity and the TRIANGLE_LIST point order.

The node's ``ros/markers.py`` serialises these as ``visualization_msgs/MarkerArray`` for RViz; the recording
runner's result bag (``recordings/bag_writer.py``) writes the same markers, so both look alike in RViz.
"""
from __future__ import annotations

import numpy as np

MARKER_NS = "hmr_meshes"
MARKER_ALPHA = 0.8  # the node's default marker_alpha


def triangle_indices(faces: np.ndarray, face_stride: int = 1) -> np.ndarray:
    """Vertex index per TRIANGLE_LIST point.

    Args:
        faces: (F, 3) integer triangle indices.
        face_stride: keep every ``face_stride``-th triangle (1 = the full mesh), a cheap decimation for
            weak RViz clients: the mesh becomes sparse but keeps its shape and extent.
    Returns:
        (3 * ceil(F / face_stride),) int64 indices into the vertex array.
    """
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.shape[0] == 0:
        raise ValueError(f"faces must have shape (F, 3) with F > 0, got {faces.shape}")
    if face_stride < 1:
        raise ValueError(f"face_stride must be >= 1, got {face_stride}")
    return np.ascontiguousarray(faces[::face_stride].reshape(-1), dtype=np.int64)
