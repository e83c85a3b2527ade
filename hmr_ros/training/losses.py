"""Training objective of SIAM: the losses and one supervised forward pass over a batch of clips.

Supervision follows the bottom-up recipe: a focal loss on the body-centre heatmap, and parameter losses on the
tokens gathered at the ground-truth centres (teacher forcing, through the same ``tokens_at`` the detector uses)
of every clip's output frame. This module is what a training script imports; it has no data loading.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from hmr_ros.model.siam import SIAM


@dataclass
class ClipBatch:
    """B clips of T frames with up to K annotated people per frame.

    images (B, T, S, S, 3) uint8; heatmaps (B, T, 1, S/4, S/4) Gaussian targets in [0, 1];
    index (B, T, K) flat grid index of each person's centre; mask (B, T, K) bool;
    rotmats (B, K, 24, 3, 3), betas (B, K, 10), cam (B, K, 3): targets of the output frame's people
    (slot k of the output frame).
    """

    images: torch.Tensor
    heatmaps: torch.Tensor
    index: torch.Tensor
    mask: torch.Tensor
    rotmats: torch.Tensor
    betas: torch.Tensor
    cam: torch.Tensor


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


def siam_losses(model: SIAM, batch: ClipBatch) -> dict[str, torch.Tensor]:
    """Forward a batch through both graphs; returns named losses and their sum under "total"."""
    b, t, s = batch.images.shape[:3]
    fused, logits = model.frame_net.features(batch.images.flatten(0, 1))            # (B*T, D, h, w)
    tokens, _ = model.frame_net.head.tokens_at(fused, batch.index.flatten(0, 1))    # (B*T, K, D)
    tokens = tokens.view(b, t, *tokens.shape[1:])
    rotmats, betas, cam, _ = model.temporal_net(tokens, batch.mask)
    present = batch.mask[:, model.config.output_index].to(betas.dtype)             # (B, K)
    n = present.sum().clamp(min=1.0)

    def per_person(err: torch.Tensor) -> torch.Tensor:
        return (err.flatten(2).pow(2).sum(-1) * present).sum() / n

    losses = {
        "heatmap": center_focal_loss(logits, batch.heatmaps.flatten(0, 1)),
        "pose": per_person(rotmats - batch.rotmats),
        "betas": 0.1 * per_person(betas - batch.betas),
        "cam": per_person(cam - batch.cam),
    }
    losses["total"] = sum(losses.values())
    return losses


def gaussian_heatmap(size: int, centers: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    """(size, size) target with a unit peak at each (x, y) grid centre in ``centers`` (N, 2)."""
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    heat = torch.zeros(size, size)
    for x, y in centers.tolist():
        heat = torch.maximum(heat, torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2)))
    return heat

