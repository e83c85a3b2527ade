"""Iterative SMPL regression (HMR-style error feedback) from FD factors.

Each factor has its own regressor that sees the factor and the current estimate of its parameter group and
predicts a correction, starting from mean parameters held as buffers: pose as 24 6D rotations (continuous, Zhou et
al. 2019) -> rotation matrices; 10 betas; camera (log s, dx, dy) (see ``hmr_ros.camera.perspective_root``).
The last layers start near zero, so an untrained head outputs the mean: an upright person facing the camera at
about 5 m in a 640 px-wide image.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from hmr_ros.geometry.rotations import rot6d_to_rotmat, rotmat_to_rot6d
from hmr_ros.model.fd import Factors, mlp

NUM_JOINTS = 24
#: Mean camera: 1 m spans half of S/2 network pixels, i.e. a 1.7 m person fills ~40 % of the letterbox height.
MEAN_SCALE = 0.5


@dataclass
class SMPLParams:
    """rotmats (B, K, 24, 3, 3) (joint 0 = global orient in the camera optical frame); betas (B, K, 10);
    cam (B, K, 3) = (s > 0, dx, dy); pose6d (B, K, 144) the unnormalised 6D of the last step, which the training
    supervises directly where a loss on rotations has no gradient (a 180 deg error; ``hmr_ros.training.losses``)."""

    rotmats: torch.Tensor
    betas: torch.Tensor
    cam: torch.Tensor
    pose6d: torch.Tensor | None = None


def mean_pose_6d() -> torch.Tensor:
    """(24, 6): all joints at rest, the root turned 180 deg about x so SMPL's y-up body stands upright facing
    the camera in the optical frame (y down, z forward)."""
    rot = torch.eye(3).repeat(NUM_JOINTS, 1, 1)
    rot[0] = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
    return rotmat_to_rot6d(rot)


class SMPLHead(nn.Module):
    """FD factors of K people -> their SMPL parameters, by ``iterations`` error-feedback refinements from the mean.

    Input ``Factors`` (see ``hmr_ros.model.fd``): pose (B, K, pose_dim), shape (B, K, shape_dim), camera
    (B, K, camera_dim); any leading dims work, (B, K) here. Each step adds a correction predicted from the factor
    concatenated with the current estimate, per group (pose as 24 x 6D rotations, betas, camera).

    Returns ``SMPLParams``:
        rotmats (B, K, 24, 3, 3): rotation matrices, SMPL joint order; joint 0 is the global orientation in the
            camera optical frame (x right, y down, z forward), the others are relative to their parent joint.
        betas (B, K, num_betas): SMPL shape PCA coefficients (unitless; 0 = the mean body).
        cam (B, K, 3): weak-perspective (s, dx, dy): s > 0 the projected size of 1 m in units of S/2 network
            pixels (``MEAN_SCALE`` = 0.5 at start); (dx, dy) the root joint's offset from the detected centre in
            metres, i.e. ``s * (dx, dy) * S/2`` network pixels. ``hmr_ros.camera.perspective_root`` turns it into
            the root's metric position in the camera frame.

    Args:
        pose_dim, shape_dim, camera_dim: widths of the three factors.
        iterations: refinement steps (3 in HMR). num_betas: shape coefficients (10).
        hidden: width of the pose regressor (shape and camera use hidden // 4).
    """

    def __init__(self, pose_dim: int, shape_dim: int, camera_dim: int, iterations: int = 3,
                 num_betas: int = 10, hidden: int = 512):
        super().__init__()
        self.iterations = iterations
        self.register_buffer("mean_pose", mean_pose_6d().flatten())
        self.register_buffer("mean_betas", torch.zeros(num_betas))
        self.register_buffer("mean_cam", torch.tensor([math.log(MEAN_SCALE), 0.0, 0.0]))
        self.pose = mlp(pose_dim + NUM_JOINTS * 6, hidden, NUM_JOINTS * 6)
        self.shape = mlp(shape_dim + num_betas, hidden // 4, num_betas)
        self.camera = mlp(camera_dim + 3, hidden // 4, 3)
        for reg in (self.pose, self.shape, self.camera):
            nn.init.xavier_uniform_(reg[-1].weight, gain=0.01)
            nn.init.zeros_(reg[-1].bias)

    def forward(self, f: Factors) -> SMPLParams:
        lead = f.pose.shape[:-1]  # (B, K)
        pose = self.mean_pose.expand(*lead, -1)
        betas = self.mean_betas.expand(*lead, -1)
        cam = self.mean_cam.expand(*lead, -1)
        for i in range(self.iterations):
            pose = pose + self.pose(torch.cat([f.pose, pose], dim=-1))
            if i + 1 < self.iterations:
                # Feed back the estimate as the rotation it stands for (unit 6D columns). Unnormalised, the 6D
                # vectors may grow with every step (the first trained weights went |v| 4 -> 66 -> 1100 in three
                # steps) and the Gram-Schmidt gradient falls as 1/|v|: the pose stopped learning.
                pose = rotmat_to_rot6d(rot6d_to_rotmat(pose.reshape(*lead, NUM_JOINTS, 6))).reshape(*lead, -1)
            betas = betas + self.shape(torch.cat([f.shape, betas], dim=-1))
            cam = cam + self.camera(torch.cat([f.camera, cam], dim=-1))
        rotmats = rot6d_to_rotmat(pose.reshape(*lead, NUM_JOINTS, 6))
        # exp keeps the scale positive; clamp avoids inf depth for a wild untrained output.
        s = torch.exp(cam[..., :1].clamp(-6.0, 6.0))
        return SMPLParams(rotmats, betas, torch.cat([s, cam[..., 1:]], dim=-1), pose)
