"""From multi-resolution backbone features to K instance tokens per frame (the frame head).

Bottom-up, in the CenterNet/ROMP lineage: the backbone's maps (HRNet's four branches; MoveNet's FPN map and its
heads) are fused at 1/4 resolution, a body-centre heatmap is predicted (on top of the backbone's own, when it has
one), its local maxima (3x3 max-pool NMS) give the top-K people, and the fused feature at each
peak plus a 2D position encoding becomes that person's token. Everything has static shapes (K fixed, a
validity mask instead of a variable count) so the graph exports to ONNX/TensorRT unchanged.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: CenterNet's focal-loss prior: with a zero-initialised output conv the untrained heatmap is sigmoid(-2.19) = 0.1
#: everywhere, so an untrained network reports nobody at the default threshold instead of K confident ghosts
#: (random BatchNorm statistics would otherwise saturate the logits).
HEATMAP_PRIOR_BIAS = -math.log((1 - 0.1) / 0.1)


def conv_bn_relu(cin: int, cout: int, k: int, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def spatial_conv(dim: int, cout: int, light: bool) -> nn.Sequential:
    """The head's 3x3 context step: a dense 3x3 conv, or (``light``) a depthwise 3x3 then a 1x1 (~1/9 the FLOPs)."""
    if not light:
        return conv_bn_relu(dim, cout, 3)
    return nn.Sequential(conv_bn_relu(dim, dim, 3, groups=dim), conv_bn_relu(dim, cout, 1))


class BranchFusion(nn.Module):
    """Upsample branches 2-4 to the 1/4-resolution grid, concatenate, project to D channels.

    (B, C_i, H/2^(i+2), W/2^(i+2)) x 4 -> (B, D, H/4, W/4).
    """

    def __init__(self, in_channels: list[int], dim: int, light: bool = False):
        super().__init__()
        self.proj = nn.Sequential(conv_bn_relu(sum(in_channels), dim, 1), spatial_conv(dim, dim, light))

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        size = feats[0].shape[-2:]
        up = [feats[0]] + [F.interpolate(f, size=size, mode="bilinear", align_corners=False) for f in feats[1:]]
        return self.proj(torch.cat(up, dim=1))


