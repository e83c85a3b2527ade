"""The streaming Estimator: the public, ROS-free entry point of hmr_ros.

    est = Estimator(EstimatorConfig.from_checkpoint("synthetic", window=9))   # the bundled weights, their S
    # or: EstimatorConfig(SIAMConfig(width="w32", input_size=512, window=9, max_people=16),
    #                     checkpoint="siam.safetensors", body_model="procedural", device="cpu")
    bodies = est.step(rgb, stamp, K=None)   # rgb (H, W, 3) uint8 RGB; stamp seconds; K (3, 3) or None
    est.reset()

Per frame: letterbox -> FrameNet (once) -> FrameBuffer -> TemporalNet (on the cached window) -> camera -> body
model -> ``list[Body]``. Input is validated before any state changes, so a rejected frame corrupts nothing.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, fields

import numpy as np
import torch
from safetensors import SafetensorError

from hmr_ros.backends import create_backend
from hmr_ros.bodies import Body
from hmr_ros.smpl.body_model import load_body_model
from hmr_ros.camera import MAX_IMAGE_SIDE, Letterbox, letterbox, perspective_root, resolve_intrinsics
from hmr_ros.checkpoint import load_checkpoint, read_config, resolve_checkpoint
from hmr_ros.pretrained import movenet_model
from hmr_ros.frame_buffer import FrameBuffer, FrameSlot
from hmr_ros.geometry.projection import project
from hmr_ros.geometry.rotations import rotmat_to_axis_angle
from hmr_ros.model.backbones import BACKBONES, backbone_class
from hmr_ros.model.backbones.movenet_decode import person_scores
from hmr_ros.model.siam import DEPLOYMENT_FIELDS, SIAM, SIAMConfig
from hmr_ros.smpl.keypoint_fit import FIT_MODES, place_bodies

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EstimatorConfig:
    """Everything a deployment chooses: the network (a ``SIAMConfig``) and how to run it."""

    network: SIAMConfig = field(default_factory=SIAMConfig)  # width, input_size S, window T, max_people K, ...
    checkpoint: str | None = None     # .safetensors path; None = untrained (random) weights
    body_model: str = "procedural"    # "procedural" or a path to an SMPL .npz (.pkl with allow_pickle)
    device: str = "cpu"               # torch device: "cpu", "cuda", "cuda:1", ... or "auto" (CUDA if available)
    backend: str = "auto"             # "auto" | "tensorrt" | "torch" | "onnxruntime" (see hmr_ros.backends)
    precision: str = "auto"           # "auto" (fp16 on CUDA, fp32 on CPU) | "fp16" | "fp32"
    engine_cache_dir: str | None = None  # ONNX exports / TensorRT engines; None = ~/.cache/hmr_ros
    tensorrt_flavour: str = "auto"    # "auto" | "tensorrt" (10.x/11.x) | "tensorrt_rtx" (backends/tensorrt_flavour)
    allow_pickle: bool = False        # opt-in to read a .pkl body model (pickle can run code)
    max_gap_s: float = 1.0            # a stamp jump larger than this resets the frame buffer, seconds
    person_score_threshold: float = 0.0  # > 0: a detection with keypoints (MoveNet) also needs MoveNet's person score
                                         # (centre x mean confident keypoint score) >= this; 0 = the centre score alone
    keypoint_fit: str = "translation"  # place bodies on the backbone's 2D keypoints (smpl/keypoint_fit.py, backbones
                                       # with keypoint heads): "translation" | "limbs" (+ limbs turned) | "off"
    seed: int = 0                     # initialisation of an untrained network (reproducible demos/tests)

    @classmethod
    def from_checkpoint(cls, checkpoint: str = "synthetic", **overrides) -> "EstimatorConfig":
        """The network a checkpoint was trained as (width, input size, ... from its metadata), with ``overrides``
        for any SIAMConfig or EstimatorConfig field, e.g. ``from_checkpoint("synthetic", window=9, device="cuda")``.
        Window, people, mode and threshold are deployment choices, not the training run's: they keep SIAMConfig's
        defaults unless overridden."""
        net_fields = {f.name for f in fields(SIAMConfig)} - set(DEPLOYMENT_FIELDS)
        path = resolve_checkpoint(checkpoint)
        if path is None or not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path or checkpoint!r}")
        try:
            stored = {k: v for k, v in read_config(path).items() if k in net_fields}
        except (SafetensorError, OSError, ValueError) as e:
            raise ValueError(f"checkpoint {path} is not a readable safetensors file: {e}") from e
        all_net = {f.name for f in fields(SIAMConfig)}
        network = SIAMConfig(**{**stored, **{k: v for k, v in overrides.items() if k in all_net}})
        return cls(network, checkpoint=str(checkpoint), **{k: v for k, v in overrides.items() if k not in all_net})


#: the SIAMConfig fields a deployment may leave to its checkpoint (the node's ``auto`` parameters)
CHECKPOINT_CHOICES = ("backbone", "width", "input_size")


def default_width(backbone: str) -> str:
    """The width of ``backbone`` without a checkpoint: SIAMConfig's default where it has it, else its first."""
    widths = backbone_class(backbone).WIDTHS
    return SIAMConfig.width if SIAMConfig.width in widths else widths[0]


