"""The interface every inference backend implements: SIAM's two static-shape graphs behind two calls.

    frame(image)           uint8 (1, S, S, 3) RGB            -> FrameOutputs(tokens (1, K, D) float32,
                                                                centers (1, K, 2) px, scores (1, K), mask (1, K) bool,
                                                                keypoints (1, K, 17, 3) px + score)
    temporal(tokens, mask, centers)
                           tokens (1, T, K, D), mask (1, T, K), -> TemporalOutputs(rotmats (1, K, 24, 3, 3),
                           centers (1, T, K, 2) px                  betas (1, K, 10), cam (1, K, 3), tokens (1, K, D))

Inputs may live on any device; outputs are float32 (bool for the mask) torch tensors on ``backend.device``, so the
Estimator's downstream code (frame buffer, camera, body model) is the same whichever backend runs the graphs.

The frame graph outputs the top-K peaks whatever their score; ``mask = scores >= backend.score_threshold`` is
computed here, outside every graph, by the same comparison for all backends. The threshold (from
``network.config.score_threshold``) is therefore a run-time choice: changing it, even on a running backend, needs
no new ONNX export, TensorRT engine or CUDA graph capture.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

import torch

BACKEND_NAMES = ("auto", "tensorrt", "torch", "onnxruntime")


class FrameOutputs(NamedTuple):
    tokens: torch.Tensor    # (1, K, D) float32
    centers: torch.Tensor   # (1, K, 2) float32, network-input pixels
    scores: torch.Tensor    # (1, K) float32 in [0, 1]
    mask: torch.Tensor      # (1, K) bool
    keypoints: torch.Tensor  # (1, K, 17, 3) float32: COCO-17 x, y network-input pixels, score (0: no keypoint head)


class TemporalOutputs(NamedTuple):
    rotmats: torch.Tensor   # (1, K, 24, 3, 3) float32
    betas: torch.Tensor     # (1, K, 10) float32
    cam: torch.Tensor       # (1, K, 3) float32, (s, tx, ty) letterbox space
    tokens: torch.Tensor    # (1, K, D) float32, the output frame's interaction-aware tokens


class Backend(ABC):
    """One way of running SIAM's ``frame_net`` and ``temporal_net``.

    Attributes:
        name: "torch" | "onnxruntime" | "tensorrt".
        precision: "fp32" | "fp16".
        device: where outputs are returned (and the Estimator's downstream tensors live).
        selection: why this backend was chosen (for ``auto``: one line per skipped candidate, then the choice).
        score_threshold: slots whose centre score is lower are masked out by ``frame``.
    """

    name: str = ""
    precision: str = "fp32"
    device: torch.device = torch.device("cpu")
    #: ``temporal`` takes any number of slots K' <= K (the torch backend; exported graphs and engines have static
    #: shapes). SIA and FD are equivariant to the slots and absent ones never influence present ones, so the
    #: Estimator may pass only the slots with a person somewhere in the window: same bodies, a fraction of the cost.
    dynamic_slots: bool = False

    def __init__(self, score_threshold: float = 0.3) -> None:
        self.selection: list[str] = []
        #: centre score in [0, 1] below which ``frame`` masks a slot out; may be changed between frames.
        self.score_threshold = float(score_threshold)

    def _frame_outputs(self, tokens: torch.Tensor, centers: torch.Tensor, scores: torch.Tensor,
                       keypoints: torch.Tensor) -> FrameOutputs:
        """The frame graph's four outputs plus the mask, thresholded identically for every backend."""
        return FrameOutputs(tokens, centers, scores, scores >= self.score_threshold, keypoints)

    @abstractmethod
    def frame(self, image: torch.Tensor) -> FrameOutputs:
        """Run ``frame_net`` on one uint8 (1, S, S, 3) RGB image."""

    def frame_batch(self, images: torch.Tensor) -> FrameOutputs:
        """``frame`` on B images (B, S, S, 3) of different cameras: outputs (B, K, ...). The exported graphs and
        engines have a static batch of one, so this runs them one image after another; the torch backend, whose
        network takes any batch, runs one real batch."""
        if images.shape[0] == 1:
            return self.frame(images)
        # clone: a backend may return views of buffers its next call overwrites (CUDA graphs, engine outputs)
        outs = [[t.clone() for t in self.frame(images[i:i + 1])] for i in range(images.shape[0])]
        return FrameOutputs(*(torch.cat(parts) for parts in zip(*outs)))

    @abstractmethod
    def temporal(self, tokens: torch.Tensor, mask: torch.Tensor, centers: torch.Tensor) -> TemporalOutputs:
        """Run ``temporal_net`` on a window: tokens (1, T, K, D) float32, mask (1, T, K) bool, centers (1, T, K, 2)
        float32 network pixels."""

    def describe(self) -> str:
        """One line for logs and diagnostics, e.g. ``torch (cuda:0, fp16, CUDA graphs)``."""
        return f"{self.name} ({self.device}, {self.precision})"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"
