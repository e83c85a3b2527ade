"""hmr_node: camera images -> ``hmr_ros.pipeline.Pipeline`` -> /humans/smpl, mesh markers and /diagnostics.

The node only translates between ROS and the core: it decodes, calls ``process_many``, converts and publishes.
One or several cameras (``cameras`` parameter; ``camera_input.py`` holds each camera's topics and state); every
camera has its own frame buffer and tracker, and all share one network.
Threads:
- the executor (main thread) runs the subscription callbacks, which only store each camera's newest image (a
  frame still waiting when the next one of its camera arrives is dropped and counted), cache CameraInfo, and
  the diagnostics timer;
- one worker thread takes the newest image of every camera that has one, decodes them, runs them through the
  network's frame stage as one batch and each camera's temporal stage and tracker (``process_many``), and
  publishes each camera's result.
So the latency stays bounded (at most one waiting frame per camera) at any input rate.

Bad input never stops the node: it is logged once per kind (then at most every 10 s with a count),
counted in /diagnostics, and the next good frame is processed.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time

import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

import hmr_ros.ros  # noqa: F401  (generated messages from the install tree)
from hmr_ros.estimator import Estimator
from hmr_ros.camera_messages import InputProblem, message_frame
from hmr_ros.parameters import NodeConfig, ParameterError
from hmr_ros.pipeline import Pipeline, process_many
from hmr_ros.ros import diagnostics
from hmr_ros.ros.camera_input import CameraInput, Pending, camera_names
from hmr_ros.ros.params import check_arguments, declare_and_read
from hmr_ros.text import printable

LOG_REPEAT_S = 10.0
#: How often ``image_qos: auto`` looks at the image publishers' reliability, seconds.
QOS_CHECK_S = 1.0


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
    SMPLHumanArray / MarkerArray / DiagnosticArray out, per camera. Construction raises ParameterError (bad
    parameter) or ValueError/OSError (missing or corrupt checkpoint or body model, unusable device); ``main`` turns
    those into one error line and an exit code."""

    def __init__(self, **node_kwargs):
        super().__init__("hmr_node", **node_kwargs)
        self.cfg: NodeConfig = declare_and_read(self)   # ParameterError -> caller exits
        try:
            names = camera_names(self.cfg.cameras)
        except ValueError as exc:
            raise ParameterError(f"invalid parameter 'cameras': {exc}") from None
        if self.cfg.torch_threads:
            torch.set_num_threads(self.cfg.torch_threads)
        # backbone / width / input size as built (auto: the checkpoint's), said before the weights are loaded
        self.get_logger().info(f"network: {self.cfg.network_summary()}")
        first = Pipeline(self.cfg.pipeline_config())  # ValueError/OSError -> caller exits
        self.estimator = est = first.estimator
        # every further camera: its own frame buffer and tracker on the same network, backend and body model
        pipelines = [first] + [Pipeline(self.cfg.pipeline_config(), estimator=Estimator.sharing(est))
                               for _ in names[1:]]
        self.log_once = _OnceLogger(self.get_logger())
        self.cv = threading.Condition()  # guards every camera's pending image; the worker waits on it
        self._stop = False
        weights = self.cfg.checkpoint or "UNTRAINED (no checkpoint)"
        net = est.config.network  # as built: backbone, width and input size resolved (auto = the checkpoint's)
        info = diagnostics.StaticInfo(
            backend=est.backend.describe(),
            backend_selection="; ".join(est.backend.selection),
            model=f"SIAM {net.backbone} {net.width} {net.input_size}px T={net.window} K={net.max_people} {net.mode}",
            weights=weights, body_model=est.body_model_name, input_topic="", untrained=est.untrained,
            tracking=self._tracking_summary(first))
        self.cameras = [CameraInput(self, name, p, info) for name, p in zip(names or [""], pipelines)]
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        if self.cfg.image_qos == "auto":
            self.create_timer(QOS_CHECK_S, self._subscribe_images)
        self.create_timer(self.cfg.diagnostics_period_s, self._on_diagnostics_timer)
        self._worker = threading.Thread(target=self._run_worker, name="hmr_inference", daemon=True)
        self._worker.start()

        if est.untrained:
            self.get_logger().warning("network is UNTRAINED (no checkpoint parameter): the published people are "
                                      "outputs of random weights, not real detections")
        inputs = ", ".join(f"'{c.info.input_topic}' ({c.qos_summary()})" for c in self.cameras)
        self.get_logger().info(f"ready: {info.model}, backend {info.backend} [{info.backend_selection}], body "
                               f"model '{est.body_model_name}', tracking {info.tracking}, "
                               f"{self.cameras[0].image_type.__name__} on {inputs}")

    @staticmethod
    def _tracking_summary(pipeline: Pipeline) -> str:
        if pipeline.tracker is None:
            return "off"
        c = pipeline.tracker.config
        return (f"on (min_hits={c.min_hits}, max_lost_frames={c.max_lost_frames}, "
                f"{'tentative tracks published, ' if c.output_tentative else ''}"
                f"smoothing {'on' if c.smoothing else 'off'})")

    def _subscribe_images(self) -> None:
        for camera in self.cameras:
            camera.subscribe_images()

    def _on_diagnostics_timer(self) -> None:
        # one status per camera, "hmr_node: human mesh recovery (front)"; the unnamed camera keeps the plain name
        now, stamp = time.monotonic(), self.get_clock().now().to_msg()
        msg = DiagnosticArray()
        msg.header.stamp = stamp
        for camera in self.cameras:
            name = f"{diagnostics.STATUS_NAME} ({camera.name})" if camera.name else diagnostics.STATUS_NAME
            msg.status += diagnostics.to_msg(camera.report(now), stamp, name).status
        self.pub_diag.publish(msg)

    # -- worker thread --------------------------------------------------------------------------------------
    def _run_worker(self) -> None:
        while True:
            with self.cv:
                while not self._stop and not any(c.pending is not None for c in self.cameras):
                    self.cv.wait()
                if self._stop:
                    return
                jobs = [(c, job) for c in self.cameras if (job := c.take()) is not None]
            try:
                self._process(jobs)
            except Exception as exc:  # an unexpected failure must not kill the worker: report and go on
                for camera, _ in jobs:
                    self._failed(camera, exc)

    @staticmethod
    def _failed(camera: CameraInput, exc: BaseException) -> None:
        what = f"{type(exc).__name__}: {printable(exc, limit=300)}"
        camera.stats.on_inference_error(what)
        camera.log("inference_error", f"frame failed: {what}", level="error")

    def _decode(self, camera: CameraInput, job: Pending):
        """The camera's image as a ``MessageFrame`` (``camera_messages``: the rules recordings follow too), or None
        when it is unusable (counted and logged)."""
        try:
            frame = message_frame(job.msg, camera.calibrations, job.arrival)
        except InputProblem as exc:
            camera.stats.on_bad_input(exc.kind)
            camera.log(exc.kind, f"dropping image from '{printable(job.msg.header.frame_id)}': "
                       f"{printable(exc, limit=300)}")
            return None
        except Exception as exc:  # noqa: BLE001 -- a decoder bug on one camera: the other cameras' frames go on
            self._failed(camera, exc)
            return None
        for note in frame.notes:
            camera.note(note)
        return frame

    def _process(self, jobs: list[tuple[CameraInput, Pending]]) -> None:
        frames = [(camera, job, decoded) for camera, job in jobs if (decoded := self._decode(camera, job))]
        if not frames:
            return
        # one batch through the frame network for all cameras, then each camera's temporal stage and tracker
        results = process_many([camera.pipeline for camera, _, _ in frames],
                               [(f.rgb, f.stamp, f.K, f.header) for _, _, f in frames])
        for (camera, job, _), result in zip(frames, results):
            if isinstance(result, ValueError):
                camera.stats.on_bad_input("rejected_image")
                camera.log("rejected_image", f"dropping image from '{printable(job.msg.header.frame_id)}': "
                           f"{printable(result, limit=300)}")
            elif isinstance(result, Exception):
                self._failed(camera, result)
            else:
                camera.publish(job, result)

    def stop(self) -> None:
        with self.cv:
            self._stop = True
            self.cv.notify()
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
