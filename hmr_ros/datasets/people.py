"""A person of a real dataset as the synthetic data has them: ``PersonTruth`` from camera-frame SMPL."""
from __future__ import annotations

import numpy as np
import torch

from hmr_ros.geometry.projection import project
from hmr_ros.geometry.rotations_np import rotmat_from_rotvec
from hmr_ros.clips import PersonTruth


def posed_person(body_model, betas, global_orient, body_pose, translation, K: np.ndarray,
                 track_id: int | None = None) -> PersonTruth:
    """A person from camera-frame SMPL parameters: joints (24, 3) and vertices through ``body_model``, their 2D
    projection, box and centre (pixels)."""
    rot = rotmat_from_rotvec(np.r_[global_orient, body_pose].reshape(24, 3).astype(np.float64))
    with torch.no_grad():
        out = body_model(torch.as_tensor(np.asarray(betas, np.float32)[:body_model.num_betas])[None],
                         torch.as_tensor(rot, dtype=torch.float32)[None])
    t = np.asarray(translation, np.float32).reshape(3)
    joints, vertices = out.joints[0].numpy() + t, out.vertices[0].numpy() + t
    uv, j2d = project(vertices, K), project(joints, K)
    return PersonTruth(np.asarray(betas, np.float32)[:10], np.asarray(global_orient, np.float32),
                             np.asarray(body_pose, np.float32), t, joints, vertices, j2d.astype(np.float32),
                             box=np.r_[uv.min(0), uv.max(0)].astype(np.float32), centre=j2d[0].astype(np.float32),
                             track_id=track_id)


def joints_person(joints: np.ndarray, K: np.ndarray, track_id: int | None = None,
                  metric: bool = True, relative: np.ndarray | None = None) -> PersonTruth:
    """A person a dataset knows by joints only (no SMPL): ``joints`` (24, 3) in SMPL's slots, camera frame, NaN where
    not annotated; the pelvis (slot 0) is required, it is the person's centre. ``metric``: metres (CMU Panoptic);
    False: 2D keypoints as rays at 1 m depth (:func:`keypoint_person`). The SMPL parameters are placeholders
    (``smpl=False``), the box spans the known joints. ``relative``: (24, 4) root-relative 3D joints and weights
    (``PersonTruth.relative``), e.g. from a keypoint teacher's world landmarks."""
    joints = np.asarray(joints, np.float32).reshape(24, 3)
    if not np.isfinite(joints[0]).all() or joints[0, 2] <= 0:
        raise ValueError("joints_person: the pelvis (slot 0) must be known and in front of the camera")
    known = np.isfinite(joints).all(1)
    j2d = np.where(known[:, None], project(joints, K), np.nan).astype(np.float32)
    seen = j2d[known]
    return PersonTruth(np.zeros(10, np.float32), np.zeros(3, np.float32), np.zeros(69, np.float32),
                             joints[0].copy(), joints, joints[known], j2d,
                             box=np.r_[seen.min(0), seen.max(0)].astype(np.float32), centre=j2d[0],
                             track_id=track_id, smpl=False, metric=metric,
                             relative=None if relative is None else np.asarray(relative, np.float32).reshape(24, 4))


def keypoint_person(keypoints: np.ndarray, K: np.ndarray, track_id: int | None = None,
                    relative: np.ndarray | None = None) -> PersonTruth:
    """A person known by 2D keypoints only (COCO): ``keypoints`` (24, 2) pixels in SMPL's slots, NaN where not
    labelled, pelvis required. Each becomes the ray through its pixel at 1 m depth, which projects back exactly onto
    it whatever the focal length, so the 2D term sees the keypoints and no term reads a depth (``metric=False``)."""
    uv = np.asarray(keypoints, np.float64).reshape(24, 2)
    rays = np.c_[(uv - K[:2, 2]) / np.diag(K)[:2], np.ones(24)]
    return joints_person(np.where(np.isfinite(uv).all(1)[:, None], rays, np.nan), K, track_id, metric=False,
                         relative=relative)


def absent_person(track_id: int | None = None) -> PersonTruth:
    """A slot kept for a person who is not in this frame (a track of a video window that starts later or ends
    earlier): no joint known, the root behind the camera, so ``clip_sample`` masks the slot in this frame."""
    joints = np.full((24, 3), np.nan, np.float32)
    joints[0] = (0.0, 0.0, -1.0)
    return PersonTruth(np.zeros(10, np.float32), np.zeros(3, np.float32), np.zeros(69, np.float32),
                             joints[0].copy(), joints, np.zeros((0, 3), np.float32), np.full((24, 2), np.nan, np.float32),
                             track_id=track_id, smpl=False, metric=False)
