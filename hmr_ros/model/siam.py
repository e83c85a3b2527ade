"""SIAM as two static-shape graphs: ``FrameNet`` (once per frame) and ``TemporalNet`` (once per frame, on the
window of cached tokens). The split is what makes the feature cache and the exported engines simple.

    uint8 image (B, S, S, 3) --FrameNet--> tokens (B, K, D), centers (B, K, 2), scores (B, K), mask (B, K),
                                           keypoints (B, K, 17, 3) (the backbone's COCO-17 keypoints; 0 without)
    tokens (B, T, K, D), mask (B, T, K), centers (B, T, K, 2) --TemporalNet--> rotmats (B, K, 24, 3, 3), betas (B, K, 10),
                                                         cam (B, K, 3), tokens (B, K, D)   [output frame]
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from hmr_ros.model.fd import FeatureDecomposition
from hmr_ros.model.backbones import BACKBONES, backbone_class, build_backbone
from hmr_ros.model.instances import InstanceHead
from hmr_ros.model.sia import SIA
from hmr_ros.model.smpl_head import SMPLHead, SMPLParams

MODES = ("causal", "centered")
#: ImageNet statistics, applied inside the graph so callers (and engines) take plain uint8 RGB.
#: COCO-17 keypoints per person in the frame graph's ``keypoints`` output
NUM_KEYPOINTS = 17
RGB_MEAN = (0.485, 0.456, 0.406)
RGB_STD = (0.229, 0.224, 0.225)
#: SIAMConfig fields chosen at run time: no graph depends on them, so they stay out of export/engine cache keys.
RUNTIME_FIELDS = ("score_threshold",)
#: SIAMConfig fields a deployment chooses, never taken from a checkpoint's stored training config (the weights do not
#: depend on them): window T, slots K, mode and the threshold.
DEPLOYMENT_FIELDS = ("window", "max_people", "mode", "score_threshold")
#: State-dict keys that older checkpoints hold but the network no longer has (the score threshold was a buffer).
#: ``InstanceHead`` ignores them in ``load_state_dict``; checkpoint loaders that compare key sets must drop them.
RETIRED_STATE_KEYS = ("frame_net.head.score_threshold",)


@dataclass(frozen=True)
class SIAMConfig:
    """Architecture of one SIAM network, plus the default detection threshold. ``SIAM(cfg)`` reads every field
    and raises ValueError for invalid values (``validate``)."""

    backbone: str = "hrnet"       # model/backbones name
    width: str = "w32"            # the backbone's width; HRNet: "w18" | "w32" | "w48"
    input_size: int = 512         # S, letterboxed square side in pixels, multiple of 32
    max_people: int = 16          # K, instance slots per frame
    window: int = 9               # T, frames the temporal network sees
    mode: str = "causal"          # "causal": output the newest frame | "centered": output frame T//2
    dim: int = 256                # D, token width
    sia_layers: int = 4
    sia_heads: int = 8
    max_window: int = 16          # time-embedding length, the largest usable window
    iterations: int = 3           # SMPL head refinement steps
    num_betas: int = 10
    score_threshold: float = 0.3  # centre-heatmap score below which a slot is masked; applied outside the
                                  # exported graphs (FrameNet.forward, Backend.score_threshold): a run-time choice

    def validate(self) -> None:
        def bad(name: str, expected: str) -> ValueError:
            return ValueError(f"SIAMConfig.{name}={getattr(self, name)!r}: expected {expected}")

        if self.backbone not in BACKBONES:
            raise bad("backbone", f"one of {sorted(BACKBONES)}")
        if self.width not in backbone_class(self.backbone).WIDTHS:
            raise bad("width", f"one of {backbone_class(self.backbone).WIDTHS} for backbone {self.backbone!r}")
        if self.mode not in MODES:
            raise bad("mode", f"one of {MODES}")
        if self.input_size < 64 or self.input_size % 32:
            raise bad("input_size", "a multiple of 32, at least 64")
        if not 1 <= self.max_people <= 64:
            raise bad("max_people", "1..64")
        if not 1 <= self.window <= self.max_window:
            raise bad("window", f"1..max_window ({self.max_window})")
        if self.dim % self.sia_heads:
            raise bad("dim", f"a multiple of sia_heads ({self.sia_heads})")
        if not 0.0 <= self.score_threshold <= 1.0:
            raise bad("score_threshold", "in [0, 1]")

    def to_dict(self) -> dict:
        return asdict(self)

    def graph_dict(self) -> dict:
        """The fields that shape the exported graphs: ``to_dict`` without ``RUNTIME_FIELDS``."""
        return {k: v for k, v in asdict(self).items() if k not in RUNTIME_FIELDS}

    @property
    def stride(self) -> int:
        """Input pixels per cell of the backbone's finest map: the centre grid is S / stride cells a side."""
        return backbone_class(self.backbone).STRIDE

    @property
    def output_index(self) -> int:
        """Window slot whose people TemporalNet outputs (0 = oldest)."""
        return self.window - 1 if self.mode == "causal" else self.window // 2


