"""The node's parameters, each declared once: name, where its value goes, range or choices, description.

Everything else is derived from ``PARAMS``:
- the default: the field default of the config it sets (``SIAMConfig``, ``EstimatorConfig``, ``TrackerConfig``),
  or the declared one for node-only parameters;
- ``NodeConfig`` (validated values) and ``NodeConfig.pipeline_config()`` (what the core runs);
- ``render_yaml()`` = config/hmr.yaml and ``render_markdown_table()`` = the README's parameter table (tests fail
  when either file drifts; ``python -m hmr_ros params --yaml`` / ``--markdown`` regenerate them);
- ``add_cli_flags(parser, names)``: ``--input-size`` style flags for the commands of ``python -m hmr_ros``;
- the ROS descriptors (``hmr_ros.ros.params.declare_and_read``).

``backbone``, ``width`` and ``input_size`` default to the checkpoint's (``auto`` / ``0``): ``make_config`` reads
them once from its metadata (``estimator.resolve_network``), so the node, ``run`` and every network command build
the network the weights were trained as (``NodeConfig.network_config()``) and say so (``network_summary()``).

No ROS import here: the declaration is usable and testable without rclpy.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

from hmr_ros.backends import BACKEND_NAMES, PRECISION_CHOICES
from hmr_ros.backends.tensorrt_flavour import FLAVOUR_CHOICES
from hmr_ros.estimator import CHECKPOINT_CHOICES, EstimatorConfig, default_width, resolve_network
from hmr_ros.model.backbones import BACKBONES, WIDTHS
from hmr_ros.model.siam import MODES, SIAMConfig
from hmr_ros.pipeline import PipelineConfig
from hmr_ros.smpl.keypoint_fit import FIT_MODES
from hmr_ros.tracking.tracker import TrackerConfig

_TARGETS = {"network": SIAMConfig, "estimator": EstimatorConfig, "tracker": TrackerConfig}
_NODE = object()  # sentinel: the default is declared on the spec (node-only parameter)


@dataclass(frozen=True)
class ParamSpec:
    """One parameter.

    target: ``"network.<field>"`` (SIAMConfig), ``"estimator.<field>"``, ``"tracker.<field>"`` or ``"node"`` (read
    by the node itself). group: the section heading in the YAML. ``to_config`` converts the ROS value to the
    config value where they differ (e.g. "" -> None).
    """

    name: str
    target: str
    description: str
    group: str
    range: tuple[float, float, float] | None = None  # (min, max, step; 0 = any) for int/float
    choices: tuple[str, ...] | None = None
    node_default: Any = _NODE
    to_config: Any = None  # callable(value) -> config value
    read_only: bool = True  # changing it needs a restart (the model is built once)
    auto: Any = None  # the value meaning "the checkpoint's" (``make_config`` resolves it), beside range/choices

    @property
    def default(self) -> bool | int | float | str:
        if self.target == "node":
            return self.node_default
        owner, field = self.target.split(".")
        value = {f.name: f for f in dataclasses.fields(_TARGETS[owner])}[field]
        default = value.default if value.default is not dataclasses.MISSING else value.default_factory()
        if self.node_default is not _NODE:  # the config says None, ROS needs a typed value
            return self.node_default
        return default

    @property
    def type(self) -> type:
        return type(self.default)

    def check(self, value) -> str | None:
        """None when ``value`` is valid, else what was expected (one line)."""
        if type(value) is not self.type:
            return f"expected {self.type.__name__}, got {type(value).__name__} {value!r}"
        if self.choices is not None and value not in self.choices:
            return f"expected one of {', '.join(repr(c) for c in self.choices)}, got {value!r}"
        if self.range is not None and not (self.auto is not None and value == self.auto):
            lo, hi, step = self.range
            if not (math.isfinite(value) and lo <= value <= hi):
                auto = f"{self.auto!r} (auto) or " if self.auto is not None else ""
                return f"expected {auto}a value in [{lo:g}, {hi:g}], got {value!r}"
            if step and (value - lo) % step:
                return f"expected a multiple of {step:g} from {lo:g}, got {value!r}"
        return None


def _empty_is_none(value: str) -> str | None:
    return value or None


def _cache_dir(value: str) -> str | None:
    return os.path.expanduser(value) or None


_IN, _MODEL, _BACKEND, _TRACK, _OUT, _DIAG = ("input", "model", "inference backend", "tracking", "output",
                                             "diagnostics")
AUTO = "auto"  # backbone / width: the checkpoint's (input_size says it with 0)
_NET = SIAMConfig()  # the network without a checkpoint


PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("cameras", "node", "camera names, comma-separated (e.g. 'front,rear'): each gets '<name>/image', "
              "'<name>/camera_info' and its own outputs '<name>/humans/smpl' and '<name>/humans/smpl/markers', its "
              "own frame buffer and tracker, one shared network; empty = one camera on 'image'", _IN,
              node_default=""),
    ParamSpec("image_transport", "node", "'raw': subscribe sensor_msgs/Image on 'image'; 'compressed': "
              "sensor_msgs/CompressedImage (JPEG/PNG) on 'image' (remap it to e.g. /camera/image_raw/compressed)",
              _IN, choices=("raw", "compressed"), node_default="raw"),
    ParamSpec("image_qos", "node", "reliability of the image subscription: 'auto' follows the publishers (reliable "
              "when every publisher on 'image' is reliable, else best effort); 'best_effort' (sensor data) or "
              "'reliable' fix it. Images over ~0.5 MB from a best-effort publisher need the Fast DDS profile of "
              "docs/ros.md (large images)", _IN, choices=("auto", "best_effort", "reliable"), node_default="auto"),
    ParamSpec("backbone", "network.backbone", "the frame network's backbone; 'auto' = the checkpoint's (without "
              f"a checkpoint: {_NET.backbone}); an explicit value must match the checkpoint", _MODEL,
              choices=(AUTO, *BACKBONES), node_default=AUTO, auto=AUTO),
    ParamSpec("width", "network.width", "the backbone's width (HRNet: w18 / w32 / w48; MoveNet: lightning); 'auto' = "
              "the checkpoint's (without a checkpoint: "
              + ", ".join(f"{b} {default_width(b)}" for b in BACKBONES) + "); an explicit value must match the "
              "checkpoint", _MODEL, choices=(AUTO, *WIDTHS), node_default=AUTO, auto=AUTO),
    ParamSpec("input_size", "network.input_size", "network input side in pixels (images are letterboxed to it); "
              "0 = the checkpoint's training size (128 for the bundled 'synthetic' weights, 384 for 'real' and "
              f"'movenet'; without a checkpoint: {_NET.input_size}), which is where detection works best", _MODEL,
              range=(64, 1024, 32), node_default=0, auto=0),
    ParamSpec("window", "network.window", "frames in the temporal window (the time embedding covers 16)", _MODEL,
              range=(1, 16, 1)),
    ParamSpec("max_people", "network.max_people", "most people reconstructed per image", _MODEL,
              range=(1, 64, 1)),
    ParamSpec("mode", "network.mode", "'causal': output the newest frame (no delay); 'centered': output the frame "
              "window//2 back (smoother, delayed by that many frames; the header is that frame's)", _MODEL,
              choices=MODES),
    ParamSpec("score_threshold", "network.score_threshold", "detection score below which a person is dropped",
              _MODEL, range=(0.0, 1.0, 0)),
    ParamSpec("max_gap_s", "estimator.max_gap_s", "a stamp jump larger than this (or any backwards jump, e.g. a "
              "bag loop) resets the temporal window and the tracks, seconds", _MODEL, range=(0.001, 3600.0, 0)),
    ParamSpec("person_score_threshold", "estimator.person_score_threshold", "with a backbone that finds keypoints "
              "(MoveNet), a detection must also reach this person score: its centre score times the mean of its "
              "keypoint scores above 0.127 (MoveNet's own person score); centre peaks on bicycles and railings "
              "rarely have a body's keypoints, but neither do small, far people: 0.2 took bikes.mp4's precision from 0.21 to "
              "0.39 and vtest's recall from 0.87 to 0.73 (docs/training.md). 0 = the centre score alone", _MODEL,
              range=(0.0, 1.0, 0)),
    ParamSpec("keypoint_fit", "estimator.keypoint_fit", "place each body on the backbone's 2D keypoints "
              "(MoveNet's; a backbone without keypoint heads ignores it): 'translation' fits where the body is, so "
              "meshes of any size line up with the person in the image and the 3D pose stays the network's; "
              "'limbs' also turns arms and legs towards their keypoints (a tighter overlay, a less accurate 3D "
              "pose); 'off' = the network's camera alone", _MODEL, choices=FIT_MODES),
    ParamSpec("checkpoint", "estimator.checkpoint", "trained weights: 'synthetic' = the bundled weights trained on "
              "the project's synthetic people (not real humans, see README); 'real' = those fine-tuned on a real "
              "street video labelled by a pose teacher (trained at 384 px); 'movenet' = SIAM-M, MoveNet "
              "MultiPose's backbone pretrained on real photos with heads trained by the project: people of any "
              "scene (384 px); or a .safetensors path (yours from 'python -m hmr_ros adapt'); empty = UNTRAINED "
              "random weights. The network parameters left at auto/0 follow it", _MODEL, node_default="synthetic",
              to_config=_empty_is_none),
    ParamSpec("body_model", "estimator.body_model", "'procedural' (built-in SMPL-layout body, no licence needed) "
              "or the path to a licensed SMPL model file (.npz)", _MODEL),
    ParamSpec("allow_pickle", "estimator.allow_pickle", "allow a .pkl body model (unpickling can run code: only "
              "for files you trust)", _MODEL),
    ParamSpec("device", "estimator.device", "torch device: 'cpu', 'cuda', 'cuda:1', ...", _MODEL),
    ParamSpec("torch_threads", "node", "CPU threads for torch; 0 = torch's default", _MODEL, range=(0, 256, 1),
              node_default=0),
    ParamSpec("backend", "estimator.backend", "inference backend of the network: 'auto' tries tensorrt > "
              "torch-cuda > onnxruntime > torch-cpu and reports why each earlier one was skipped (diagnostics)",
              _BACKEND, choices=BACKEND_NAMES),
    ParamSpec("precision", "estimator.precision", "'auto' = fp16 on CUDA, fp32 on CPU; fp16 TensorRT engines are "
              "built from an fp16 ONNX graph (docs/backends.md)", _BACKEND, choices=PRECISION_CHOICES),
    ParamSpec("tensorrt_flavour", "estimator.tensorrt_flavour", "which TensorRT the tensorrt backend uses: 'auto' "
              "= TensorRT for RTX when installed and it supports this GPU, else TensorRT 10/11", _BACKEND,
              choices=FLAVOUR_CHOICES),
    ParamSpec("engine_cache_dir", "estimator.engine_cache_dir", "directory of the ONNX exports and TensorRT "
              "engines ('~' is expanded); empty = $XDG_CACHE_HOME/hmr_ros, by default ~/.cache/hmr_ros "
              "(python -m hmr_ros cache lists and cleans it)", _BACKEND, node_default="", to_config=_cache_dir),
    ParamSpec("tracking", "node", "give each person a persistent id (SMPLHuman.id) and smooth them over time; "
              "false publishes every detection with an empty id", _TRACK, node_default=True),
    ParamSpec("tracking_smoothing", "tracker.smoothing", "One-Euro smoothing of translation and joint rotations, "
              "running mean of the betas, per track", _TRACK),
    ParamSpec("tracking_min_hits", "tracker.min_hits", "consecutive detections that confirm a new track (only "
              "confirmed tracks are published unless tracking_output_tentative)", _TRACK, range=(1, 100, 1)),
    ParamSpec("tracking_max_lost_frames", "tracker.max_lost_frames", "frames a confirmed track may go unseen and "
              "still take its id back when the person reappears nearby", _TRACK, range=(0, 1000, 1)),
    ParamSpec("tracking_output_tentative", "tracker.output_tentative", "also publish people of tentative (not yet "
              "confirmed) tracks; their ids may vanish", _TRACK),
    ParamSpec("tracking_max_root_distance_m", "tracker.max_root_distance_m", "gate radius around a track's "
              "predicted 3D root (it grows while the track is unseen), metres", _TRACK, range=(0.01, 10.0, 0)),
    ParamSpec("tracking_gate_depth_fraction", "tracker.gate_depth_fraction", "a depth difference up to this "
              "fraction of the track's depth does not count in the root distance (monocular depth errors grow "
              "with distance, along the viewing ray)", _TRACK,
              range=(0.0, 2.0, 0)),
    ParamSpec("tracking_max_cost", "tracker.max_cost", "a detection and a track whose association cost (in "
              "[0, 1]) exceeds this are not matched", _TRACK, range=(0.01, 1.0, 0)),
    ParamSpec("tracking_one_euro_min_cutoff_hz", "tracker.one_euro_min_cutoff_hz", "translation One-Euro cutoff "
              "at rest (lower = smoother, more lag), Hz", _TRACK, range=(0.001, 100.0, 0)),
    ParamSpec("tracking_one_euro_beta", "tracker.one_euro_beta", "translation One-Euro speed coefficient "
              "(higher = less lag when moving), Hz per m/s", _TRACK, range=(0.0, 1000.0, 0)),
    ParamSpec("tracking_rotation_min_cutoff_hz", "tracker.rotation_min_cutoff_hz", "joint rotation One-Euro "
              "cutoff at rest, Hz", _TRACK, range=(0.001, 100.0, 0)),
    ParamSpec("tracking_rotation_beta", "tracker.rotation_beta", "joint rotation One-Euro speed coefficient, Hz "
              "per rad/s", _TRACK, range=(0.0, 1000.0, 0)),
    ParamSpec("publish_markers", "node", "publish the meshes as visualization_msgs/MarkerArray on "
              "'humans/smpl/markers'", _OUT, node_default=True),
    ParamSpec("marker_face_stride", "node", "publish every n-th mesh triangle (1 = full mesh; larger = lighter "
              "markers for weak RViz clients)", _OUT, range=(1, 64, 1), node_default=1),
    ParamSpec("marker_alpha", "node", "mesh marker opacity", _OUT, range=(0.0, 1.0, 0), node_default=0.8),
    ParamSpec("diagnostics_period_s", "node", "period of /diagnostics, seconds", _DIAG, range=(0.1, 60.0, 0),
              node_default=1.0),
    ParamSpec("warn_latency_ms", "node", "WARN in diagnostics when receive-to-publish latency exceeds this, "
              "milliseconds", _DIAG, range=(1.0, 600000.0, 0), node_default=1000.0),
    ParamSpec("stale_input_s", "node", "WARN in diagnostics when no image arrived for this long, seconds", _DIAG,
              range=(0.1, 3600.0, 0), node_default=5.0),
)
SPECS = {p.name: p for p in PARAMS}


class ParameterError(ValueError):
    """An invalid parameter value; the message is the one line the node prints before exiting."""


def resolve_parameters(values: dict) -> tuple[dict, dict]:
    """``estimator.resolve_network`` for parameter values (``auto`` / ``0`` = the checkpoint's): backbone, width
    and input size as built, and where each came from."""
    return resolve_network(values["checkpoint"] or None, **{name: None if values[name] == SPECS[name].auto
                                                            else values[name] for name in CHECKPOINT_CHOICES})


@dataclass(frozen=True)
class NodeConfig:
    """Validated values of all parameters: ``config.values[name]``, or ``config.<name>`` (as declared: ``auto``
    stays ``auto``); ``network`` holds backbone / width / input_size as built, ``network_sources`` where each came
    from ("set", "checkpoint", "default"; ``estimator.resolve_network``)."""

    values: dict
    network: dict = dataclasses.field(default_factory=dict)
    network_sources: dict = dataclasses.field(default_factory=dict)

    def __getattr__(self, name: str):
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def _section(self, owner: str) -> dict:
        out = {}
        for spec in PARAMS:
            if spec.target.startswith(owner + "."):
                value = self.values[spec.name]
                out[spec.target.split(".")[1]] = spec.to_config(value) if spec.to_config else value
        return out

    def network_config(self) -> SIAMConfig:
        """The network to build: the parameters, with backbone / width / input_size resolved."""
        return SIAMConfig(**{**self._section("network"), **(self.network or resolve_parameters(self.values)[0])})

    def network_summary(self) -> str:
        """For logs: backbone, width and input size as built and where from, e.g. "backbone hrnet, width w32,
        input_size 384 (auto: checkpoint 'real')" or "... width w32 (auto: checkpoint 'real'), input_size 256 (set)"."""
        said = {"set": "set", "checkpoint": f"auto: checkpoint '{self.values['checkpoint']}'",
                "default": "auto: default" + ("" if self.values["checkpoint"] else ", no checkpoint")}
        notes = [said[self.network_sources[name]] for name in self.network]
        if len(set(notes)) == 1:  # all from one place: said once
            return ", ".join(f"{n} {v}" for n, v in self.network.items()) + f" ({notes[0]})"
        return ", ".join(f"{n} {v} ({note})" for (n, v), note in zip(self.network.items(), notes))

    def estimator_config(self) -> EstimatorConfig:
        return EstimatorConfig(network=self.network_config(), **self._section("estimator"))

    def tracker_config(self) -> TrackerConfig:
        """The exposed tracker settings; the others keep ``TrackerConfig``'s defaults. ``max_gap_s`` is the
        estimator's, so the tracker resets on the same stamp jumps as the temporal window."""
        return TrackerConfig(**self._section("tracker"), max_gap_s=self.values["max_gap_s"])

    def pipeline_config(self) -> PipelineConfig:
        return PipelineConfig(self.estimator_config(), self.tracker_config() if self.values["tracking"] else None)


def defaults() -> dict:
    return {p.name: p.default for p in PARAMS}


#: parameters that were renamed: old name -> new name (a params file written for an older release names the old)
RENAMED = {"variant": "width"}


def unknown_parameters(names, where: str = "") -> ParameterError:
    """The error for parameter names that are not declared, with the new name of a renamed one."""
    names = sorted(names)
    hints = "".join(f"; '{n}' is now '{RENAMED[n]}'" for n in names if n in RENAMED)
    return ParameterError(f"unknown parameter(s) {', '.join(names)}{where}{hints}; known: {', '.join(SPECS)}")


def make_config(values: dict) -> NodeConfig:
    """Validate a complete {name: value} mapping -> NodeConfig; raises ParameterError naming the first bad one."""
    unknown = set(values) - set(SPECS)
    if unknown:
        raise unknown_parameters(unknown)
    for spec in PARAMS:
        if spec.name not in values:
            raise ParameterError(f"parameter '{spec.name}' is missing")
        problem = spec.check(values[spec.name])
        if problem:
            raise ParameterError(f"invalid parameter '{spec.name}': {problem} ({spec.description})")
    declared = {spec.name: values[spec.name] for spec in PARAMS}
    config = NodeConfig(declared, *resolve_parameters(declared))  # the checkpoint's metadata, read once
    try:
        config.network_config().validate()
    except ValueError as exc:  # a combination the ranges cannot express
        raise ParameterError(f"invalid parameters: {exc}") from None
    return config


# -- derived documents ----------------------------------------------------------------------------------------
def _yaml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '""' if value == "" else value
    return repr(value)


def _wrap(text: str, indent: str, width: int = 116) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(indent) + 2 + len(line) + 1 + len(word) > width:
            lines.append(f"{indent}# {line}")
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + [f"{indent}# {line}"]


def _limits(spec: ParamSpec) -> str:
    if spec.choices:
        return " / ".join(f"`{c}`" for c in spec.choices)
    if spec.range is not None:
        lo, hi, step = spec.range
        auto = f"`{spec.auto!r}` (auto) or " if spec.auto is not None else ""
        return auto + f"{lo:g} … {hi:g}" + (f", step {step:g}" if step and step != 1 else "")
    return ""


def render_yaml() -> str:
    """config/hmr.yaml: every parameter at its default, its description as the comment above it."""
    out = ["# Parameters of hmr_node, every one at its default. Generated from hmr_ros/parameters.py by",
           "# `python -m hmr_ros params --yaml > config/hmr.yaml`; a test fails when the two drift apart.",
           "# Use: ros2 launch hmr_ros hmr.launch.py params_file:=<this file or your copy>",
           "#      ros2 run hmr_ros hmr_node --ros-args --params-file <file>",
           "# All are read once at start (read-only); an invalid value stops the node with one error line.",
           "/**:", "  ros__parameters:"]
    group = None
    for spec in PARAMS:
        if spec.group != group:
            group = spec.group
            out += ["", f"    # --- {group} " + "-" * (104 - len(group))]
        limits = _limits(spec).replace("`", "").replace(" / ", " | ")
        text = spec.description + (f" [{limits}]" if limits else "")
        out += _wrap(text, "    ")
        out.append(f"    {spec.name}: {_yaml_value(spec.default)}")
    return "\n".join(out) + "\n"


def render_markdown_table() -> str:
    """The README's parameter table (Markdown)."""
    rows = ["| name | type | default | range | description |", "|---|---|---|---|---|"]
    for spec in PARAMS:
        default = spec.default
        shown = f"`{_yaml_value(default)}`" if not isinstance(default, str) else f"`{default!r}`".replace("'", '"')
        if isinstance(default, str) and default:
            shown = f"`{default}`"
        rows.append(f"| `{spec.name}` | {spec.type.__name__} | {shown} | {_limits(spec)} | {spec.description} |")
    return "\n".join(rows) + "\n"


#: the node's name: params-file sections for it are ``hmr_node``, ``/ns/hmr_node``, ``/*/hmr_node``, ``/**``
NODE_NAME = "hmr_node"


def for_this_node(key: str) -> bool:
    """A params-file section key that applies to hmr_node (the node's own name, ``*`` or ``**`` last)."""
    return key.rstrip("/").split("/")[-1] in (NODE_NAME, "*", "**")


def read_params_file(path: str | os.PathLike, required: bool = True) -> dict:
    """{name: value} of a ROS 2 parameters YAML (``hmr_node: ros__parameters: {...}``, also ``/**:`` and
    namespaced keys; sections for other nodes are skipped), the file ``--params-file`` gives the node: the one
    reader of such files (``run --params-file``, the node's argument check, the demo). ParameterError naming the
    problem when it cannot be used; ``required``: also when it has no section for this node."""
    import yaml

    try:
        doc = yaml.safe_load(open(path, encoding="utf-8"))
    except OSError as e:
        raise ParameterError(f"cannot read parameters file {path}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise ParameterError(f"parameters file {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    values: dict = {}
    for key, section in doc.items() if isinstance(doc, dict) else ():
        if for_this_node(str(key)) and isinstance(section, dict) and isinstance(section.get("ros__parameters"),
                                                                                 dict):
            values.update(section["ros__parameters"])
    if not values and required:
        raise ParameterError(f"parameters file {path} has no '{NODE_NAME}: ros__parameters:' section")
    return values


def add_cli_flags(parser: argparse.ArgumentParser, names: tuple[str, ...], **defaults) -> None:
    """Add ``--<name-with-dashes>`` flags for the named parameters (type, choices, help from the declaration).
    ``defaults`` override a declared default for this command. Bools become ``--flag`` / ``--no-flag``."""
    for name in names:
        spec = SPECS[name]
        # a renamed parameter keeps its old flag as an alias, so scripts written for an older release still run
        flags = ["--" + n.replace("_", "-") for n in (name, *(old for old, new in RENAMED.items() if new == name))]
        default = defaults.get(name, spec.default)
        help_text = spec.description + (f" [{_limits(spec).replace('`', '')}]" if _limits(spec) else "")
        if spec.type is bool:
            parser.add_argument(*flags, action=argparse.BooleanOptionalAction, default=default, help=help_text)
        else:
            parser.add_argument(*flags, type=spec.type, default=default, choices=spec.choices, help=help_text)


def config_from_args(args: argparse.Namespace, **fixed) -> NodeConfig:
    """A validated ``NodeConfig`` from parsed ``add_cli_flags`` flags; parameters without a flag keep their
    defaults, ``fixed`` sets others. Raises ParameterError like the node."""
    values = defaults()
    for name in SPECS:
        if hasattr(args, name):
            values[name] = getattr(args, name)
    values.update(fixed)
    return make_config(values)
