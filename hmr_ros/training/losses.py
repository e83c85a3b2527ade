"""Training objective of SIAM: the losses and one supervised forward pass over a batch of clips.

Supervision follows the bottom-up recipe: a focal loss on the body-centre heatmap, and losses on the SMPL outputs of
the tokens gathered at the ground-truth centres (teacher forcing, through the same ``tokens_at`` the detector uses):
squared errors on the parameters (rotation matrices, betas, camera), and geometric losses on what the parameters
produce through the body model and the inference camera (root-relative 3D joints and vertices, 2D joints reprojected
through the full-perspective camera, and the acceleration of the joints across the frames of the clip).
docs/training.md ("Losses") gives every definition, its units and the reasons for the default weights. This module
is what a training script imports; it has no data loading.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, fields

import torch

from hmr_ros.model.siam import SIAM
from hmr_ros.model.smpl_head import SMPLParams
from hmr_ros.smpl.body_model import BodyModel, load_body_model
from hmr_ros.smpl.lbs import batch_rigid_transform, blend_shapes, pose_features

__all__ = ["ClipBatch", "LossWeights", "LOSS_TERMS", "VERTEX_STRIDE", "MIN_DEPTH_M", "SkeletonBody",
           "center_focal_loss", "siam_losses", "temporal_losses", "project_to_letterbox", "perspective_root_batch",
           "frame_predictions", "pseudo_huber"]

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


@dataclass
class ClipBatch:
    """B clips of T frames with up to K annotated people per frame.

    images (B, T, S, S, 3) uint8; heatmaps (B, T, 1, S/4, S/4) Gaussian targets in [0, 1];
    index (B, T, K) flat grid index of each person's centre; mask (B, T, K) bool;
    rotmats (B, K, 24, 3, 3), betas (B, K, 10), cam (B, K, 3): targets of the output frame's people
    (slot k of the output frame).

    Geometry, for the 2D and acceleration losses (None in batches built without it, which then get the parameter,
    3D joint and vertex losses only):
    centers (B, T, K, 2) float32 letterbox px, the grid-cell centres the tokens are gathered at;
    joints (B, T, K, 24, 3) float32 ground-truth joints, metres, camera optical frame (zeros where mask is False);
    K_cam (B, 3, 3) float32 intrinsics of the source image;
    letterbox (B, T, 5) float32 (scale, pad_x, pad_y, width, height) of each frame's ``hmr_ros.camera.Letterbox``
    (source image px -> letterbox px: ``uv * scale + pad``; width, height of the source image).
    """

    images: torch.Tensor
    heatmaps: torch.Tensor
    index: torch.Tensor
    mask: torch.Tensor
    rotmats: torch.Tensor
    betas: torch.Tensor
    cam: torch.Tensor
    centers: torch.Tensor | None = None
    joints: torch.Tensor | None = None
    K_cam: torch.Tensor | None = None
    letterbox: torch.Tensor | None = None

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "ClipBatch":
        """The same batch on ``device`` (absent fields stay None)."""
        return ClipBatch(*(None if v is None else v.to(device, non_blocking=non_blocking)
                           for v in (getattr(self, f.name) for f in fields(self))))


@dataclass(frozen=True)
class LossWeights:
    """Weight of each term in the total (0 switches a term off and skips its computation).

    Units of the unweighted terms: heatmap, pose, betas, cam as before (focal loss per centre; squared errors summed
    per person); joints3d and verts metres (mean root-relative distance, MPJPE / PVE-like); joints2d fractions of
    the letterbox side S (mean reprojection distance / S); accel metres per frame^2 (mean distance between predicted
    and true root-relative joint accelerations); orient6d squared error of the root's unnormalised 6D against the
    true rotation's first two columns. docs/training.md explains the defaults.
    """

    heatmap: float = 1.0
    pose: float = 1.0
    betas: float = 0.1
    cam: float = 1.0
    joints3d: float = 5.0
    joints2d: float = 10.0
    verts: float = 2.0
    accel: float = 1.0
    orient6d: float = 1.0

    @staticmethod
    def old_objective() -> "LossWeights":
        """The objective before the geometric terms: heatmap + parameter squared errors."""
        return LossWeights(joints3d=0.0, joints2d=0.0, verts=0.0, accel=0.0)

    @staticmethod
    def from_mapping(values: "LossWeights | dict | None") -> "LossWeights":
        """LossWeights from a (partial) {term: weight} mapping; unknown names raise ValueError."""
        if values is None:
            return LossWeights()
        if isinstance(values, LossWeights):
            return values
        unknown = sorted(set(values) - set(LOSS_TERMS))
        if unknown:
            raise ValueError(f"loss weights: unknown term(s) {unknown}; the terms are {list(LOSS_TERMS)}")
        bad = {k: v for k, v in values.items() if not (float(v) >= 0.0)}
        if bad:
            raise ValueError(f"loss weights must be >= 0, got {bad}")
        return LossWeights(**{k: float(v) for k, v in values.items()})


#: The terms of the objective, in the order they are reported; ``siam_losses`` adds "total".
LOSS_TERMS = tuple(f.name for f in fields(LossWeights))


def center_focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, normalised by the number of centres (target == 1).

    Computed in float32 whatever the logits' dtype: in bfloat16 ``1 - 1e-4`` rounds to 1, so a saturated centre
    would give ``log(0) * 0 = nan`` under mixed precision.
    """
    p = torch.sigmoid(logits.float()).clamp(1e-4, 1 - 1e-4)
    pos = (target >= 1.0 - 1e-6).to(p.dtype)
    pos_loss = -torch.log(p) * (1 - p) ** alpha * pos
    neg_loss = -torch.log(1 - p) * p ** alpha * (1 - target) ** beta * (1 - pos)
    return (pos_loss.sum() + neg_loss.sum()) / pos.sum().clamp(min=1.0)


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
    shape = (points.shape[0],) + (1,) * (points.dim() - 2)
    fx, fy, cx, cy = (K_cam[:, i, j].view(shape) for i, j in ((0, 0), (1, 1), (0, 2), (1, 2)))
    scale, pad_x, pad_y = (letterbox[:, i].view(shape) for i in range(3))
    z = points[..., 2].clamp(min=MIN_DEPTH_M)
    u = fx * points[..., 0] / z + cx
    v = fy * points[..., 1] / z + cy
    return torch.stack([u * scale + pad_x, v * scale + pad_y], dim=-1)


