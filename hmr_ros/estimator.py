"""The streaming Estimator: the public, ROS-free entry point of hmr_ros.

    est = Estimator(EstimatorConfig(variant="w32", input_size=512, window=9, max_people=16, mode="causal",
                                    checkpoint=None, body_model="procedural", device="cpu"))
    bodies = est.step(rgb, stamp, K=None)   # rgb (H, W, 3) uint8 RGB; stamp seconds; K (3, 3) or None
    est.reset()

Per frame: letterbox -> FrameNet (once) -> FrameBuffer -> TemporalNet (on the cached window) -> camera -> body
model -> ``list[Body]``. Input is validated before any state changes, so a rejected frame corrupts nothing.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from hmr_ros.backends import create_backend
from hmr_ros.bodies import Body
from hmr_ros.smpl.body_model import load_body_model
from hmr_ros.camera import Letterbox, letterbox, perspective_root, project, resolve_intrinsics
from hmr_ros.checkpoint import load_checkpoint
from hmr_ros.frame_buffer import FrameBuffer, FrameSlot
from hmr_ros.geometry.rotations import rotmat_to_axis_angle
from hmr_ros.model.siam import SIAM, SIAMConfig


@dataclass(frozen=True)
class EstimatorConfig:
    """Everything a deployment chooses. Network fields are those of ``SIAMConfig``."""

    variant: str = "w32"              # "w32" | "w48"
    input_size: int = 512             # S, network input side (multiple of 32)
    window: int = 9                   # T, frames in the temporal window
    max_people: int = 16              # K
    mode: str = "causal"              # "causal" (newest frame, no delay) | "centered" (frame T//2, delayed)
    checkpoint: str | None = None     # .safetensors path; None = untrained (random) weights
    body_model: str = "procedural"    # "procedural" or a path to an SMPL .npz (.pkl with allow_pickle)
    device: str = "cpu"               # torch device: "cpu", "cuda", "cuda:1", ... or "auto" (CUDA if available)
    backend: str = "auto"             # "auto" | "tensorrt" | "torch" | "onnxruntime" (see hmr_ros.backends)
    precision: str = "auto"           # "auto" (fp16 on CUDA, fp32 on CPU) | "fp16" | "fp32"
    engine_cache_dir: str | None = None  # ONNX exports / TensorRT engines; None = ~/.cache/hmr_ros
    allow_pickle: bool = False        # opt-in to read a .pkl body model (pickle can run code)
    score_threshold: float = 0.3      # centre score below which a detection is dropped
    max_gap_s: float = 1.0            # a stamp jump larger than this resets the frame buffer
    max_image_side: int = 8192        # larger frames are rejected as corrupt/unsupported
    seed: int = 0                     # initialisation of an untrained network (reproducible demos/tests)

    def siam_config(self) -> SIAMConfig:
        return SIAMConfig(variant=self.variant, input_size=self.input_size, max_people=self.max_people,
                          window=self.window, mode=self.mode, score_threshold=self.score_threshold)


@dataclass
class FrameMeta:
    """Per-frame geometry kept in the buffer: how to map that frame's outputs back to its image."""

    letterbox: Letterbox
    K: np.ndarray          # (3, 3) intrinsics used (default when the camera gave none)
    default_K: bool


@dataclass
class StepTimings:
    """Milliseconds spent in each stage of the last ``step`` (host wall time).

    On CUDA, kernels run asynchronously and ``step`` waits for the GPU only when it copies the bodies to the host,
    so there the graphs' time shows up in ``body_model``; ``total`` is right everywhere. For per-stage GPU times
    synchronize after each graph, as ``bench/bench_pipeline.py`` does.
    """

    letterbox: float = 0.0
    frame_net: float = 0.0
    temporal_net: float = 0.0
    body_model: float = 0.0
    total: float = 0.0


