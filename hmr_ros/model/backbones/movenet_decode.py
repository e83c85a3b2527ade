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

#: head name -> output channels, in the order of the heads map ``MoveNet.forward`` returns
HEADS = {"center": 1, "kpt_heatmap": 17, "kpt_regress": 34, "kpt_offset": 34, "box_scale": 2, "box_offset": 2}
#: output stride of the heads map, and MoveNet's peak test: a centre is a maximum of its 5 x 5 neighbourhood
STRIDE = 4
PEAK_KERNEL = 5

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


def decode(heads: Tensor, k: int = 6, stride: int = STRIDE) -> MoveNetPeople:
    """The heads map (B, 90, h, w) of ``MoveNet.forward`` -> ``MoveNetPeople`` with K people per image."""
    maps = split_heads(heads.float())
    center = torch.sigmoid(maps["center"])
    pooled = F.max_pool2d(center, PEAK_KERNEL, stride=1, padding=PEAK_KERNEL // 2)
    peaks = center * ((center - pooled).abs() < PEAK_TOLERANCE).to(center.dtype)
    center_scores, index = torch.topk(peaks.flatten(1), k, dim=1)
    return _people_at(maps, index, center_scores, stride)


def keypoints_at(heads: Tensor, index: Tensor, stride: int = STRIDE) -> Tensor:
    """MoveNet's 17 keypoints of the people centred at flat cells ``index`` (B, K) of the heads map (B, 90, h, w):
    (B, K, 17, 3) = x, y network-input pixels and score in [0, 1], decoded exactly as ``decode`` does (steps 2-3),
    for centres another head picked (SIAM's ``InstanceHead``)."""
    maps = split_heads(heads.float())
    people = _people_at(maps, index, torch.zeros_like(index, dtype=maps["center"].dtype), stride)
    return torch.cat([people.keypoints, people.keypoint_scores.unsqueeze(-1)], dim=-1)


def _people_at(maps: dict[str, Tensor], index: Tensor, center_scores: Tensor, stride: int) -> MoveNetPeople:
    """Steps 2-4 of the module docstring for the centre cells ``index`` (B, K)."""
    b, _, h, w = maps["center"].shape
    k = index.shape[1]
    dtype = maps["center"].dtype
    cy = torch.div(index, w, rounding_mode="floor")
    cx = index - cy * w
    cyf, cxf = cy.to(dtype), cx.to(dtype)

    size = _at(maps["box_scale"], index).clamp(min=0.0)          # (B, K, 2) height, width in cells
    offset = _at(maps["box_offset"], index)                      # (B, K, 2) dy, dx
    y0 = (cyf + offset[..., 0] - size[..., 0] * 0.5).clamp(0, h)
    x0 = (cxf + offset[..., 1] - size[..., 1] * 0.5).clamp(0, w)
    y1 = (cyf + offset[..., 0] + size[..., 0] * 0.5).clamp(0, h)
    x1 = (cxf + offset[..., 1] + size[..., 1] * 0.5).clamp(0, w)

    guess = _at(maps["kpt_regress"], index).view(b, k, NUM_KEYPOINTS, 2)  # dy, dx from the centre cell
    gy = cyf[..., None] + guess[..., 0]
    gx = cxf[..., None] + guess[..., 1]
    # The weight exp(-d^2 / spread) * [inside the box] is separable in y and x: built per axis, (B, K, 17, h) and
    # (B, K, 17, w), it costs one product over the (B, K, 17, h, w) volume instead of a dozen (~4x faster on a CPU).
    spread = min(h, w) * KEYPOINT_SPREAD
    ys = torch.arange(h, dtype=dtype, device=index.device)
    xs = torch.arange(w, dtype=dtype, device=index.device)
    wy = torch.exp(-(ys - gy[..., None]) ** 2 / spread) * ((ys >= y0[:, :, None, None])
                                                           & (ys < y1[:, :, None, None])).to(dtype)
    wx = torch.exp(-(xs - gx[..., None]) ** 2 / spread) * ((xs >= x0[:, :, None, None])
                                                           & (xs < x1[:, :, None, None])).to(dtype)
    heat = torch.sigmoid(maps["kpt_heatmap"]).flatten(2)                            # (B, 17, h*w)
    weighted = heat.view(b, 1, NUM_KEYPOINTS, h, w) * wy[..., :, None] * wx[..., None, :]  # (B, K, 17, h, w)
    cell = weighted.flatten(3).argmax(dim=3)                                         # (B, K, 17)
    ky = torch.div(cell, w, rounding_mode="floor")
    kx = cell - ky * w
    # the score: the best weighted heat of *any* person at that cell = heat there x the largest weight of any
    # person there, read at the K x 17 chosen cells only
    heat_at = torch.gather(heat, 2, cell.transpose(1, 2)).transpose(1, 2)           # (B, K, 17)
    per_person_y = torch.gather(wy.permute(0, 2, 1, 3).unsqueeze(2).expand(b, NUM_KEYPOINTS, k, k, h), 4,
                                ky.transpose(1, 2)[..., None, None].expand(b, NUM_KEYPOINTS, k, k, 1))
    per_person_x = torch.gather(wx.permute(0, 2, 1, 3).unsqueeze(2).expand(b, NUM_KEYPOINTS, k, k, w), 4,
                                kx.transpose(1, 2)[..., None, None].expand(b, NUM_KEYPOINTS, k, k, 1))
    best_weight = (per_person_y * per_person_x)[..., 0].amax(dim=3).transpose(1, 2)  # (B, K, 17)
    kscore = heat_at * best_weight
    refine = maps["kpt_offset"].reshape(b, NUM_KEYPOINTS, 2, h * w)                 # dy, dx per keypoint and cell
    gathered = torch.gather(refine.unsqueeze(1).expand(b, k, NUM_KEYPOINTS, 2, h * w), 4,
                            cell[..., None, None].expand(b, k, NUM_KEYPOINTS, 2, 1))[..., 0]
    keypoints = torch.stack([kx.to(dtype) + gathered[..., 1], ky.to(dtype) + gathered[..., 0]], -1) * stride

    boxes = torch.stack([x0, y0, x1, y1], dim=-1) * stride
    return MoveNetPeople(keypoints, kscore, boxes, torch.stack([cxf, cyf], -1), center_scores,
                         person_scores(center_scores, kscore))


def person_scores(center_scores: Tensor, keypoint_scores: Tensor) -> Tensor:
    """MoveNet's person score (step 4): centre scores (...) x the mean of the keypoint scores (..., 17) above
    ``KEYPOINT_THRESHOLD`` (0 when none is). A centre peak on a bicycle or a railing rarely has a body's keypoints
    around it."""
    above = keypoint_scores > KEYPOINT_THRESHOLD
    mean_above = (keypoint_scores * above).sum(-1) / above.sum(-1).clamp(min=1).to(keypoint_scores.dtype)
    return center_scores * mean_above