def frame_predictions(model: SIAM, tokens: torch.Tensor, mask: torch.Tensor, centers: torch.Tensor):
    """The temporal network's output for every frame of the clips, each as it would be predicted at inference.

    The prediction for frame t comes from the window whose output slot (``output_index`` o) holds frame t: window
    slot j holds clip frame t - o + j, and slots outside the clip are masked, exactly as ``FrameBuffer`` presents a
    stream that has not filled the window yet (unwritten slots first, masked). The window of frame o is the clip
    itself, so that frame's prediction is the usual one.

    Args:
        tokens: (B, T, K, D); mask: (B, T, K) bool; centers: (B, T, K, 2) network pixels.
    Returns:
        ``SMPLParams`` of every frame: rotmats (B, T, K, 24, 3, 3), betas (B, T, K, nb), cam (B, T, K, 3),
        pose6d (B, T, K, 144).
    """
    b, t = tokens.shape[:2]
    o = model.config.output_index
    src = torch.arange(t, device=tokens.device)[:, None] - o + torch.arange(t, device=tokens.device)[None]  # (T, T)
    valid = (src >= 0) & (src < t)
    src = src.clamp(0, t - 1)
    win_tokens = tokens[:, src] * valid[None, :, :, None, None].to(tokens.dtype)                # (B, T, T, K, D)
    win_mask = mask[:, src] & valid[None, :, :, None]                                             # (B, T, T, K)
    win_centers = centers[:, src] * valid[None, :, :, None, None].to(centers.dtype)               # (B, T, T, K, 2)
    p, _ = model.temporal_net.params(win_tokens.flatten(0, 1), win_mask.flatten(0, 1), win_centers.flatten(0, 1))
    return SMPLParams(*(v.view(b, t, *v.shape[1:]) for v in (p.rotmats, p.betas, p.cam, p.pose6d)))


