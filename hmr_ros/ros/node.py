"""hmr_node: camera images -> ``hmr_ros.pipeline.Pipeline`` -> /humans/smpl, mesh markers and /diagnostics.

The node only translates between ROS and the core: it decodes, calls ``Pipeline.process``, converts and publishes.
Threads:
- the executor (main thread) runs the subscription callbacks, which only store the newest image (a frame
  still waiting when the next one arrives is dropped and counted), cache CameraInfo, and the diagnostics timer;
- one worker thread takes the newest image, decodes it, runs the pipeline (estimator, tracker, output frame,
  order) and publishes.
So the latency stays bounded (at most one waiting frame) at any input rate.

Bad input never stops the node: it is logged once per kind (then at most every 10 s with a count),
counted in /diagnostics, and the next good frame is processed.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray

import hmr_ros.ros  # noqa: F401  (generated messages from the install tree)
from hmr_ros.camera import MAX_IMAGE_SIDE, resolve_intrinsics
from hmr_ros.msg import SMPLHumanArray
from hmr_ros.parameters import NodeConfig, ParameterError
from hmr_ros.pipeline import Pipeline
from hmr_ros.ros import diagnostics
from hmr_ros.ros.image_qos import choose_reliability, image_profile, reliability_name
from hmr_ros.image_codec import ImageDecodeError, compressed_msg_to_rgb, image_msg_to_rgb
from hmr_ros.ros.markers import MeshMarkerWriter, people_colors
from hmr_ros.ros.messages import bodies_to_msg
from hmr_ros.ros.params import check_arguments, declare_and_read
from hmr_ros.text import printable

SMPL_TOPIC = "humans/smpl"
MARKER_TOPIC = "humans/smpl/markers"
IMAGE_TOPIC = "image"
CAMERA_INFO_TOPIC = "camera_info"
LOG_REPEAT_S = 10.0
#: CameraInfo is kept for this many frame_ids, least recently used evicted: anyone can publish a new frame_id per
#: message, and a real robot has a handful of cameras.
MAX_CAMERAS = 64
#: How often ``image_qos: auto`` looks at the image publishers' reliability, seconds.
QOS_CHECK_S = 1.0

# CameraInfo: newest only, from any publisher (best effort subscribers match reliable publishers too; CameraInfo is
# small, so no sample is too large for best effort)
SENSOR_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)
OUTPUT_QOS = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)


def stamp_seconds(stamp) -> float:
    return stamp.sec + 1e-9 * stamp.nanosec


def stamp_problem(stamp) -> str | None:
    """Why a builtin_interfaces/Time is invalid, or None. nanosec must be < 1e9: the stamp is published unchanged
    in the output headers, so the frame is rejected rather than silently renormalised."""
    if not 0 <= stamp.nanosec < 1_000_000_000:
        return f"header stamp nanosec={stamp.nanosec} is not in [0, 1e9) (sec={stamp.sec})"
    return None


def camera_info_intrinsics(info: CameraInfo) -> tuple[np.ndarray | None, str | None]:
    """(K, None) for a calibrated camera, (None, None) for an uncalibrated one (all-zero K: default intrinsics, the
    policy of ``hmr_ros.camera.resolve_intrinsics``), (None, why) for a broken CameraInfo."""
    # A CameraInfo without a size (0 x 0) still bounds the principal point by the largest accepted image.
    width, height = int(info.width) or MAX_IMAGE_SIDE, int(info.height) or MAX_IMAGE_SIDE
    try:
        K, default = resolve_intrinsics(np.asarray(info.k, dtype=np.float64), width, height)
    except ValueError as exc:
        return None, str(exc)
    return (None if default else K), None


@dataclass
class _Pending:
    msg: Image | CompressedImage
    received: float  # time.monotonic()


class _OnceLogger:
    """Logs the first occurrence of each kind, then at most every LOG_REPEAT_S seconds with a count."""

    def __init__(self, logger):
        self._logger = logger
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, kind: str, message: str, level: str = "warning") -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < LOG_REPEAT_S:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return
            more = self._suppressed.pop(kind, 0)
            self._last[kind] = now
        # the call sites escape and shorten what the message fields carry; escaping the whole line again (a no-op
        # on escaped text) guarantees one log line per report whatever a future call site forgets
        text = printable(f"[{kind}] {message}", limit=None) + (f" ({more} more since the last report)" if more else "")
        # rclpy ties a severity to each call site, so every level needs its own call
        if level == "error":
            self._logger.error(text)
        elif level == "info":
            self._logger.info(text)
        else:
            self._logger.warning(text)


class HmrNode(Node):
    """The ROS face of ``Pipeline``: parameters in (hmr_ros.parameters), images and CameraInfo in,
    SMPLHumanArray / MarkerArray / DiagnosticArray out. Construction raises ParameterError (bad parameter) or
    ValueError/OSError (missing or corrupt checkpoint or body model, unusable device); ``main`` turns those into
    one error line and an exit code."""

    def __init__(self, **node_kwargs):
        super().__init__("hmr_node", **node_kwargs)
        self.cfg: NodeConfig = declare_and_read(self)   # ParameterError -> caller exits
        if self.cfg.torch_threads:
            torch.set_num_threads(self.cfg.torch_threads)
        self.pipeline = Pipeline(self.cfg.pipeline_config())  # ValueError/OSError -> caller exits
        self.estimator = est = self.pipeline.estimator
        self.tracker = self.pipeline.tracker
        self._log_once = _OnceLogger(self.get_logger())
        weights = self.cfg.checkpoint or "UNTRAINED (no checkpoint)"
        self._info = diagnostics.StaticInfo(
            backend=est.backend.describe(),
            backend_selection="; ".join(est.backend.selection),
            model=f"SIAM {self.cfg.variant} {self.cfg.input_size}px T={self.cfg.window} "
                  f"K={self.cfg.max_people} {self.cfg.mode}",
            weights=weights, body_model=est.body_model_name,
            input_topic=self.resolve_topic_name(IMAGE_TOPIC), untrained=est.untrained,
            tracking=self._tracking_summary())
        self.stats = diagnostics.PipelineStats()
        self._markers = (MeshMarkerWriter(est.faces, self.cfg.marker_face_stride, self.cfg.marker_alpha)
                         if self.cfg.publish_markers else None)

        # frame_id -> (K or None for an uncalibrated camera, width, height), at most MAX_CAMERAS, least recently
        # used first; written by the executor, read by the worker
        self._camera_k: OrderedDict[str, tuple[np.ndarray | None, int, int]] = OrderedDict()
        self._camera_lock = threading.Lock()
        self._cv = threading.Condition()
        self._pending: _Pending | None = None
        self._stop = False
        self._resets = 0

        self.pub_smpl = self.create_publisher(SMPLHumanArray, SMPL_TOPIC, OUTPUT_QOS)
        self.pub_markers = self.create_publisher(MarkerArray, MARKER_TOPIC, OUTPUT_QOS) if self._markers else None
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        image_type = CompressedImage if self.cfg.image_transport == "compressed" else Image
        self._image_type, self._image_sub, self._image_reliability = image_type, None, None
        self._subscribe_images()
        if self.cfg.image_qos == "auto":
            self.create_timer(QOS_CHECK_S, self._subscribe_images)
        self.create_subscription(CameraInfo, CAMERA_INFO_TOPIC, self._on_camera_info, SENSOR_QOS)
        self.create_timer(self.cfg.diagnostics_period_s, self._on_diagnostics_timer)
        self._worker = threading.Thread(target=self._run_worker, name="hmr_inference", daemon=True)
        self._worker.start()

        if est.untrained:
            self.get_logger().warning("network is UNTRAINED (no checkpoint parameter): the published people are "
                                      "outputs of random weights, not real detections")
        self.get_logger().info(f"ready: {self._info.model}, backend {self._info.backend} "
                               f"[{self._info.backend_selection}], body model '{est.body_model_name}', "
                               f"tracking {self._info.tracking}, {image_type.__name__} on "
                               f"'{self._info.input_topic}' ({self._qos_summary()})")

    def _tracking_summary(self) -> str:
        if self.tracker is None:
            return "off"
        c = self.tracker.config
        return (f"on (min_hits={c.min_hits}, max_lost_frames={c.max_lost_frames}, "
                f"{'tentative tracks published, ' if c.output_tentative else ''}"
                f"smoothing {'on' if c.smoothing else 'off'})")

    def _qos_summary(self) -> str:
        how = "following the publishers" if self.cfg.image_qos == "auto" else "image_qos"
        return f"{reliability_name(self._image_reliability)}, {how}"

    def _image_publishers(self) -> list:
        return self.get_publishers_info_by_topic(self._info.input_topic)

    def _subscribe_images(self) -> None:
        """(Re)create the image subscription when the reliability ``image_qos`` asks for has changed."""
        wanted = choose_reliability(self.cfg.image_qos, [p.qos_profile.reliability for p in self._image_publishers()])
        if wanted == self._image_reliability:
            return
        if self._image_sub is not None:
            self.destroy_subscription(self._image_sub)
            self.get_logger().info(f"image publishers on '{self._info.input_topic}' changed: subscribing "
                                   f"{reliability_name(wanted)}")
        self._image_reliability = wanted
        self._image_sub = self.create_subscription(
            self._image_type, IMAGE_TOPIC, self._on_image, image_profile(wanted),
            event_callbacks=SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos))

    # -- callbacks (executor thread) ------------------------------------------------------------------------
    def _on_incompatible_qos(self, event) -> None:
        self.stats.on_incompatible_qos()
        self._log_once("incompatible_qos", f"a publisher on '{self._info.input_topic}' offers a QoS this "
                       f"{reliability_name(self._image_reliability)} subscription cannot match (policy "
                       f"{printable(event.last_policy_kind)}): set image_qos to 'auto' or 'best_effort'")

    def _on_image(self, msg) -> None:
        now = time.monotonic()
        with self._cv:
            replaced = self._pending is not None
            self._pending = _Pending(msg, now)
            self._cv.notify()
        self.stats.on_received(now, replaced)

    def _on_camera_info(self, info: CameraInfo) -> None:
        frame_id = info.header.frame_id
        k, problem = camera_info_intrinsics(info)
        if problem:
            self.stats.on_bad_input("bad_camera_info")
            self._log_once("bad_camera_info", f"ignoring CameraInfo of '{printable(frame_id)}': {printable(problem)}")
            return
        if k is None:
            self._log_once("uncalibrated_camera", f"CameraInfo of '{printable(frame_id)}' has an all-zero K "
                           "(uncalibrated camera): using default intrinsics", level="info")
        with self._camera_lock:
            self._camera_k[frame_id] = (k, int(info.width), int(info.height))
            self._camera_k.move_to_end(frame_id)
            while len(self._camera_k) > MAX_CAMERAS:
                self._camera_k.popitem(last=False)
            known = len(self._camera_k)
        self.stats.set_cameras_known(known)

    def _on_diagnostics_timer(self) -> None:
        report = self.stats.report(time.monotonic(), self._info, self.cfg.warn_latency_ms, self.cfg.stale_input_s,
                                   publishers=len(self._image_publishers()),
                                   image_qos=reliability_name(self._image_reliability))
        self.pub_diag.publish(diagnostics.to_msg(report, self.get_clock().now().to_msg()))

    # -- worker thread --------------------------------------------------------------------------------------
    def _run_worker(self) -> None:
        while True:
            with self._cv:
                while self._pending is None and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                job, self._pending = self._pending, None
            try:
                self._process(job)
            except Exception as exc:  # an unexpected failure must not kill the worker: report and go on
                what = f"{type(exc).__name__}: {printable(exc, limit=300)}"
                self.stats.on_inference_error(what)
                self._log_once("inference_error", f"frame failed: {what}", level="error")

    def _intrinsics(self, frame_id: str, width: int, height: int) -> np.ndarray | None:
        with self._camera_lock:
            cached = self._camera_k.get(frame_id)
            if cached is not None:
                self._camera_k.move_to_end(frame_id)  # a camera in use is the last to be evicted
        if cached is None:
            self._log_once("no_camera_info", f"no CameraInfo for frame '{printable(frame_id)}' yet: using default "
                           "intrinsics")
            return None
        k, w, h = cached
        if k is not None and (w, h) != (0, 0) and (w, h) != (width, height):
            self.stats.on_bad_input("camera_info_size_mismatch")
            self._log_once("camera_info_size_mismatch", f"CameraInfo of '{printable(frame_id)}' is for {w}x{h} "
                           f"images but the image is {width}x{height}: using default intrinsics")
            return None
        return k

    def _process(self, job: _Pending) -> None:
        msg = job.msg
        frame_id = printable(msg.header.frame_id)
        problem = stamp_problem(msg.header.stamp)
        if problem:
            self.stats.on_bad_input("bad_stamp")
            self._log_once("bad_stamp", f"dropping image from '{frame_id}': {problem}")
            return
        try:
            rgb = compressed_msg_to_rgb(msg) if isinstance(msg, CompressedImage) else image_msg_to_rgb(msg)
        except ImageDecodeError as exc:
            self.stats.on_bad_input(exc.kind)
            self._log_once(exc.kind, f"dropping image from '{frame_id}': {printable(exc, limit=300)}")
            return
        height, width = rgb.shape[:2]
        K = self._intrinsics(msg.header.frame_id, width, height)
        try:
            result = self.pipeline.process(rgb, stamp_seconds(msg.header.stamp), K, meta=msg.header)
        except ValueError as exc:
            self.stats.on_bad_input("rejected_image")
            self._log_once("rejected_image", f"dropping image from '{frame_id}': {printable(exc, limit=300)}")
            return
        if result.resets != self._resets:
            self._resets = result.resets
            self.stats.on_buffer_reset()
            self._log_once("buffer_reset", f"temporal window and tracks reset: {printable(result.reset_reason)}",
                           level="info")
        if not result.ready:  # centered mode before the window holds the output frame
            return
        header, (w, h), bodies = result.meta, result.image_size, result.bodies
        self.pub_smpl.publish(bodies_to_msg(bodies, header, self.estimator.body_model_name, w, h))
        if self._markers is not None:
            self.pub_markers.publish(self._markers.build(
                [b.vertices for b in bodies], (header.stamp.sec, header.stamp.nanosec), header.frame_id,
                colors=people_colors([b.id for b in bodies])))
        live = None if self.tracker is None else len(self.tracker.tracks)
        self.stats.on_processed(1e3 * (time.monotonic() - job.received), len(bodies), result.default_intrinsics,
                                live)

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._worker.join(timeout=10.0)


def _one_line(exc: BaseException, limit: int = 400) -> str:
    """An exception as one log line: a checkpoint mismatch lists its tensors on many lines; the first lines say it."""
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text if len(text) <= limit else text[:limit - 3] + "..."


START_UP_INTERRUPTED = "hmr_node: interrupted during start-up"


def abort_start_up(signum=None, frame=None) -> None:
    """SIGINT handler while the node starts: one line and exit 130 at once. (A KeyboardInterrupt raised inside an
    import or a library call can be swallowed there; the node then came up anyway and ran on.)"""
    os.write(2, (START_UP_INTERRUPTED + "\n").encode())
    os._exit(130)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``ros2 run hmr_ros hmr_node``; returns the process exit code.

    Start-up never ends in a traceback: a bad parameter or an unusable file or device is one ``hmr_node:`` line on
    stderr and exit code 2; Ctrl-C before the node is up is one line and 130 (the shell's code for SIGINT). Once it
    is up, Ctrl-C (KeyboardInterrupt) and SIGTERM (rclpy's handler) stop it cleanly with 0."""
    node = None
    signal.signal(signal.SIGINT, abort_start_up)
    try:
        # rclpy handles SIGTERM only: SIGINT is ours, to tell start-up from running
        rclpy.init(args=argv, signal_handler_options=SignalHandlerOptions.SIGTERM)
        try:
            check_arguments(argv)
            node = HmrNode()
        except ParameterError as exc:
            print(f"hmr_node: {_one_line(exc)}", file=sys.stderr, flush=True)
            return 2
        except Exception as exc:  # missing/corrupt checkpoint or body model, bad device, unwritable cache, ...
            print(f"hmr_node: cannot start: {_one_line(exc)}", file=sys.stderr, flush=True)
            return 2
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            executor.spin()
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        return 0
    except KeyboardInterrupt:
        print(START_UP_INTERRUPTED, file=sys.stderr, flush=True)
        return 130
    finally:
        if node is not None:
            if hasattr(node, "_worker"):
                node.stop()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
