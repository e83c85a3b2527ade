"""The body-model terms of the training objective: SIAM's outputs posed through the body model and the inference
camera, against the ground truth (root-relative 3D joints and vertices, 2D joints in the letterbox, acceleration of
the joints across frames). ``losses.output_losses`` calls :func:`geometric_losses`; docs/training.md ("Losses")
gives every definition and unit.

People differ in what their dataset knows (``ClipBatch.smpl``, ``metric``, ``joint_known``): SMPL parameters
(synthetic clips, 3DPW, BEDLAM) give every term; metric 3D joints without SMPL (CMU Panoptic) give the 3D and 2D
joint terms on the joints they have, and the acceleration term; 2D keypoints alone (COCO), stored as rays at 1 m,
give the 2D term only.
"""
from __future__ import annotations

import copy

import torch

from hmr_ros.geometry.projection import project
from hmr_ros.smpl.body_model import BodyModel, load_body_model
from hmr_ros.smpl.lbs import batch_rigid_transform, blend_shapes, pose_features

# ``ClipBatch`` and ``LossWeights`` (hmr_ros.training.losses) appear in annotations only, as names: losses imports
# this module, and an import back would be a cycle.

#: Every vertex loss uses vertices 0, 16, 32, ... of the body model (448 of the procedural body's 7166, 431 of SMPL's
#: 6890): posing every vertex of K people x B clips costs more than the SMPL head itself on a CPU, and neighbouring
#: vertices move together, so a fixed even subsample measures the surface as well.
VERTEX_STRIDE = 16
#: Depth below which a joint does not count as in front of the camera (2D loss), and the floor of the predicted depth
#: in the projection (a wild untrained camera must not divide by ~0).
MIN_DEPTH_M = 0.1
#: Width of the pseudo-Huber distance sqrt(d^2 + eps^2) - eps, in each term's units (m or fractions of S): a smooth
#: Euclidean distance, exactly 0 with a zero gradient at d = 0, linear (a constant pull) beyond ~eps.
HUBER_EPS = 1e-3


def pseudo_huber(diff: torch.Tensor, eps: float = HUBER_EPS) -> torch.Tensor:
    """(..., C) differences -> (...) smooth Euclidean distances sqrt(|d|^2 + eps^2) - eps (0 at d = 0)."""
    return torch.sqrt(diff.pow(2).sum(-1) + eps * eps) - eps


class SkeletonBody(torch.nn.Module):
    """A :class:`BodyModel` posed for the losses: all 24 joints and a fixed vertex subsample, float32, differentiable.

    For an SMPL-layout (24-joint) model the rest joints come from precomputed ``J_regressor @ v_template`` and
    ``J_regressor @ shapedirs`` (exact: the regressor is linear), so only the subsampled vertices get the pose
    correctives and skinning; the result equals ``body(betas, rotmats)`` on those vertices. SMPL-H/X files fall back
    to the full forward pass.

    Args:
        body: the body model (the one the data was generated with).
        vertex_stride: keep vertices 0, stride, 2 * stride, ...
    """

    def __init__(self, body: BodyModel, vertex_stride: int = VERTEX_STRIDE):
        super().__init__()
        ids = torch.arange(0, body.num_vertices, vertex_stride)
        self.register_buffer("vertex_ids", ids)
        self.fast = body.num_joints == 24
        # a copy, so that moving this module to the GPU never moves the caller's (e.g. the renderer's) body model
        self.body = None if self.fast else copy.deepcopy(body)
        if self.fast:
            v = body.num_vertices
            self.register_buffer("J_template", body.J_regressor @ body.v_template)                     # (24, 3)
            self.register_buffer("J_shapedirs", torch.einsum("jv,vcb->jcb", body.J_regressor, body.shapedirs))
            self.register_buffer("v_template", body.v_template[ids])
            self.register_buffer("shapedirs", body.shapedirs[ids])
            self.register_buffer("posedirs", body.posedirs.view(-1, v, 3)[:, ids].reshape(body.posedirs.shape[0], -1))
            self.register_buffer("lbs_weights", body.lbs_weights[ids])
            self.parents = [int(p) for p in body.parents.tolist()]

    def forward(self, betas: torch.Tensor, rotmats: torch.Tensor,
                vertices: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """betas (N, num_betas), rotmats (N, 24, 3, 3) -> joints (N, 24, 3) and, with ``vertices``, the subsampled
        vertices (N, len(vertex_ids), 3); metres, model frame (rotated about the root joint, not translated)."""
        betas, rotmats = betas.float(), rotmats.float()
        if not self.fast:
            out = self.body(betas, rotmats)
            return out.joints, out.vertices[:, self.vertex_ids] if vertices else None
        n = rotmats.shape[0]
        rest = self.J_template + torch.einsum("nb,jcb->njc", betas, self.J_shapedirs)
        joints, A = batch_rigid_transform(rotmats, rest, self.parents)
        if not vertices:
            return joints, None
        v_posed = self.v_template + blend_shapes(betas, self.shapedirs)
        v_posed = v_posed + (pose_features(rotmats) @ self.posedirs).view(n, v_posed.shape[1], 3)
        T = torch.einsum("vj,njab->nvab", self.lbs_weights, A[:, :, :3, :])
        return joints, (T[..., :3] @ v_posed[..., None])[..., 0] + T[..., 3]


_SKELETONS: dict[tuple[int, str], tuple[BodyModel, SkeletonBody]] = {}


def _skeleton(body: BodyModel | None, device: torch.device) -> SkeletonBody:
    """One SkeletonBody per (body model, device), built on first use (the procedural body by default)."""
    if body is None:
        body = _skeleton_default()
    key = (id(body), str(device))
    if key not in _SKELETONS:  # the strong reference to body in the value keeps its id from being reused
        _SKELETONS[key] = (body, SkeletonBody(body).to(device))
    return _SKELETONS[key][1]


_DEFAULT_BODY: list[BodyModel] = []


def _skeleton_default() -> BodyModel:
    if not _DEFAULT_BODY:
        _DEFAULT_BODY.append(load_body_model("procedural"))
    return _DEFAULT_BODY[0]


def perspective_root_batch(cam: torch.Tensor, centers: torch.Tensor, letterbox: torch.Tensor, K_cam: torch.Tensor,
                           size: int) -> torch.Tensor:
    """:func:`hmr_ros.camera.perspective_root` for a batch with per-clip letterboxes and intrinsics.

    Args:
        cam: (B, K, 3) (s, dx, dy). centers: (B, K, 2) letterbox px. letterbox: (B, 5) (scale, pad_x, pad_y, W, H).
        K_cam: (B, 3, 3). size: S.
    Returns:
        (B, K, 3) root joints, metres, camera optical frame (the same formula, so the same value).
    """
    scale, pad_x, pad_y = (letterbox[:, i, None] for i in range(3))
    fx, fy, cx, cy = K_cam[:, 0, 0, None], K_cam[:, 1, 1, None], K_cam[:, 0, 2, None], K_cam[:, 1, 2, None]
    s, d = cam[..., :1], cam[..., 1:]
    root_lb = centers + s * d * (size / 2.0)
    u = (root_lb[..., 0] - pad_x) / scale
    v = (root_lb[..., 1] - pad_y) / scale
    z = 2.0 * scale * (0.5 * (fx + fy)) / (s[..., 0] * size)
    return torch.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], dim=-1)


