"""The SMPL kinematic tree: 24 joints, their names and parents, in SMPL's official joint order.

Every module that walks the skeleton (the body model, the procedural body, the simulated skeleton of the
tracking scenarios, the tracker) reads the tree from here, so there is one place that says which joint
hangs from which.
"""
from __future__ import annotations

__all__ = ["NUM_JOINTS", "SMPL_JOINT_NAMES", "SMPL_PARENTS"]

NUM_JOINTS = 24

SMPL_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hand", "right_hand",
)

# Parent joint index per joint (-1: the root). Parents precede their children, which the forward
# kinematics in :mod:`hmr_ros.smpl.lbs` relies on.
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