class FrameNet(nn.Module):
    """uint8 RGB (B, S, S, 3) -> (tokens (B, K, D), centers (B, K, 2) px, scores (B, K), mask (B, K) bool,
    keypoints (B, K, 17, 3)).

    ``detect`` is the exported graph (tokens, centers, scores of the top-K peaks and each peak's keypoints);
    ``forward`` adds ``mask = scores >= score_threshold``, the same comparison every backend applies to the graph's
    scores. The threshold is a plain float, not a buffer: it is no weight, and changing it must not change a cached
    export. ``keypoints``: x, y network pixels and a score in [0, 1] of the 17 COCO keypoints, read by the backbone's
    own keypoint heads at each person's centre (MoveNet: ``keypoints_at``); all zero (score 0: unknown) for a
    backbone without them. They place the SMPL body in the image (``hmr_ros.smpl.keypoint_fit``).
    """

    def __init__(self, cfg: SIAMConfig):
        super().__init__()
        self.score_threshold = float(cfg.score_threshold)
        self.backbone = build_backbone(cfg.backbone, cfg.width)
        bb = type(self.backbone)
        self.head = InstanceHead(list(self.backbone.out_channels), cfg.dim, cfg.max_people,
                                 stride=bb.STRIDE, input_size=cfg.input_size,
                                 center_prior=getattr(bb, "CENTER_LOGITS", None),
                                 peak_kernel=getattr(bb, "PEAK_KERNEL", 3), light=getattr(bb, "LIGHT_HEAD", False))
        mean = getattr(bb, "PIXEL_MEAN", tuple(255.0 * m for m in RGB_MEAN))
        std = getattr(bb, "PIXEL_STD", tuple(255.0 * s for s in RGB_STD))
        self.register_buffer("rgb_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("rgb_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        # Cast before the permute: TensorRT takes UINT8 only as a network input/output (no Transpose on it). The
        # permuted view keeps channels_last strides either way.
        return (image.float().permute(0, 3, 1, 2) - self.rgb_mean) / self.rgb_std

    def features(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Fused map (B, D, S/s, S/s) and heatmap logits (B, 1, S/s, S/s), s the backbone stride; for training."""
        return self.head.features(self.backbone(self.normalize(image)))

    def detect(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """uint8 (B, S, S, 3) -> tokens (B, K, D), centers (B, K, 2) network pixels, scores (B, K) in [0, 1],
        keypoints (B, K, 17, 3)."""
        feats = self.backbone(self.normalize(image))
        inst = self.head(feats)
        if hasattr(self.backbone, "keypoints_at"):
            keypoints = self.backbone.keypoints_at(feats, inst.index).float()
        else:
            keypoints = inst.scores.new_zeros(*inst.scores.shape, NUM_KEYPOINTS, 3).float()
        return inst.tokens, inst.centers, inst.scores, keypoints

    def forward(self, image: torch.Tensor):
        tokens, centers, scores, keypoints = self.detect(image)
        return tokens, centers, scores, scores >= self.score_threshold, keypoints


class TemporalNet(nn.Module):
    """(tokens (B, T, K, D), mask (B, T, K), centers (B, T, K, 2) network pixels) -> SMPL parameters of the output
    frame's K people.

    Returns (rotmats (B, K, 24, 3, 3), betas (B, K, 10), cam (B, K, 3), tokens (B, K, D)).
    """

    def __init__(self, cfg: SIAMConfig):
        super().__init__()
        self.causal = cfg.mode == "causal"
        self.output_index = cfg.output_index
        self.input_size = cfg.input_size
        self.sia = SIA(cfg.dim, cfg.sia_layers, cfg.sia_heads, cfg.max_window)
        self.fd = FeatureDecomposition(cfg.dim)
        fd = self.fd
        self.smpl_head = SMPLHead(fd.pose_dim, fd.shape_dim, fd.camera_dim, cfg.iterations, cfg.num_betas)

    def params(self, tokens: torch.Tensor, mask: torch.Tensor, centers: torch.Tensor) -> tuple[SMPLParams, torch.Tensor]:
        """The output frame's ``SMPLParams`` (with the raw 6D the training needs) and its tokens (B, K, D)."""
        x = self.sia(tokens, mask, centers, self.input_size, causal=self.causal)
        t = self.output_index
        out, out_mask = x[:, t], mask[:, t]
        return self.smpl_head(self.fd(out, out_mask)), out

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor, centers: torch.Tensor):
        p, out = self.params(tokens, mask, centers)
        return p.rotmats, p.betas, p.cam, out


class SIAM(nn.Module):
    """Both graphs under one module: one state dict, one checkpoint."""

    def __init__(self, cfg: SIAMConfig):
        super().__init__()
        cfg.validate()
        self.config = cfg
        self.frame_net = FrameNet(cfg)
        self.temporal_net = TemporalNet(cfg)

    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameters per module, in the data-path order, plus the total."""
        parts = {
            "backbone": self.frame_net.backbone,
            "frame head": self.frame_net.head,
            "SIA": self.temporal_net.sia,
            "FD": self.temporal_net.fd,
            "SMPL head": self.temporal_net.smpl_head,
        }
        counts = {name: sum(p.numel() for p in m.parameters()) for name, m in parts.items()}
        counts["total"] = sum(p.numel() for p in self.parameters())
        return counts

    def flop_counts(self) -> dict[str, int]:
        """Floating-point operations per frame of each graph at this config's static shapes (S, T, K).

        Counted by PyTorch's ``FlopCounterMode`` (2 per multiply-add of convolutions, matmuls and attention;
        elementwise ops are not counted) on a shape-only copy on the meta device: no weights are touched and it
        takes well under a second. Keys: "backbone", "frame head", "frame_net", "temporal_net".
        """
        from torch.utils.flop_counter import FlopCounterMode

        cfg = self.config
        with torch.device("meta"):
            shadow = SIAM(cfg).to("meta").eval()  # .to: buffers built from numpy start on the CPU
            image = torch.zeros(1, cfg.input_size, cfg.input_size, 3, dtype=torch.uint8)
            tokens = torch.zeros(1, cfg.window, cfg.max_people, cfg.dim)
            mask = torch.ones(1, cfg.window, cfg.max_people, dtype=torch.bool)
            centers = torch.zeros(1, cfg.window, cfg.max_people, 2)
        with torch.inference_mode(), FlopCounterMode(display=False, depth=2) as frame_count:
            shadow.frame_net(image)
        with torch.inference_mode(), FlopCounterMode(display=False, depth=1) as temporal_count:
            shadow.temporal_net(tokens, mask, centers)
        frame = frame_count.get_flop_counts()
        return {"backbone": sum(frame["FrameNet.backbone"].values()),
                "frame head": sum(frame["FrameNet.head"].values()),
                "frame_net": frame_count.get_total_flops(), "temporal_net": temporal_count.get_total_flops()}