def project_to_letterbox(points: torch.Tensor, letterbox: torch.Tensor, K_cam: torch.Tensor) -> torch.Tensor:
    """(B, ..., 3) camera-frame points -> (B, ..., 2) letterbox px (depth floored at ``MIN_DEPTH_M``).

    letterbox: (B, 5) (scale, pad_x, pad_y, W, H); K_cam: (B, 3, 3).
    """
    shape = (points.shape[0],) + (1,) * (points.dim() - 1)
    # a wild prediction near the camera plane would explode the 2D loss's gradient: the loss sees it 0.1 m away
    near = torch.cat([points[..., :2], points[..., 2:].clamp(min=MIN_DEPTH_M)], dim=-1)
    return project(near, K_cam) * letterbox[:, :1].view(shape) + letterbox[:, 1:3].view(shape[:-1] + (2,))


def geometric_losses(w: "LossWeights", batch: "ClipBatch", rotmats: torch.Tensor, betas: torch.Tensor, cam: torch.Tensor,
                     present: torch.Tensor, o: int, body: SkeletonBody, has_2d: bool,
                     frames: tuple[torch.Tensor, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """The body-model terms of the output frame (3D joints, vertices, 2D joints) and the acceleration term.

    rotmats (B, K, 24, 3, 3), betas (B, K, nb), cam (B, K, 3): predictions, float32; present (B, K) bool;
    o: the output frame's index in the window. Each term averages over the people (and joints) it can use.
    """
    b, k = present.shape
    s = batch.images.shape[2]
    out: dict[str, torch.Tensor] = {}
    smpl = present if batch.smpl is None else present & batch.smpl
    metric = present if batch.metric is None else present & batch.metric
    known = (torch.ones(b, k, 24, dtype=torch.bool, device=present.device) if batch.joint_known is None
             else batch.joint_known[:, o])                                              # (B, K, 24)
    # Only present people are posed: absent slots hold garbage that must cost neither time nor gradient.
    idx = present.flatten().nonzero()[:, 0]
    need_verts = bool(w.verts) and bool(smpl.any())
    need_pred = w.joints3d or need_verts or (w.joints2d and has_2d)
    if need_pred:
        pj, pv = body(betas.flatten(0, 1)[idx], rotmats.flatten(0, 1)[idx], vertices=need_verts)
        proot = pj[:, :1]
    if w.joints3d or need_verts:
        with torch.no_grad():
            gj, gv = body(batch.betas.flatten(0, 1)[idx], batch.rotmats.flatten(0, 1)[idx], vertices=need_verts)
            if batch.smpl is not None:  # people without SMPL: their dataset's joints (pelvis in slot 0)
                gj = torch.where(smpl.flatten()[idx, None, None], gj, batch.joints[:, o].flatten(0, 1)[idx].float())
        groot = gj[:, :1]
        if w.joints3d:
            used = (metric.flatten()[idx, None] & known.flatten(0, 1)[idx]).float()     # (M, 24)
            err = (pseudo_huber((pj - proot) - (gj - groot)) * used).sum(-1) / used.sum(-1).clamp(min=1.0)
            people = (used.sum(-1) > 0).sum()
            if batch.relative is not None:  # root-relative 3D without a position, weighted by its confidence
                rel = batch.relative.flatten(0, 1)[idx].float()                          # (M, 24, 4)
                weight = rel[..., 3] * (~metric.flatten()[idx, None]).float()
                rel_err = (pseudo_huber((pj - proot) - rel[..., :3]) * weight).sum(-1) / weight.sum(-1).clamp(min=1e-6)
                err = err + rel_err * (weight.sum(-1) > 0)
                people = people + (weight.sum(-1) > 0).sum()
            out["joints3d"] = w.joints3d * err.sum() / people.clamp(min=1)
        if need_verts:
            with_mesh = smpl.flatten()[idx].float()
            err = pseudo_huber((pv - proot) - (gv - groot)).mean(-1)
            out["verts"] = w.verts * (err * with_mesh).sum() / with_mesh.sum().clamp(min=1.0)
    if w.joints2d and has_2d:
        lb = batch.letterbox[:, o].float()                                              # (B, 5)
        K_cam = batch.K_cam.float()
        root = perspective_root_batch(cam, batch.centers[:, o].float(), lb, K_cam, s)   # (B, K, 3)
        pred_cam_frame = torch.zeros(b * k, 24, 3, device=cam.device)
        pred_cam_frame = pred_cam_frame.index_copy(0, idx, pj - proot) + root.flatten(0, 1)[:, None]
        gt = batch.joints[:, o].float()                                                  # (B, K, 24, 3)
        pred_uv = project_to_letterbox(pred_cam_frame.view(b, k, 24, 3), lb, K_cam)
        gt_uv = project_to_letterbox(gt, lb, K_cam)
        img_uv = (gt_uv - lb[:, None, None, 1:3]) / lb[:, None, None, :1]               # source image px
        visible = (present[..., None] & known & (gt[..., 2] > MIN_DEPTH_M) & (img_uv[..., 0] >= 0)
                   & (img_uv[..., 1] >= 0) & (img_uv[..., 0] < lb[:, None, None, 3])
                   & (img_uv[..., 1] < lb[:, None, None, 4]))
        dist = pseudo_huber((pred_uv - gt_uv) / s) * visible                            # (B, K, 24)
        per_person = dist.sum(-1) / visible.sum(-1).clamp(min=1)
        people = (visible.sum(-1) > 0).sum().clamp(min=1)
        out["joints2d"] = w.joints2d * per_person.sum() / people
    if frames is not None:
        out["accel"] = w.accel * accel_loss(frames, batch, body)
    return out


def accel_loss(frames: tuple[torch.Tensor, torch.Tensor], batch: "ClipBatch", body: SkeletonBody) -> torch.Tensor:
    """Mean distance (m / frame^2) between predicted and true second differences of the root-relative joints, over
    every person with metric joints present in three consecutive frames, on the joints known in all three (the
    frames' own predictions, see ``losses.frame_predictions``)."""
    all_rotmats, all_betas = frames                                                  # (B, T, K, ...)
    b, t, k = batch.mask.shape
    mask = batch.mask if batch.metric is None else batch.mask & batch.metric[:, None]
    triple = mask[:, :-2] & mask[:, 1:-1] & mask[:, 2:]                              # (B, T-2, K)
    # the frames that belong to some valid triple are the only ones to pose
    used = torch.zeros_like(mask)
    for i in range(3):
        used[:, i:i + t - 2] |= triple
    idx = used.flatten().nonzero()[:, 0]
    if idx.numel() == 0:
        return all_rotmats.new_zeros(()).float()
    pj, _ = body(all_betas.flatten(0, 2)[idx].float(), all_rotmats.flatten(0, 2)[idx].float(), vertices=False)
    pred = torch.zeros(b * t * k, 24, 3, device=pj.device).index_copy(0, idx, pj - pj[:, :1]).view(b, t, k, 24, 3)
    gt = batch.joints.float()
    gt = gt - gt[..., :1, :]
    acc_p = pred[:, :-2] - 2 * pred[:, 1:-1] + pred[:, 2:]
    acc_g = gt[:, :-2] - 2 * gt[:, 1:-1] + gt[:, 2:]
    if batch.joint_known is None:
        err = pseudo_huber(acc_p - acc_g).mean(-1)                                   # (B, T-2, K)
    else:
        kn = batch.joint_known
        both = (kn[:, :-2] & kn[:, 1:-1] & kn[:, 2:]).float()                        # (B, T-2, K, 24)
        err = (pseudo_huber(acc_p - acc_g) * both).sum(-1) / both.sum(-1).clamp(min=1.0)
    return (err * triple).sum() / triple.sum().clamp(min=1)