def siam_losses(model: SIAM, batch: ClipBatch, weights: LossWeights | dict | None = None,
                body_model: BodyModel | None = None) -> dict[str, torch.Tensor]:
    """Forward a batch through both graphs; returns each weighted term (``LOSS_TERMS``) and their sum, "total".

    Args:
        model: the network (train or eval mode).
        batch: the clips and their targets.
        weights: per-term weights (default ``LossWeights()``); a term with weight 0 is not computed (reported as 0).
        body_model: the body model that generated the ground truth (default the procedural body); the 3D, vertex,
            2D and acceleration terms pose the predictions through it.
    Terms that need batch fields the batch does not carry (2D: centers, joints, K_cam, letterbox; acceleration:
    joints and T >= 3) are reported as 0.
    """
    w = LossWeights.from_mapping(weights)
    b, t = batch.images.shape[:2]
    fused, logits = model.frame_net.features(batch.images.flatten(0, 1))            # (B*T, D, h, w)
    tokens, centers = model.frame_net.head.tokens_at(fused, batch.index.flatten(0, 1))  # (B*T, K, D), (B*T, K, 2)
    losses = {"heatmap": logits.new_zeros((), dtype=torch.float32)}
    if w.heatmap:
        losses["heatmap"] = w.heatmap * center_focal_loss(logits, batch.heatmaps.flatten(0, 1))
    losses.update(temporal_losses(model, tokens.view(b, t, *tokens.shape[1:]), centers.view(b, t, -1, 2).float(),
                                  batch, w, body_model))
    losses["total"] = sum(losses[name] for name in LOSS_TERMS)
    return losses


def temporal_losses(model: SIAM, tokens: torch.Tensor, centers: torch.Tensor, batch: ClipBatch,
                    weights: LossWeights | dict | None = None,
                    body_model: BodyModel | None = None) -> dict[str, torch.Tensor]:
    """Every term but the heatmap's, from the frame tokens (B, T, K, D) gathered at the ground-truth centres
    (B, T, K, 2) network pixels.

    The part of :func:`siam_losses` after the frame network: the temporal network's output frame (and, for the
    acceleration term, every frame's prediction, :func:`frame_predictions`) through :func:`output_losses`. The
    temporal stage (``hmr_ros.training.token_cache``) calls it on tokens a frozen frame network computed once.
    """
    w = LossWeights.from_mapping(weights)
    t = tokens.shape[1]
    out = model.config.output_index
    use_accel = w.accel > 0 and t >= 3 and batch.joints is not None
    frames = None
    if use_accel:  # every frame's prediction; the output frame's is the usual one
        every = frame_predictions(model, tokens, batch.mask, centers)
        params = SMPLParams(*(v[:, out] for v in (every.rotmats, every.betas, every.cam, every.pose6d)))
        frames = (every.rotmats, every.betas)
    else:
        params, _ = model.temporal_net.params(tokens, batch.mask, centers)
    return output_losses(batch, out, params.rotmats, params.betas, params.cam, weights=w, body_model=body_model,
                         frames=frames, pose6d=params.pose6d)


