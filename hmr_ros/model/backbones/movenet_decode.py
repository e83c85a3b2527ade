"""MoveNet MultiPose's own post-processing, in PyTorch: the heads map -> people (keypoints, boxes, scores).

The published graph decodes its heads like this (read off its nodes; the parity test checks it against TF.js):

1. person centres: the top-K cells of sigmoid(center) that are maxima of their 5 x 5 neighbourhood;
2. box at a centre cell (y, x): (y, x) + box_offset -/+ max(box_scale, 0) / 2, clipped to the grid;
3. each keypoint j: a first guess (y, x) + kpt_regress, then the cell maximising
   sigmoid(kpt_heatmap_j) * exp(-d^2 / (0.3 min(h, w))) inside the person's box (d: distance to the guess, cells),
   refined by kpt_offset at that cell; its score is the largest such weighted heat over all people at that cell;
4. person score: centre score x the mean of the keypoint scores above 0.127 (those above only).

The original keeps 6 people; here K is the caller's. Everything has static shapes (ONNX-exportable).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from hmr_ros.model.backbones.movenet import HEADS, MoveNet

#: constants of the published graph (stored as float16 there)
PEAK_TOLERANCE = 1.013279e-06
KEYPOINT_SPREAD = 0.30004883
KEYPOINT_THRESHOLD = 0.12695312
NUM_KEYPOINTS = 17


@dataclass
class MoveNetPeople:
    """K people per image, best centre first (static shapes; low scores are not people).

    keypoints (B, K, 17, 2) network-input pixels (x, y), COCO-17 order; keypoint_scores (B, K, 17) in [0, 1];
    boxes (B, K, 4) pixels (x0, y0, x1, y1); centers (B, K, 2) the centre cells' (x, y) in grid cells;
    center_scores (B, K) the centre heatmap at those cells; scores (B, K) MoveNet's person score.
    """

    keypoints: Tensor
    keypoint_scores: Tensor
    boxes: Tensor
    centers: Tensor
    center_scores: Tensor
    scores: Tensor


def split_heads(heads: Tensor) -> dict[str, Tensor]:
    """(B, 90, h, w) heads map -> the six heads by name (``HEADS`` order)."""
    return dict(zip(HEADS, torch.split(heads, list(HEADS.values()), dim=1)))


def _at(field: Tensor, index: Tensor) -> Tensor:
    """(B, C, h, w) values at flat cells (B, K) -> (B, K, C)."""
    b, c = field.shape[:2]
    return torch.gather(field.flatten(2), 2, index.unsqueeze(1).expand(b, c, index.shape[1])).transpose(1, 2)


def decode(heads: Tensor, k: int = 6, stride: int = MoveNet.STRIDE) -> MoveNetPeople:
    """The heads map (B, 90, h, w) of ``MoveNet.forward`` -> ``MoveNetPeople`` with K people per image."""
    maps = split_heads(heads.float())
    b, _, h, w = heads.shape
    center = torch.sigmoid(maps["center"])
    pooled = F.max_pool2d(center, MoveNet.PEAK_KERNEL, stride=1, padding=MoveNet.PEAK_KERNEL // 2)
    peaks = center * ((center - pooled).abs() < PEAK_TOLERANCE).to(center.dtype)
    center_scores, index = torch.topk(peaks.flatten(1), k, dim=1)
    cy = torch.div(index, w, rounding_mode="floor")
    cx = index - cy * w
    cyf, cxf = cy.to(center.dtype), cx.to(center.dtype)

    size = _at(maps["box_scale"], index).clamp(min=0.0)          # (B, K, 2) height, width in cells
    offset = _at(maps["box_offset"], index)                      # (B, K, 2) dy, dx
    y0 = (cyf + offset[..., 0] - size[..., 0] * 0.5).clamp(0, h)
    x0 = (cxf + offset[..., 1] - size[..., 1] * 0.5).clamp(0, w)
    y1 = (cyf + offset[..., 0] + size[..., 0] * 0.5).clamp(0, h)
    x1 = (cxf + offset[..., 1] + size[..., 1] * 0.5).clamp(0, w)

    guess = _at(maps["kpt_regress"], index).view(b, k, NUM_KEYPOINTS, 2)  # dy, dx from the centre cell
    gy = cyf[..., None] + guess[..., 0]
    gx = cxf[..., None] + guess[..., 1]
    ys = torch.arange(h, dtype=center.dtype, device=heads.device).view(1, 1, 1, h, 1)
    xs = torch.arange(w, dtype=center.dtype, device=heads.device).view(1, 1, 1, 1, w)
    d2 = (ys - gy[..., None, None]) ** 2 + (xs - gx[..., None, None]) ** 2          # (B, K, 17, h, w)
    inside = ((ys >= y0[:, :, None, None, None]) & (ys < y1[:, :, None, None, None])
              & (xs >= x0[:, :, None, None, None]) & (xs < x1[:, :, None, None, None]))
    heat = torch.sigmoid(maps["kpt_heatmap"]).unsqueeze(1)                          # (B, 1, 17, h, w)
    weighted = heat * torch.exp(-d2 / (min(h, w) * KEYPOINT_SPREAD)) * inside.to(heat.dtype)
    cell = weighted.flatten(3).argmax(dim=3)                                         # (B, K, 17)
    best = weighted.amax(dim=1).flatten(2)                                           # (B, 17, h*w) over people
    kscore = torch.gather(best.unsqueeze(1).expand(b, k, NUM_KEYPOINTS, h * w), 3, cell.unsqueeze(-1))[..., 0]
    ky = torch.div(cell, w, rounding_mode="floor")
    kx = cell - ky * w
    refine = maps["kpt_offset"].reshape(b, NUM_KEYPOINTS, 2, h * w)                 # dy, dx per keypoint and cell
    gathered = torch.gather(refine.unsqueeze(1).expand(b, k, NUM_KEYPOINTS, 2, h * w), 4,
                            cell[..., None, None].expand(b, k, NUM_KEYPOINTS, 2, 1))[..., 0]
    keypoints = torch.stack([kx.to(heat.dtype) + gathered[..., 1], ky.to(heat.dtype) + gathered[..., 0]], -1) * stride

    above = kscore > KEYPOINT_THRESHOLD
    mean_above = (kscore * above).sum(-1) / above.sum(-1).clamp(min=1).to(kscore.dtype)
    boxes = torch.stack([x0, y0, x1, y1], dim=-1) * stride
    return MoveNetPeople(keypoints, kscore, boxes, torch.stack([cxf, cyf], -1), center_scores,
                         center_scores * mean_above)
