"""The parameters of hmr_node: one declaration (type, default, range or choices, description) that the node
declares with ROS descriptors, validates, documents (README table) and that config/hmr.yaml must list.

This module imports no ROS package, so the declaration can be checked without ROS; ``declare_and_read``
is the rclpy side.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields

from hmr_ros.backends import BACKEND_NAMES, PRECISION_CHOICES
from hmr_ros.estimator import EstimatorConfig
from hmr_ros.tracking.tracker import TrackerConfig


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: bool | int | float | str
    description: str
    range: tuple[float, float, float] | None = None  # (min, max, step; 0 = any) for int/float
    choices: tuple[str, ...] | None = None
    read_only: bool = True  # changing it needs a restart (the model is built once)

    @property
    def type(self) -> type:
        return type(self.default)

    def check(self, value) -> str | None:
        """None when ``value`` is valid, else what was expected (one line)."""
        if type(value) is not self.type:
            return f"expected {self.type.__name__}, got {type(value).__name__} {value!r}"
        if self.choices is not None and value not in self.choices:
            return f"expected one of {', '.join(repr(c) for c in self.choices)}, got {value!r}"
        if self.range is not None:
            lo, hi, step = self.range
            if not (math.isfinite(value) and lo <= value <= hi):
                return f"expected a value in [{lo:g}, {hi:g}], got {value!r}"
            if step and (value - lo) % step:
                return f"expected a multiple of {step:g} from {lo:g}, got {value!r}"
        return None


_E = EstimatorConfig()
_T = TrackerConfig()

PARAMS: tuple[ParamSpec, ...] = (
    # --- input ---------------------------------------------------------------------------------------------
    ParamSpec("image_transport", "raw",
              "'raw': subscribe sensor_msgs/Image on 'image'; 'compressed': sensor_msgs/CompressedImage "
              "(JPEG/PNG) on 'image' (remap it to e.g. /camera/image_raw/compressed)",
              choices=("raw", "compressed")),
    # --- model ---------------------------------------------------------------------------------------------
    ParamSpec("variant", _E.variant, "HRNet backbone width", choices=("w32", "w48")),
    ParamSpec("input_size", _E.input_size, "network input side in pixels (images are letterboxed to it)",
              range=(128, 1024, 32)),
    ParamSpec("window", _E.window, "frames in the temporal window (the time embedding covers 16)",
              range=(1, 16, 1)),
    ParamSpec("max_people", _E.max_people, "most people reconstructed per image", range=(1, 64, 1)),
    ParamSpec("mode", _E.mode, "'causal': output the newest frame (no delay); 'centered': output the frame "
              "window//2 back (smoother, delayed by that many frames)", choices=("causal", "centered")),
    ParamSpec("score_threshold", _E.score_threshold, "detection score below which a person is dropped",
              range=(0.0, 1.0, 0)),
    ParamSpec("max_gap_s", _E.max_gap_s, "a stamp jump larger than this (or any backwards jump, e.g. a bag "
              "loop) resets the temporal window, seconds", range=(0.001, 3600.0, 0)),
    ParamSpec("checkpoint", "", "path to trained weights (.safetensors); empty = UNTRAINED random weights"),
    ParamSpec("body_model", _E.body_model, "'procedural' (built-in SMPL-layout body, no licence needed) or "
              "the path to a licensed SMPL model file (.npz)"),
    ParamSpec("allow_pickle", False, "allow a .pkl body model (unpickling can run code: only for files you "
              "trust)"),
    ParamSpec("device", _E.device, "torch device: 'cpu', 'cuda', 'cuda:1', ..."),
    ParamSpec("torch_threads", 0, "CPU threads for torch; 0 = torch's default", range=(0, 256, 1)),
    # --- inference backend -----------------------------------------------------------------------------------
    ParamSpec("backend", _E.backend, "inference backend of the network: 'auto' tries tensorrt > torch-cuda > "
              "onnxruntime > torch-cpu and reports why each earlier one was skipped (diagnostics)",
              choices=BACKEND_NAMES),
    ParamSpec("precision", _E.precision, "'auto' = fp16 on CUDA, fp32 on CPU (onnxruntime runs fp32 only)",
              choices=PRECISION_CHOICES),
    ParamSpec("engine_cache_dir", "", "directory of the ONNX exports and TensorRT engines ('~' is expanded); "
              "empty = $XDG_CACHE_HOME/hmr_ros, by default ~/.cache/hmr_ros"),
    # --- tracking ------------------------------------------------------------------------------------------
    ParamSpec("tracking", True, "give each person a persistent id (SMPLHuman.id) and smooth them over time; "
              "false publishes every detection with an empty id"),
    ParamSpec("tracking_smoothing", _T.smoothing, "One-Euro smoothing of translation and joint rotations, "
              "running mean of the betas, per track"),
    ParamSpec("tracking_min_hits", _T.min_hits, "consecutive detections that confirm a new track (only "
              "confirmed tracks are published unless tracking_output_tentative)", range=(1, 100, 1)),
    ParamSpec("tracking_max_lost_frames", _T.max_lost_frames, "frames a confirmed track may go unseen and "
              "still take its id back when the person reappears nearby", range=(0, 1000, 1)),
    ParamSpec("tracking_output_tentative", _T.output_tentative, "also publish people of tentative (not yet "
              "confirmed) tracks; their ids may vanish"),
    ParamSpec("tracking_max_root_distance_m", _T.max_root_distance_m, "gate radius around a track's "
              "predicted 3D root (it grows while the track is unseen), metres", range=(0.01, 10.0, 0)),
    ParamSpec("tracking_max_cost", _T.max_cost, "a detection and a track whose association cost (in [0, 1]) "
              "exceeds this are not matched", range=(0.01, 1.0, 0)),
    ParamSpec("tracking_one_euro_min_cutoff_hz", _T.one_euro_min_cutoff_hz, "translation One-Euro cutoff "
              "at rest (lower = smoother, more lag), Hz", range=(0.001, 100.0, 0)),
    ParamSpec("tracking_one_euro_beta", _T.one_euro_beta, "translation One-Euro speed coefficient (higher = "
              "less lag when moving), Hz per m/s", range=(0.0, 1000.0, 0)),
    ParamSpec("tracking_rotation_min_cutoff_hz", _T.rotation_min_cutoff_hz, "joint rotation One-Euro cutoff "
              "at rest, Hz", range=(0.001, 100.0, 0)),
    ParamSpec("tracking_rotation_beta", _T.rotation_beta, "joint rotation One-Euro speed coefficient, Hz per "
              "rad/s", range=(0.0, 1000.0, 0)),
    # --- output --------------------------------------------------------------------------------------------
    ParamSpec("publish_markers", True, "publish the meshes as visualization_msgs/MarkerArray on "
              "'humans/smpl/markers'"),
    ParamSpec("marker_face_stride", 1, "publish every n-th mesh triangle (1 = full mesh; larger = lighter "
              "markers for weak RViz clients)", range=(1, 64, 1)),
    ParamSpec("marker_alpha", 0.8, "mesh marker opacity", range=(0.0, 1.0, 0)),
    # --- diagnostics -----------------------------------------------------------------------------------------
    ParamSpec("diagnostics_period_s", 1.0, "period of /diagnostics, seconds", range=(0.1, 60.0, 0)),
    ParamSpec("warn_latency_ms", 1000.0, "WARN in diagnostics when receive-to-publish latency exceeds this, "
              "milliseconds", range=(1.0, 600000.0, 0)),
    ParamSpec("stale_input_s", 5.0, "WARN in diagnostics when no image arrived for this long, seconds",
              range=(0.1, 3600.0, 0)),
)
SPECS = {p.name: p for p in PARAMS}


class ParameterError(ValueError):
    """An invalid parameter value; the message is the one line the node prints before exiting."""


@dataclass(frozen=True)
class NodeConfig:
    """Validated values of all parameters (field names = parameter names)."""

    image_transport: str
    variant: str
    input_size: int
    window: int
    max_people: int
    mode: str
    score_threshold: float
    max_gap_s: float
    checkpoint: str
    body_model: str
    allow_pickle: bool
    device: str
    torch_threads: int
    backend: str
    precision: str
    engine_cache_dir: str
    tracking: bool
    tracking_smoothing: bool
    tracking_min_hits: int
    tracking_max_lost_frames: int
    tracking_output_tentative: bool
    tracking_max_root_distance_m: float
    tracking_max_cost: float
    tracking_one_euro_min_cutoff_hz: float
    tracking_one_euro_beta: float
    tracking_rotation_min_cutoff_hz: float
    tracking_rotation_beta: float
    publish_markers: bool
    marker_face_stride: int
    marker_alpha: float
    diagnostics_period_s: float
    warn_latency_ms: float
    stale_input_s: float

    def estimator_config(self) -> EstimatorConfig:
        return EstimatorConfig(variant=self.variant, input_size=self.input_size, window=self.window,
                               max_people=self.max_people, mode=self.mode, checkpoint=self.checkpoint or None,
                               body_model=self.body_model, device=self.device, allow_pickle=self.allow_pickle,
                               score_threshold=self.score_threshold, max_gap_s=self.max_gap_s,
                               backend=self.backend, precision=self.precision,
                               engine_cache_dir=os.path.expanduser(self.engine_cache_dir) or None)

    def tracker_config(self) -> TrackerConfig:
        """The tracker's settings; the others keep ``TrackerConfig``'s defaults. ``max_gap_s`` is the
        estimator's, so the tracker resets on the same stamp jumps as the temporal window."""
        return TrackerConfig(smoothing=self.tracking_smoothing, min_hits=self.tracking_min_hits,
                             max_lost_frames=self.tracking_max_lost_frames,
                             output_tentative=self.tracking_output_tentative,
                             max_root_distance_m=self.tracking_max_root_distance_m,
                             max_cost=self.tracking_max_cost,
                             one_euro_min_cutoff_hz=self.tracking_one_euro_min_cutoff_hz,
                             one_euro_beta=self.tracking_one_euro_beta,
                             rotation_min_cutoff_hz=self.tracking_rotation_min_cutoff_hz,
                             rotation_beta=self.tracking_rotation_beta, max_gap_s=self.max_gap_s)


