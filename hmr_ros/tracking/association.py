"""The association cost of the tracker: how well each live track matches each detection of a frame.

The cost mixes 2D box IoU (predicted track box vs detection box), 3D root distance (predicted track root vs
detection root, relative to a gate radius that grows while a track is unseen), pose similarity (mean geodesic
angle of the 23 body joint rotations), global orientation and, when both sides carry one, appearance-token cosine
similarity: a weighted mean in [0, 1]. Pairs outside the gate or above ``max_cost`` are infeasible
(:data:`INFEASIBLE`), so the assignment never takes them. Pure numpy; the track state lives in
:mod:`hmr_ros.tracking.tracker`.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from hmr_ros.bodies import Body
from hmr_ros.geometry.rotations_np import geodesic_angle, quat_from_rotvec
from hmr_ros.smpl.kinematic_tree import NUM_JOINTS

__all__ = ["INFEASIBLE", "box_iou", "joint_quats", "pose_distance", "normalize", "association_cost"]

#: cost of a gated-out pair: far above any feasible cost (those are in [0, 1])
INFEASIBLE = 1e6


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` (M, 4) and ``b`` (N, 4), (x0, y0, x1, y1) pixels -> (M, N) in [0, 1]."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0.0, None) * np.clip(y1 - y0, 0.0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0.0, None) * np.clip(a[:, 3] - a[:, 1], 0.0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0.0, None) * np.clip(b[:, 3] - b[:, 1], 0.0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0.0, inter / np.where(union > 0.0, union, 1.0), 0.0)


def joint_quats(bodies: list[Body]) -> np.ndarray:
    """(N, 24, 4) unit quaternions (w, x, y, z) of the bodies' global orientation (joint 0) and body pose."""
    if not bodies:
        return np.zeros((0, NUM_JOINTS, 4))
    rotvecs = np.stack([np.concatenate([np.asarray(b.global_orient, dtype=np.float64).reshape(1, 3),
                                        np.asarray(b.body_pose, dtype=np.float64).reshape(-1, 3)])
                        for b in bodies])
    return quat_from_rotvec(rotvecs)


def pose_distance(q_a: np.ndarray, q_b: np.ndarray) -> np.ndarray:
    """Mean geodesic angle (rad) between poses: ``q_a`` (M, J, 4), ``q_b`` (N, J, 4) quaternions -> (M, N)."""
    return geodesic_angle(q_a[:, None], q_b[None, :]).mean(axis=-1)


def normalize(v: np.ndarray) -> np.ndarray:
    """``v`` scaled to unit length (a zero vector stays zero)."""
    return v / max(float(np.linalg.norm(v)), 1e-12)


def association_cost(tracks: Sequence[Any], bodies: list[Body], quats: np.ndarray, stamp: float,
                     cfg: Any) -> np.ndarray:
    """(tracks, detections) association cost in [0, 1]; infeasible pairs (gated out) are :data:`INFEASIBLE`.

    ``tracks``: the live tracks (``hmr_ros.tracking.tracker._Track``: ``predicted_root``, ``predicted_box``,
    ``last_stamp``, ``pose_quat``, ``orient_quat``, ``token``); ``quats``: the detections' (N, 24, 4)
    :func:`joint_quats`; ``stamp``: the frame time in seconds; ``cfg``: the ``TrackerConfig`` (weights, gate,
    ``max_cost``). Duck-typed so this module does not import the tracker that imports it.
    """
    det_roots = np.stack([np.asarray(b.joints[0], dtype=np.float64) for b in bodies])
    det_boxes = np.stack([np.asarray(b.box, dtype=np.float64) for b in bodies])
    pred_roots = np.stack([t.predicted_root(stamp) for t in tracks])
    pred_boxes = np.stack([t.predicted_box(stamp) for t in tracks])
    unseen_s = np.array([stamp - t.last_stamp for t in tracks])

    # A monocular root is uncertain along the viewing ray (depth), not across it: a depth difference up to
    # gate_depth_fraction x depth is forgiven; lateral distances count in full, as before.
    diff = det_roots[None] - pred_roots[:, None]                                      # (tracks, dets, 3)
    allowance = cfg.gate_depth_fraction * np.maximum(pred_roots[:, 2], 0.0)[:, None]
    dz = np.maximum(np.abs(diff[..., 2]) - allowance, 0.0)
    dist = np.sqrt(diff[..., 0] ** 2 + diff[..., 1] ** 2 + dz ** 2)
    gate = cfg.max_root_distance_m + cfg.gate_growth_m_per_s * unseen_s
    root_cost = np.clip(dist / gate[:, None], 0.0, 1.0)
    iou_cost = 1.0 - box_iou(pred_boxes, det_boxes)
    det_pose = quats[:, 1:]
    track_pose = np.stack([t.pose_quat for t in tracks])
    pose_cost = np.clip(pose_distance(track_pose, det_pose) / cfg.pose_distance_scale_rad, 0.0, 1.0)

    det_orient = quats[:, 0]
    track_orient = np.stack([t.orient_quat for t in tracks])
    orient_cost = geodesic_angle(track_orient[:, None], det_orient[None]) / np.pi

    num = (cfg.iou_weight * iou_cost + cfg.root_weight * root_cost + cfg.pose_weight * pose_cost
           + cfg.orientation_weight * orient_cost)
    den = np.full_like(num, cfg.iou_weight + cfg.root_weight + cfg.pose_weight + cfg.orientation_weight)
    if cfg.token_weight > 0.0:
        for ti, t in enumerate(tracks):
            if t.token is None:
                continue
            for di, b in enumerate(bodies):
                if b.token is None:
                    continue
                cos = float(np.dot(t.token, normalize(np.asarray(b.token, dtype=np.float64))))
                num[ti, di] += cfg.token_weight * 0.5 * (1.0 - cos)
                den[ti, di] += cfg.token_weight
    cost = num / den
    infeasible = (dist > gate[:, None]) | (cost > cfg.max_cost)
    return np.where(infeasible, INFEASIBLE, cost)