def _stored_choices(checkpoint: str | None) -> dict:
    """The valid backbone / width / input size in a checkpoint's metadata; {} without one, without metadata, or
    for a file that cannot be read (loading it reports that)."""
    path = resolve_checkpoint(checkpoint)
    try:
        stored = read_config(path) if path is not None and path.is_file() else {}
    except (SafetensorError, OSError, ValueError, TypeError):
        return {}
    out = {}
    if stored.get("backbone") in BACKBONES:  # (read_config gives old ``variant`` files backbone "hrnet")
        out["backbone"] = stored["backbone"]
        if stored.get("width") in backbone_class(out["backbone"]).WIDTHS:
            out["width"] = stored["width"]
    size = stored.get("input_size")
    if type(size) is int and size >= 64 and size % 32 == 0:
        out["input_size"] = size
    return out


def resolve_network(checkpoint: str | None, **given) -> tuple[dict, dict]:
    """Backbone, width and input size to build for ``checkpoint`` (a bundled name, a path or None):
    ({field: value}, {field: "set" | "checkpoint" | "default"}). A value given (not None) wins; else the
    checkpoint's, read once from its metadata (the width only with the checkpoint's backbone); else SIAMConfig's
    default (the width: ``default_width`` of the backbone). A given value that contradicts the checkpoint stays:
    loading reports the mismatch by field."""
    given = {k: v for k, v in given.items() if v is not None}
    stored = _stored_choices(checkpoint) if set(CHECKPOINT_CHOICES) - set(given) else {}
    out, sources = {}, {}
    for name in CHECKPOINT_CHOICES:
        if name in given:
            out[name], sources[name] = given[name], "set"
        elif name in stored and (name != "width" or stored["backbone"] == out["backbone"]):
            out[name], sources[name] = stored[name], "checkpoint"
        else:
            out[name] = default_width(out["backbone"]) if name == "width" else getattr(SIAMConfig, name)
            sources[name] = "default"
    return out, sources


@dataclass
class FrameMeta:
    """Per-frame geometry kept in the buffer: how to map that frame's outputs back to its image."""

    letterbox: Letterbox
    K: np.ndarray          # (3, 3) intrinsics used (default when the camera gave none)
    default_K: bool
    keypoints: torch.Tensor | None = None  # (K, 17, 3) the frame graph's keypoints, network pixels + score


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


@dataclass
class PreparedFrame:
    """A validated, letterboxed frame not yet accepted (``Estimator.prepare``): stamp (s), K (3, 3), whether K is
    the default, the (S, S, 3) uint8 network image, its letterbox, and timing marks."""

    stamp: float
    K: np.ndarray
    default_K: bool
    image: np.ndarray
    letterbox: object
    t0: float
    t_letterbox: float
    t_frame: float = 0.0