def make_config(values: dict) -> NodeConfig:
    """Validate a complete {name: value} mapping -> NodeConfig; raises ParameterError naming the first bad one."""
    unknown = sorted(set(values) - set(SPECS))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(SPECS)}")
    for spec in PARAMS:
        if spec.name not in values:
            raise ParameterError(f"parameter '{spec.name}' is missing")
        problem = spec.check(values[spec.name])
        if problem:
            raise ParameterError(f"invalid parameter '{spec.name}': {problem} ({spec.description})")
    return NodeConfig(**{f.name: values[f.name] for f in fields(NodeConfig)})


def declare_and_read(node) -> NodeConfig:
    """Declare every parameter on an rclpy node (descriptors with description, ranges, read-only), read them
    back and validate. Any problem -> ParameterError with one line."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
    from rclpy.exceptions import (InvalidParameterTypeException, InvalidParameterValueException,
                                  ParameterException)

    for spec in PARAMS:
        desc = ParameterDescriptor(name=spec.name, description=spec.description, read_only=spec.read_only)
        if spec.choices:
            desc.additional_constraints = "one of: " + ", ".join(spec.choices)
        if spec.range is not None:
            lo, hi, step = spec.range
            if spec.type is int:
                desc.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=int(step))]
            else:
                desc.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi),
                                                                step=float(step))]
        try:
            node.declare_parameter(spec.name, spec.default, desc)
        except (InvalidParameterTypeException, InvalidParameterValueException, ParameterException) as exc:
            # rclpy checked the override against the descriptor; say it in the same words as make_config
            override = (getattr(node, "_parameter_overrides", {}) or {}).get(spec.name)
            problem = spec.check(override.value) if override is not None else None
            raise ParameterError(f"invalid parameter '{spec.name}': {problem or exc} ({spec.description})") from None

    # rclpy silently ignores overrides of undeclared names; a typo in the YAML must not pass unnoticed
    overrides = getattr(node, "_parameter_overrides", {}) or {}
    unknown = sorted(n for n in overrides if n not in SPECS and not node.has_parameter(n))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {', '.join(unknown)} for hmr_node; known: {', '.join(SPECS)}")
    return make_config({spec.name: node.get_parameter(spec.name).value for spec in PARAMS})
