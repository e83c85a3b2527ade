"""A person of a real dataset as the synthetic data has them: ``GroundTruthPerson`` from camera-frame SMPL."""
from __future__ import annotations

import numpy as np
import torch

from hmr_ros.geometry.rotations_np import rotmat_from_rotvec
from hmr_ros.sim.clips import GroundTruthPerson


def posed_person(body_model, betas, global_orient, body_pose, translation, K: np.ndarray,
                 track_id: int | None = None) -> GroundTruthPerson:
    """A person from camera-frame SMPL parameters: joints (24, 3) and vertices through ``body_model``, their 2D
    projection, box and centre (pixels)."""
    rot = rotmat_from_rotvec(np.r_[global_orient, body_pose].reshape(24, 3).astype(np.float64))
    with torch.no_grad():
        out = body_model(torch.as_tensor(np.asarray(betas, np.float32)[:body_model.num_betas])[None],
                         torch.as_tensor(rot, dtype=torch.float32)[None])
    t = np.asarray(translation, np.float32).reshape(3)
    joints, vertices = out.joints[0].numpy() + t, out.vertices[0].numpy() + t
    z = np.maximum(vertices[:, 2:], 1e-6)
    uv = vertices[:, :2] / z * np.diag(K)[:2] + K[:2, 2]
    j2d = joints[:, :2] / np.maximum(joints[:, 2:], 1e-6) * np.diag(K)[:2] + K[:2, 2]
    return GroundTruthPerson(np.asarray(betas, np.float32)[:10], np.asarray(global_orient, np.float32),
                             np.asarray(body_pose, np.float32), t, joints, vertices, j2d.astype(np.float32),
                             box=np.r_[uv.min(0), uv.max(0)].astype(np.float32), centre=j2d[0].astype(np.float32),
                             track_id=track_id)
