"""Linear blend skinning for SMPL-layout body models, as pure functions (torch).

Shapes use N = batch, V = vertices, J = joints, B = shape coefficients, P = 9 (J - 1) pose features.
Positions are metres in the body model frame (SMPL: y up, x to the subject's left, z forward).
Rotations are given as matrices (what a regressor outputs); each joint's rotation is relative to its
parent, joint 0 is the global orientation about the root joint.
"""
from __future__ import annotations

from typing import Sequence

import torch

__all__ = ["blend_shapes", "vertices2joints", "batch_rigid_transform", "pose_features", "lbs"]


def blend_shapes(betas: torch.Tensor, shapedirs: torch.Tensor) -> torch.Tensor:
    """Per-vertex shape displacement ``sum_b betas[n, b] * shapedirs[v, :, b]``.

    Args:
        betas: (N, B) shape coefficients.
        shapedirs: (V, 3, B) shape directions, metres per unit beta.
    Returns:
        (N, V, 3) displacements, metres.
    """
    return torch.einsum("nb,vcb->nvc", betas, shapedirs)


def vertices2joints(J_regressor: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
    """Joints as fixed linear combinations of vertices.

    Args:
        J_regressor: (J, V) weights (rows of SMPL's regressor sum to 1).
        vertices: (N, V, 3) metres.
    Returns:
        (N, J, 3) metres.
    """
    return torch.einsum("jv,nvc->njc", J_regressor, vertices)


def _as_parent_list(parents: torch.Tensor | Sequence[int]) -> list[int]:
    # The kinematic tree is a constant of the model; using Python ints keeps the joint loop static under
    # tracing/ONNX export instead of recording tensor indexing.
    return [int(p) for p in (parents.tolist() if isinstance(parents, torch.Tensor) else parents)]


def batch_rigid_transform(
    rotmats: torch.Tensor, joints: torch.Tensor, parents: torch.Tensor | Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward kinematics along the kinematic tree.

    Args:
        rotmats: (N, J, 3, 3) local joint rotations (joint 0: global orientation).
        joints: (N, J, 3) rest-pose joint locations, metres.
        parents: (J,) parent index per joint; ``parents[0]`` is ignored (root). Parents must precede
            their children (true for SMPL, SMPL-H and SMPL-X).
    Returns:
        posed_joints: (N, J, 3) joint locations after posing, metres.
        rel_transforms: (N, J, 4, 4) per-joint rigid transforms that map a REST-pose point rigidly
            attached to that joint to its posed location (the world transform with the rest joint
            location removed), i.e. what the skinning weights blend.
    """
    par = _as_parent_list(parents)
    N, J = joints.shape[:2]
    if rotmats.shape[:2] != (N, J) or len(par) != J:
        raise ValueError(
            f"batch_rigid_transform: rotmats {tuple(rotmats.shape)}, joints {tuple(joints.shape)} and "
            f"parents ({len(par)},) must agree as (N, J, 3, 3), (N, J, 3), (J,)"
        )
    rel_joints = torch.cat([joints[:, :1], joints[:, 1:] - joints[:, par[1:]]], dim=1)
    # world rotation and translation per joint, accumulated root to leaves
    rot_world = [rotmats[:, 0]]
    pos_world = [rel_joints[:, 0]]
    for j in range(1, J):
        p = par[j]
        rot_world.append(rot_world[p] @ rotmats[:, j])
        pos_world.append(pos_world[p] + (rot_world[p] @ rel_joints[:, j, :, None])[..., 0])
    G_rot = torch.stack(rot_world, dim=1)  # (N, J, 3, 3)
    posed_joints = torch.stack(pos_world, dim=1)  # (N, J, 3)
    # x_posed = G_rot (x_rest - J_rest) + J_posed
    t = posed_joints - (G_rot @ joints[..., None])[..., 0]
    top = torch.cat([G_rot, t[..., None]], dim=-1)  # (N, J, 3, 4)
    bottom = torch.zeros_like(top[..., :1, :])
    bottom[..., 0, 3] = 1.0
    return posed_joints, torch.cat([top, bottom], dim=-2)


def pose_features(rotmats: torch.Tensor) -> torch.Tensor:
    """SMPL pose-corrective features ``(R_j - I)`` of the non-root joints, flattened row-major.

    Args:
        rotmats: (N, J, 3, 3).
    Returns:
        (N, 9 (J - 1)).
    """
    eye = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device)
    # explicit width: a batch of zero people must keep its (0, 9 (J - 1)) shape
    return (rotmats[:, 1:] - eye).reshape(rotmats.shape[0], 9 * (rotmats.shape[1] - 1))


def lbs(
    betas: torch.Tensor,
    rotmats: torch.Tensor,
    v_template: torch.Tensor,
    shapedirs: torch.Tensor,
    posedirs: torch.Tensor,
    J_regressor: torch.Tensor,
    parents: torch.Tensor | Sequence[int],
    lbs_weights: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SMPL's shape blend shapes, pose correctives and linear blend skinning.

    Args:
        betas: (N, B) shape coefficients.
        rotmats: (N, J, 3, 3) local joint rotations (J = 24 for SMPL).
        v_template: (V, 3) rest-pose template, metres.
        shapedirs: (V, 3, B) shape directions.
        posedirs: (9 (J - 1), V * 3) pose-corrective directions (SMPL's (V, 3, P) array reshaped to
            (V * 3, P) and transposed, as smplx stores it).
        J_regressor: (J, V) joint regressor.
        parents: (J,) kinematic tree.
        lbs_weights: (V, J) skinning weights, rows summing to 1.
    Returns:
        vertices: (N, V, 3) posed vertices, metres, model frame (rotation about the root joint, no
            translation).
        joints: (N, J, 3) posed joints, metres.
    """
    N = rotmats.shape[0]
    V = v_template.shape[0]
    v_shaped = v_template + blend_shapes(betas, shapedirs)
    rest_joints = vertices2joints(J_regressor, v_shaped)
    v_posed = v_shaped + (pose_features(rotmats) @ posedirs).reshape(N, V, 3)
    posed_joints, A = batch_rigid_transform(rotmats, rest_joints, parents)
    # blend the 3x4 part of the joint transforms per vertex: (N, V, 3, 4)
    T = torch.einsum("vj,njab->nvab", lbs_weights, A[:, :, :3, :])
    # written out per column: a batched (3 x 3) @ (3,) matmul per vertex costs ~8x these four fused multiply-adds
    vertices = (T[..., 0] * v_posed[..., 0:1] + T[..., 1] * v_posed[..., 1:2] + T[..., 2] * v_posed[..., 2:3]
                + T[..., 3])
    return vertices, posed_joints