def output_losses(batch: ClipBatch, output_index: int, rotmats: torch.Tensor, betas: torch.Tensor, cam: torch.Tensor,
                  *, weights: LossWeights | dict | None = None, body_model: BodyModel | None = None,
                  frames: tuple[torch.Tensor, torch.Tensor] | None = None,
                  pose6d: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Every term but the heatmap's, from the network's outputs (weighted; 0 where off or not computable).

    Args:
        batch: the targets. output_index: the window slot the outputs are for (``SIAMConfig.output_index``).
        rotmats (B, K, 24, 3, 3), betas (B, K, nb), cam (B, K, 3): the output frame's predictions.
        weights, body_model: as in :func:`siam_losses`.
        frames: (rotmats (B, T, K, 24, 3, 3), betas (B, T, K, nb)) predictions of every frame
            (:func:`frame_predictions`), for the acceleration term; None = no acceleration term.
        pose6d: (B, K, 144) the head's unnormalised 6D (``SMPLParams.pose6d``), for the orient6d term; None = none.
    Returns:
        {term: weighted value} for every name of ``LOSS_TERMS`` except "heatmap".
    """
    w = LossWeights.from_mapping(weights)
    present_b = batch.mask[:, output_index]                                          # (B, K)
    present = present_b.to(betas.dtype)
    n = present.sum().clamp(min=1.0)

    def per_person(err: torch.Tensor) -> torch.Tensor:
        return (err.flatten(2).pow(2).sum(-1) * present).sum() / n

    zero = betas.new_zeros((), dtype=torch.float32)
    losses = {name: zero for name in LOSS_TERMS if name != "heatmap"}
    if w.pose:
        losses["pose"] = w.pose * per_person(rotmats - batch.rotmats)
    if w.betas:
        losses["betas"] = w.betas * per_person(betas - batch.betas)
    if w.cam:
        losses["cam"] = w.cam * per_person(cam - batch.cam)
    if w.orient6d and pose6d is not None:
        # The rotation terms have no gradient at a 180 deg error (every smooth function of a rotation is extremal
        # at the antipode), so a person predicted facing the wrong way would stay so; the raw 6D has one.
        target = torch.cat([batch.rotmats[:, :, 0, :, 0], batch.rotmats[:, :, 0, :, 1]], dim=-1)   # (B, K, 6)
        losses["orient6d"] = w.orient6d * per_person(pose6d.float()[..., :6] - target)

    has_2d = all(v is not None for v in (batch.centers, batch.joints, batch.K_cam, batch.letterbox))
    use_accel = bool(w.accel) and frames is not None and batch.joints is not None and batch.mask.shape[1] >= 3
    if w.joints3d or w.verts or (w.joints2d and has_2d) or use_accel:
        # Geometry in float32 even under bf16 autocast: a bf16 mantissa holds 8 bits, i.e. ~2 cm at 5 m.
        with torch.autocast(device_type=batch.images.device.type, enabled=False):
            losses.update(_geometric_losses(w, batch, rotmats.float(), betas.float(), cam.float(), present_b,
                                            output_index, _skeleton(body_model, batch.images.device), has_2d,
                                            frames if use_accel else None))
    return losses


def _geometric_losses(w: LossWeights, batch: ClipBatch, rotmats: torch.Tensor, betas: torch.Tensor, cam: torch.Tensor,
                      present: torch.Tensor, o: int, body: SkeletonBody, has_2d: bool,
                      frames: tuple[torch.Tensor, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    """The body-model terms of the output frame (3D joints, vertices, 2D joints) and the acceleration term.

    rotmats (B, K, 24, 3, 3), betas (B, K, nb), cam (B, K, 3): predictions, float32; present (B, K) bool;
    o: the output frame's index in the window.
    """
    b, k = present.shape
    s = batch.images.shape[2]
    out: dict[str, torch.Tensor] = {}
    # Only present people are posed: absent slots hold garbage that must cost neither time nor gradient.
    idx = present.flatten().nonzero()[:, 0]
    m = max(int(idx.numel()), 1)
    need_verts = bool(w.verts)
    need_pred = w.joints3d or w.verts or (w.joints2d and has_2d)
    if need_pred:
        pj, pv = body(betas.flatten(0, 1)[idx], rotmats.flatten(0, 1)[idx], vertices=need_verts)
        proot = pj[:, :1]
    if w.joints3d or w.verts:
        with torch.no_grad():
            gj, gv = body(batch.betas.flatten(0, 1)[idx], batch.rotmats.flatten(0, 1)[idx], vertices=need_verts)
        groot = gj[:, :1]
        if w.joints3d:
            out["joints3d"] = w.joints3d * pseudo_huber((pj - proot) - (gj - groot)).mean(-1).sum() / m
        if w.verts:
            out["verts"] = w.verts * pseudo_huber((pv - proot) - (gv - groot)).mean(-1).sum() / m
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
        visible = (present[..., None] & (gt[..., 2] > MIN_DEPTH_M) & (img_uv[..., 0] >= 0) & (img_uv[..., 1] >= 0)
                   & (img_uv[..., 0] < lb[:, None, None, 3]) & (img_uv[..., 1] < lb[:, None, None, 4]))
        dist = pseudo_huber((pred_uv - gt_uv) / s) * visible                            # (B, K, 24)
        per_person = dist.sum(-1) / visible.sum(-1).clamp(min=1)
        people = (visible.sum(-1) > 0).sum().clamp(min=1)
        out["joints2d"] = w.joints2d * per_person.sum() / people
    if frames is not None:
        out["accel"] = w.accel * _accel_loss(frames, batch, body)
    return out


def _accel_loss(frames: tuple[torch.Tensor, torch.Tensor], batch: ClipBatch, body: SkeletonBody) -> torch.Tensor:
    """Mean distance (m / frame^2) between predicted and true second differences of the root-relative joints, over
    every person present in three consecutive frames (the frames' own predictions, see ``frame_predictions``)."""
    all_rotmats, all_betas = frames                                                  # (B, T, K, ...)
    b, t, k = batch.mask.shape
    mask = batch.mask
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
    err = pseudo_huber(acc_p - acc_g).mean(-1)                                       # (B, T-2, K)
    return (err * triple).sum() / triple.sum().clamp(min=1)