class CenterHead(nn.Module):
    """Body-centre heatmap logits (B, 1, h, w) from fused features (B, D, h, w).

    With a backbone that predicts centres itself (``has_prior``) this is a learnt correction added to the backbone's
    logits (``InstanceHead.features``): it starts at zero, so the untrained network detects exactly as the backbone
    does. Without one it starts at the focal-loss prior (nobody found).
    """

    def __init__(self, dim: int, has_prior: bool = False, light: bool = False):
        super().__init__()
        self.body = spatial_conv(dim, dim // 2, light)
        self.out = nn.Conv2d(dim // 2, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.constant_(self.out.bias, 0.0 if has_prior else HEATMAP_PRIOR_BIAS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


@functools.lru_cache(maxsize=8)
def _tie_order(h: int, w: int) -> np.ndarray:
    """(h*w,) int32 tie-break rank per cell: h*w - 1 for the cell nearest the image centre, 0 for the farthest."""
    ys, xs = np.mgrid[:h, :w]
    dist = ((xs + 0.5 - w / 2) ** 2 + (ys + 0.5 - h / 2) ** 2).ravel()
    rank = np.empty(h * w, dtype=np.int32)
    rank[np.argsort(dist, kind="stable")] = np.arange(h * w - 1, -1, -1, dtype=np.int32)
    return rank


def heatmap_peaks(heat: torch.Tensor, k: int, order: torch.Tensor | None = None,
                  kernel: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k local maxima of a (B, 1, h, w) heatmap in [0, 1].

    Returns scores (B, k) descending and flat indices (B, k) into h*w. A ``kernel`` x ``kernel`` max-pool keeps only
    local maxima (non-maximum suppression without a variable-size output; 3, or the backbone's ``PEAK_KERNEL``). Ranking uses an int32 key = score quantised to
    2^30 / (h*w) levels, then closeness to the image centre: exact ties (a flat untrained heatmap, saturated
    scores) are broken identically by PyTorch, ONNX Runtime and TensorRT, whose float top-k orders ties
    arbitrarily, and in favour of where people usually are rather than the letterbox padding of a corner.
    ``order`` is ``_tie_order(h, w)`` already on the device (a buffer), computed here when not given.
    """
    h, w = heat.shape[-2:]
    n = h * w
    peak = (heat * (F.max_pool2d(heat, kernel, stride=1, padding=kernel // 2) == heat).to(heat.dtype)).flatten(1)
    levels = max(2, 2 ** 30 // n)
    if order is None or order.numel() != n:
        order = torch.from_numpy(_tie_order(int(h), int(w))).to(heat.device)
    key = (peak.float() * (levels - 1)).round().to(torch.int32) * n + order
    index = torch.topk(key, k, dim=1).indices
    return torch.gather(peak, 1, index), index


class PositionEncoding(nn.Module):
    """Fourier features of the normalised (x, y) position, linearly projected to D: (B, K, 2) -> (B, K, D)."""

    def __init__(self, dim: int, num_freqs: int = 16):
        super().__init__()
        self.register_buffer("freqs", (2.0 ** torch.arange(num_freqs)) * math.pi / 2, persistent=False)
        self.proj = nn.Linear(4 * num_freqs, dim)

    def forward(self, xy: torch.Tensor) -> torch.Tensor:
        angles = (xy.unsqueeze(-1) * self.freqs).flatten(-2)  # (B, K, 2F), xy in [-1, 1]
        return self.proj(torch.cat([angles.sin(), angles.cos()], dim=-1))


@dataclass
class Instances:
    """Per-frame output of the frame head (static shapes): the top-K peaks, whatever their score.

    tokens (B, K, D); centers (B, K, 2) network-input pixels; scores (B, K) in [0, 1], descending; index (B, K) the
    peaks' flat cells in the (h, w) grid (where a backbone with keypoint heads reads each person's keypoints). Which slots
    count as people (``scores >= threshold``) is decided outside the head, so the threshold is a run-time choice
    that no exported graph or engine bakes in.
    """

    tokens: torch.Tensor
    centers: torch.Tensor
    scores: torch.Tensor
    index: torch.Tensor


class InstanceHead(nn.Module):
    """Fused features -> heatmap -> top-K tokens.

    Args:
        in_channels: channels of each backbone map, finest first (the backbone's ``out_channels``).
        dim: D, token width.
        max_people: K.
        stride: backbone output stride of the fused grid (the backbone's STRIDE; 4 for HRNet).
        input_size: S, when known, to precompute the top-K tie-break order for the S/stride grid.
        center_prior: (map index, channel) of the backbone's own person-centre logits (its ``CENTER_LOGITS``), added
            to the head's, or None.
        peak_kernel: side of the max-pool that keeps heatmap maxima (the backbone's ``PEAK_KERNEL``, else 3).
        light: depthwise-separable 3x3 steps, a tenth of the FLOPs (the backbone's ``LIGHT_HEAD``: a cheap backbone
            should not carry a head several times its own cost).
    """

    def __init__(self, in_channels: list[int], dim: int, max_people: int, stride: int,
                 input_size: int | None = None, center_prior: tuple[int, int] | None = None,
                 peak_kernel: int = 3, light: bool = False):
        super().__init__()
        self.max_people, self.stride = max_people, stride
        self.center_prior, self.peak_kernel = center_prior, peak_kernel
        self.fusion = BranchFusion(in_channels, dim, light)
        self.center = CenterHead(dim, has_prior=center_prior is not None, light=light)
        self.position = PositionEncoding(dim)
        self.norm = nn.LayerNorm(dim)
        # Precomputed once so the per-frame graph does no host-to-device copy (and CUDA graphs can capture it).
        grid = (input_size // stride) if input_size else 0
        order = torch.from_numpy(_tie_order(grid, grid)) if grid else torch.zeros(0, dtype=torch.int32)
        self.register_buffer("tie_order", order, persistent=False)

    def features(self, feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Backbone branches -> fused map (B, D, h, w) and heatmap logits (B, 1, h, w)."""
        fused = self.fusion(feats)
        logits = self.center(fused)
        if self.center_prior is not None:
            # added outside CenterHead: in the FP16 graph the sum stays in the float32 of both terms
            index, channel = self.center_prior
            logits = logits + feats[index][:, channel:channel + 1].to(logits.dtype)
        return fused, logits

    def tokens_at(self, fused: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens (B, K, D) and centres (B, K, 2, network pixels) at flat grid indices (B, K).

        Training gathers at ground-truth centres through this same function, so train and test tokens match.
        """
        b, d, h, w = fused.shape
        picked = torch.gather(fused.flatten(2), 2, index.unsqueeze(1).expand(b, d, index.shape[1]))
        ys = torch.div(index, w, rounding_mode="floor")
        xs = index - ys * w
        grid = torch.stack([xs, ys], dim=-1).to(fused.dtype) + 0.5  # cell centres, grid units
        centers = grid * self.stride
        xy = torch.stack([grid[..., 0] / w, grid[..., 1] / h], dim=-1) * 2 - 1
        return self.norm(picked.transpose(1, 2) + self.position(xy)), centers

    def forward(self, feats: list[torch.Tensor]) -> Instances:
        fused, logits = self.features(feats)
        # float32 from here on, as in the FP16 graph (backends/graph_precision.py): under FP16 autocast the sigmoid
        # would round neighbouring cells to one value, and such a plateau passes the max-pool test twice (on an
        # H200 that put a second "person" next to a real one and moved a 0.69-score detection).
        scores, index = heatmap_peaks(torch.sigmoid(logits.float()), self.max_people, self.tie_order,
                                      self.peak_kernel)
        tokens, centers = self.tokens_at(fused, index)
        return Instances(tokens, centers, scores, index)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints written before the threshold became a run-time choice hold it as a buffer; it is not a
        # weight, and the deployment's threshold must win over the one a checkpoint was trained with.
        state_dict.pop(prefix + "score_threshold", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