def step_many(estimators: list["Estimator"], frames: list[tuple]) -> list:
    """One frame per estimator (streams ``sharing`` one network), the frame network run once on all of them as a
    batch (``Backend.frame_batch``). frames: (rgb, stamp, K) each. Returns per estimator its bodies, or the
    ValueError that rejected its frame (that stream then stays as it was), or the exception its temporal stage
    raised: one stream's failure does not throw away the frames the other streams have already taken in."""
    prepared: list = []
    for est, (rgb, stamp, K) in zip(estimators, frames):
        try:
            prepared.append(est.prepare(rgb, stamp, K))
        except ValueError as exc:
            prepared.append(exc)
    ok = [i for i, p in enumerate(prepared) if not isinstance(p, ValueError)]
    if not ok:
        return prepared
    backend = estimators[ok[0]].backend
    if any(estimators[i].backend is not backend for i in ok):
        raise ValueError("step_many needs estimators that share one backend (Estimator.sharing)")
    with torch.inference_mode():
        t = time.perf_counter()
        out = backend.frame_batch(torch.from_numpy(np.stack([prepared[i].image for i in ok])))
        t_frame = (time.perf_counter() - t) / len(ok)
    results = list(prepared)
    for j, i in enumerate(ok):
        prepared[i].t_frame = t_frame
        try:
            results[i] = estimators[i].finish(prepared[i], tuple(x[j:j + 1] for x in out))
        except Exception as exc:  # noqa: BLE001 -- handed back in that stream's slot, see the docstring
            results[i] = exc
    return results


