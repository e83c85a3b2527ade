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

from dataclasses import dataclass, fields

import torch

from hmr_ros.model.siam import SIAM
from hmr_ros.model.smpl_head import SMPLParams
from hmr_ros.smpl.body_model import BodyModel
from hmr_ros.training.body_losses import (
    MIN_DEPTH_M, VERTEX_STRIDE, SkeletonBody, _skeleton, geometric_losses, perspective_root_batch,
    project_to_letterbox, pseudo_huber,
)

__all__ = ["ClipBatch", "LossWeights", "LOSS_TERMS", "VERTEX_STRIDE", "MIN_DEPTH_M", "SkeletonBody",
           "center_focal_loss", "siam_losses", "temporal_losses", "project_to_letterbox", "perspective_root_batch",
           "frame_predictions", "pseudo_huber"]

@dataclass
class ClipBatch:
    """B clips of T frames with up to K annotated people per frame.

    images (B, T, S, S, 3) uint8; heatmaps (B, T, 1, S/s, S/s) (s: ``SIAMConfig.stride``) Gaussian targets in [0, 1];
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

    What each person's dataset knows (None = everything, as for synthetic clips):
    smpl (B, K) bool: the output frame's person has SMPL parameters (pose, betas and vertex terms);
    metric (B, K) bool: their ``joints`` are metric 3D (else 2D keypoints stored as rays at 1 m: camera, 3D and
    acceleration terms off); joint_known (B, T, K, 24) bool: which of the 24 joint slots the dataset annotates;
    relative (B, K, 24, 4) float32: the output frame's root-relative joints (x, y, z metres) and weights in [0, 1]
    for people known in 3D without their position (pseudo-labels: the teacher's world landmarks), zeros elsewhere.
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
    smpl: torch.Tensor | None = None
    metric: torch.Tensor | None = None
    joint_known: torch.Tensor | None = None
    relative: torch.Tensor | None = None

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
    with_smpl = present_b if batch.smpl is None else present_b & batch.smpl
    with_root = present_b if batch.metric is None else present_b & batch.metric

    def per_person(err: torch.Tensor, who: torch.Tensor = with_smpl) -> torch.Tensor:
        who = who.to(err.dtype)
        return (err.flatten(2).pow(2).sum(-1) * who).sum() / who.sum().clamp(min=1.0)

    zero = betas.new_zeros((), dtype=torch.float32)
    losses = {name: zero for name in LOSS_TERMS if name != "heatmap"}
    if w.pose:
        losses["pose"] = w.pose * per_person(rotmats - batch.rotmats)
    if w.betas:
        losses["betas"] = w.betas * per_person(betas - batch.betas)
    if w.cam:
        losses["cam"] = w.cam * per_person(cam - batch.cam, with_root)  # the target comes from the metric root
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
            losses.update(geometric_losses(w, batch, rotmats.float(), betas.float(), cam.float(), present_b,
                                            output_index, _skeleton(body_model, batch.images.device), has_2d,
                                            frames if use_accel else None))
    return losses