def _inside(centers_lb: torch.Tensor, lb: Letterbox) -> torch.Tensor:
    """(..., 2) network pixels -> (...) bool: inside the image content of the letterbox."""
    x0, y0 = lb.pad_x, lb.pad_y
    x1, y1 = x0 + lb.width * lb.scale, y0 + lb.height * lb.scale
    u, v = centers_lb[..., 0], centers_lb[..., 1]
    return (u >= x0) & (u < x1) & (v >= y0) & (v < y1)


class Estimator:
    def __init__(self, config: EstimatorConfig = EstimatorConfig()):
        if config.max_gap_s <= 0 or not math.isfinite(config.max_gap_s):
            raise ValueError(f"EstimatorConfig.max_gap_s must be a positive number of seconds, got {config.max_gap_s}")
        self.config = config
        torch.manual_seed(config.seed)
        self.network = SIAM(config.siam_config())
        if config.checkpoint:
            load_checkpoint(self.network, config.checkpoint)
        self.network.eval()
        # The backend runs frame_net/temporal_net; its device is where everything downstream lives.
        self.backend = create_backend(config.backend, self.network, config.device, config.precision,
                                      config.engine_cache_dir)
        self.device = self.backend.device
        self.body_model = load_body_model(config.body_model, allow_pickle=config.allow_pickle).to(self.device)
        cfg = self.network.config
        self.buffer = FrameBuffer(cfg.window, cfg.max_people, cfg.dim, self.device)
        self._output_age = cfg.window - 1 - cfg.output_index
        self._last_stamp: float | None = None
        self.output_stamp: float | None = None     # stamp of the frame the last returned bodies belong to
        self.last_reset_reason: str | None = None  # why the buffer was last reset by a stamp (for logs/diagnostics)
        self.timings = StepTimings()

    # -- public ----------------------------------------------------------------------------------------------
    @property
    def faces(self) -> np.ndarray:
        """(F, 3) int64 triangle indices into ``Body.vertices``."""
        return self.body_model.faces

    @property
    def body_model_name(self) -> str:
        return self.body_model.name

    @property
    def untrained(self) -> bool:
        """True when no checkpoint was given: outputs are those of a randomly initialised network."""
        return not self.config.checkpoint

    def reset(self) -> None:
        """Forget all past frames (a new video, a camera switch)."""
        self.buffer.reset()
        self._last_stamp = None
        self.output_stamp = None

    def step(self, rgb: np.ndarray, stamp: float, K=None) -> list[Body]:
        """Process one frame; return the people of the output frame (the newest one in causal mode, the one
        ``window // 2`` frames back in centered mode; its stamp is ``output_stamp``)."""
        t0 = time.perf_counter()
        rgb = self._check_image(rgb)
        stamp = self._check_stamp(stamp)
        h, w = rgb.shape[:2]
        K, default_K = resolve_intrinsics(K, w, h)
        # All validation is done: from here on the frame is accepted.
        self._follow_clock(stamp)

        t = time.perf_counter()
        image, lb = letterbox(rgb, self.network.config.input_size)
        t_lb = time.perf_counter() - t
        with torch.inference_mode():
            t = time.perf_counter()
            tokens, centers, scores, mask = self.backend.frame(torch.from_numpy(image).unsqueeze(0))
            # A body centre in the letterbox padding is not a person of this image (an untrained or confused
            # network can fire there): drop it before the temporal network ever attends to it.
            mask = mask & _inside(centers, lb)
            self.buffer.push(tokens[0], mask[0], centers[0], scores[0], FrameSlot(stamp, FrameMeta(lb, K, default_K)))
            t_frame = time.perf_counter() - t
            t = time.perf_counter()
            win_tokens, win_mask = self.buffer.window_view()
            rotmats, betas, cam, out_tokens = self.backend.temporal(win_tokens[None], win_mask[None])
            t_temporal = time.perf_counter() - t
            t = time.perf_counter()
            bodies = self._bodies(rotmats[0], betas[0], cam[0], out_tokens[0])
            t_body = time.perf_counter() - t
        self.timings = StepTimings(1e3 * t_lb, 1e3 * t_frame, 1e3 * t_temporal, 1e3 * t_body,
                                   1e3 * (time.perf_counter() - t0))
        return bodies

    # -- validation ------------------------------------------------------------------------------------------
    def _check_image(self, rgb) -> np.ndarray:
        if not isinstance(rgb, np.ndarray):
            raise ValueError(f"rgb must be a numpy array (H, W, 3) uint8, got {type(rgb).__name__}")
        if rgb.dtype != np.uint8:
            raise ValueError(f"rgb must be uint8 (H, W, 3) RGB, got dtype {rgb.dtype}")
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"rgb must have shape (H, W, 3) with 3 RGB channels, got {rgb.shape}")
        h, w = rgb.shape[:2]
        if h == 0 or w == 0:
            raise ValueError(f"rgb must be non-empty, got {w}x{h} pixels")
        side = self.config.max_image_side
        if h > side or w > side:
            raise ValueError(f"rgb is {w}x{h}; images up to {side} pixels per side are accepted")
        return np.ascontiguousarray(rgb)

    @staticmethod
    def _check_stamp(stamp) -> float:
        try:
            stamp = float(stamp)
        except (TypeError, ValueError):
            raise ValueError(f"stamp must be a finite number of seconds, got {stamp!r}") from None
        if not math.isfinite(stamp):
            raise ValueError(f"stamp must be a finite number of seconds, got {stamp}")
        return stamp

    def _follow_clock(self, stamp: float) -> None:
        last = self._last_stamp
        if last is not None:
            reason = None
            if stamp < last:
                reason = f"stamp went backwards by {last - stamp:.3f} s (bag loop or clock reset)"
            elif stamp - last > self.config.max_gap_s:
                reason = f"stamp jumped {stamp - last:.3f} s > max_gap_s={self.config.max_gap_s}"
            if reason:
                self.buffer.reset()
                self.last_reset_reason = reason
        self._last_stamp = stamp

    # -- outputs ---------------------------------------------------------------------------------------------
    def _bodies(self, rotmats: torch.Tensor, betas: torch.Tensor, cam: torch.Tensor, tokens: torch.Tensor) -> list[Body]:
        slot, mask, centers, scores = self.buffer.frame(self._output_age)
        self.output_stamp = slot.stamp if slot is not None else None
        if slot is None or not bool(mask.any()):
            return []
        meta: FrameMeta = slot.meta
        keep = torch.nonzero(mask).flatten()
        out = self.body_model(betas[keep], rotmats[keep])
        root = perspective_root(cam[keep].double(), centers[keep].double(), meta.letterbox, meta.K).float()
        translation = root - out.joints[:, 0]
        vertices = (out.vertices + translation[:, None]).cpu().numpy()
        joints = (out.joints + translation[:, None]).cpu().numpy()
        pose = rotmat_to_axis_angle(rotmats[keep]).reshape(len(keep), -1).cpu().numpy()
        lb, (w, h) = meta.letterbox, (meta.letterbox.width, meta.letterbox.height)
        uv_centers = lb.to_image(centers[keep].cpu().numpy())
        betas_np, trans_np = betas[keep].cpu().numpy(), translation.cpu().numpy()
        scores_np, tokens_np = scores[keep].cpu().numpy(), tokens[keep].float().cpu().numpy()
        bodies = []
        for i in range(len(keep)):
            uv = project(vertices[i].astype(np.float64), meta.K)
            box = np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])
            box = np.clip(box, 0.0, [w, h, w, h]).astype(np.float32)
            bodies.append(Body(
                score=float(scores_np[i]), box=box, center=uv_centers[i].astype(np.float32),
                betas=betas_np[i].astype(np.float32), global_orient=pose[i, :3].astype(np.float32),
                body_pose=pose[i, 3:].astype(np.float32), translation=trans_np[i].astype(np.float32),
                joints=joints[i].astype(np.float32), vertices=vertices[i].astype(np.float32),
                token=tokens_np[i]))
        return bodies