class Estimator:
    """Streaming SIAM: one ``step`` per camera frame, people of the output frame back.

    Owns the network (through a backend), the frame buffer of the last T frames' tokens and the body model. State
    changes only for accepted frames; a stamp going backwards or jumping more than ``max_gap_s`` resets the buffer
    (``resets`` counts those, ``last_reset_reason`` says why). ``output_stamp`` is the stamp of the frame the last
    returned bodies belong to (the newest in ``causal`` mode, ``window // 2`` back in ``centered`` mode).
    Not thread-safe: one caller at a time.
    """

    def __init__(self, config: EstimatorConfig = EstimatorConfig()):
        if not 0.0 <= config.person_score_threshold <= 1.0:
            raise ValueError(f"EstimatorConfig.person_score_threshold={config.person_score_threshold!r}: expected 0..1")
        if config.keypoint_fit not in FIT_MODES:
            raise ValueError(f"EstimatorConfig.keypoint_fit={config.keypoint_fit!r}: expected one of {FIT_MODES}")
        if config.max_gap_s <= 0 or not math.isfinite(config.max_gap_s):
            raise ValueError(f"EstimatorConfig.max_gap_s must be a positive number of seconds, got {config.max_gap_s}")
        self.config = config
        torch.manual_seed(config.seed)
        self.network = SIAM(config.network)
        if config.checkpoint:
            load_checkpoint(self.network, config.checkpoint)
        elif config.network.backbone == "movenet":
            # heads untrained, but MoveNet is only MoveNet with its published weights: the people found are real
            self.network.frame_net.backbone.load_pretrained(movenet_model())
        self.network.eval()
        # The backend runs frame_net/temporal_net; its device is where everything downstream lives.
        self.backend = create_backend(config.backend, self.network, config.device, config.precision,
                                      config.engine_cache_dir, tensorrt_flavour=config.tensorrt_flavour)
        self.device = self.backend.device
        self.body_model = load_body_model(config.body_model, allow_pickle=config.allow_pickle).to(self.device)
        self._new_stream()
        if self.untrained:
            if config.network.backbone == "movenet":
                log.warning("SIAM-M has no checkpoint: MoveNet's published backbone finds the people, but the heads "
                            "are random, so their meshes are not real poses (pass EstimatorConfig(checkpoint=...))")
            else:
                log.warning("SIAM has no checkpoint: its weights are random, so the people it returns are not real "
                            "detections (pass EstimatorConfig(checkpoint=...))")

    def _new_stream(self) -> None:
        """The state of one camera's stream (everything but the network, backend and body model)."""
        cfg = self.network.config
        self.buffer = FrameBuffer(cfg.window, cfg.max_people, cfg.dim, self.device)
        self._output_age = cfg.window - 1 - cfg.output_index
        self._last_stamp: float | None = None
        self.output_stamp: float | None = None     # stamp of the frame the last returned bodies belong to
        self.last_reset_reason: str | None = None  # why the buffer was last reset by a stamp (for logs/diagnostics)
        self.resets = 0                            # buffer resets caused by stamps since construction
        self.last_default_intrinsics = False       # the last accepted frame used default intrinsics
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
        frame = self.prepare(rgb, stamp, K)
        with torch.inference_mode():
            t = time.perf_counter()
            out = self.backend.frame(torch.from_numpy(frame.image).unsqueeze(0))
            frame.t_frame = time.perf_counter() - t
        return self.finish(frame, out)

    @classmethod
    def sharing(cls, other: "Estimator") -> "Estimator":
        """Another stream (a second camera) on ``other``'s network, backend and body model: its own frame buffer,
        clock and counters, no second copy of the weights."""
        est = cls.__new__(cls)
        est.config, est.network, est.backend = other.config, other.network, other.backend
        est.device, est.body_model = other.device, other.body_model
        est._new_stream()
        return est

    def prepare(self, rgb: np.ndarray, stamp: float, K=None) -> "PreparedFrame":
        """Validate and letterbox a frame without changing any state (ValueError for a bad frame)."""
        t0 = time.perf_counter()
        rgb = self._check_image(rgb)
        stamp = self._check_stamp(stamp)
        h, w = rgb.shape[:2]
        K, default_K = resolve_intrinsics(K, w, h)
        t = time.perf_counter()
        image, lb = letterbox(rgb, self.network.config.input_size)
        return PreparedFrame(stamp, K, default_K, image, lb, t0, time.perf_counter() - t)

    def finish(self, frame: "PreparedFrame", out) -> list[Body]:
        """Accept a prepared frame given its ``backend.frame`` outputs (batch of one): buffer, temporal network,
        bodies."""
        self._follow_clock(frame.stamp)
        self.last_default_intrinsics = frame.default_K
        tokens, centers, scores, mask, keypoints = out
        with torch.inference_mode():
            t = time.perf_counter()
            # A body centre in the letterbox padding is not a person of this image (an untrained or confused
            # network can fire there): drop it before the temporal network ever attends to it.
            mask = mask & _inside(centers, frame.letterbox)
            if self.config.person_score_threshold > 0 and bool((keypoints[..., 2] > 0).any()):
                # a centre peak without a body's keypoints around it (a bicycle, a railing) is not a person
                mask = mask & (person_scores(scores, keypoints[..., 2]) >= self.config.person_score_threshold)
            self.buffer.push(tokens[0], mask[0], centers[0], scores[0],
                             FrameSlot(frame.stamp, FrameMeta(frame.letterbox, frame.K, frame.default_K, keypoints[0])))
            t_push = time.perf_counter() - t
            t = time.perf_counter()
            rotmats, betas, cam, out_tokens = self._temporal(*self.buffer.window_view())
            t_temporal = time.perf_counter() - t
            t = time.perf_counter()
            bodies = self._bodies(rotmats[0], betas[0], cam[0], out_tokens[0])
            t_body = time.perf_counter() - t
        self.timings = StepTimings(1e3 * frame.t_letterbox, 1e3 * (frame.t_frame + t_push), 1e3 * t_temporal,
                                   1e3 * t_body, 1e3 * (time.perf_counter() - frame.t0))
        return bodies

    def _temporal(self, tokens: torch.Tensor, mask: torch.Tensor, centers: torch.Tensor):
        """TemporalNet on the window (T, K, D), (T, K), (T, K, 2) -> (rotmats, betas, cam, tokens) of the output
        frame, (1, K, ...). A backend with ``dynamic_slots`` gets only the slots with a person in some frame of the
        window (6 of 16 with six people: the network's cost falls with them); the others come back as zeros, and
        no body is read from them."""
        active = mask.any(0)
        n = int(active.sum())
        if not self.backend.dynamic_slots or n == active.numel():
            return self.backend.temporal(tokens[None], mask[None], centers[None])
        slots = torch.nonzero(active).flatten()
        if n == 0:
            slots = slots.new_zeros(1)  # an empty window: one (masked) slot keeps every shape non-empty
        out = self.backend.temporal(tokens[None][:, :, slots], mask[None][:, :, slots], centers[None][:, :, slots])
        full = []
        for x in out:
            y = x.new_zeros(x.shape[0], active.numel(), *x.shape[2:])
            y[:, slots] = x
            full.append(y)
        return tuple(full)

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
        side = MAX_IMAGE_SIDE
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
                self.resets += 1
        self._last_stamp = stamp

    # -- outputs ---------------------------------------------------------------------------------------------
    def _bodies(self, rotmats: torch.Tensor, betas: torch.Tensor, cam: torch.Tensor, tokens: torch.Tensor) -> list[Body]:
        """(K, 24, 3, 3), (K, 10), (K, 3), (K, D) network outputs of the output frame -> its people.

        Everything per person is computed batched on the network's device and crosses to the host in one copy:
        on CUDA each ``.cpu()`` is a synchronisation, and per-field copies cost more than the arithmetic.
        """
        slot, mask, centers, scores = self.buffer.frame(self._output_age)
        self.output_stamp = slot.stamp if slot is not None else None
        if slot is None or not bool(mask.any()):
            return []
        meta: FrameMeta = slot.meta
        lb = meta.letterbox
        keep = torch.nonzero(mask).flatten()
        n = len(keep)
        betas, rotmats = betas[keep], rotmats[keep]
        root = perspective_root(cam[keep].double(), centers[keep].double(), lb, meta.K).float()
        keypoints = None
        if meta.keypoints is not None:  # network pixels -> image pixels, scores kept
            kp = meta.keypoints[keep]
            keypoints = torch.cat([(kp[..., :2] - kp.new_tensor([lb.pad_x, lb.pad_y])) / lb.scale, kp[..., 2:]], -1)
        rotmats, translation, out = place_bodies(self.body_model, betas, rotmats, root, keypoints, meta.K,
                                                 self.config.keypoint_fit)
        vertices = out.vertices + translation[:, None]
        joints = out.joints + translation[:, None]
        # the box: the projected mesh's extent, one reduction over (N, V, 2) (per-coordinate views: ~20x slower)
        lo, hi = torch.aminmax(project(vertices, meta.K), dim=1)
        box = torch.cat([lo, hi], dim=1)
        box = torch.minimum(box.clamp_min(0.0), box.new_tensor([lb.width, lb.height, lb.width, lb.height]))
        center = (centers[keep] - centers.new_tensor([lb.pad_x, lb.pad_y])) / lb.scale
        pose = rotmat_to_axis_angle(rotmats).reshape(n, -1)
        small = torch.cat([scores[keep, None].float(), box.float(), center.float(), betas.float(),
                           pose.float(), translation.float(), joints.reshape(n, -1).float()], dim=1)
        small, vertices, tokens = (small.cpu().numpy(), vertices.float().cpu().numpy(),
                                   tokens[keep].float().cpu().numpy())
        nb = betas.shape[-1]
        cols = np.cumsum([0, 1, 4, 2, nb, 72, 3, 72])
        score, box, center, betas_np, pose, trans, joints_np = (small[:, a:b] for a, b in zip(cols[:-1], cols[1:]))
        return [Body(score=float(score[i, 0]), box=box[i], center=center[i], betas=betas_np[i],
                     global_orient=pose[i, :3], body_pose=pose[i, 3:], translation=trans[i],
                     joints=joints_np[i].reshape(24, 3), vertices=vertices[i], token=tokens[i])
                for i in range(n)]
