"""One camera of hmr_node: its image and CameraInfo subscriptions, the newest waiting image, its intrinsics cache,
its outputs and its diagnostics counters.

With ``cameras: ""`` the node has one camera on ``image`` / ``camera_info`` publishing ``humans/smpl`` and
``humans/smpl/markers``; with ``cameras: "front,rear"`` each name gets its own ``<name>/image``,
``<name>/camera_info``, ``<name>/humans/smpl`` and ``<name>/humans/smpl/markers`` (relative names: remap or
namespace them as usual). Outputs are per camera because every person is expressed in the optical frame of the
camera that saw them; merging needs the extrinsics (tf), which this node does not use.

Callbacks run on the executor thread and only store; the node's worker thread takes the images (``take``) and
publishes the results (``publish``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray

from hmr_ros import topics
from hmr_ros.camera_messages import CameraInfoCache, Note
from hmr_ros.msg import SMPLHumanArray
from hmr_ros.pipeline import FrameResult, Pipeline
from hmr_ros.ros import diagnostics
from hmr_ros.ros.image_qos import choose_reliability, image_profile, reliability_name
from hmr_ros.palette import people_colors
from hmr_ros.ros.markers import MeshMarkerWriter
from hmr_ros.ros.messages import bodies_to_msg
from hmr_ros.text import printable

# CameraInfo: newest only, from any publisher (best effort subscribers match reliable publishers too; CameraInfo is
# small, so no sample is too large for best effort)
SENSOR_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.BEST_EFFORT)
OUTPUT_QOS = QoSProfile(depth=5, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)


def camera_names(text: str) -> list[str]:
    """The ``cameras`` parameter ("front, rear" or "front rear") -> ["front", "rear"]; [] for one unnamed camera.
    ValueError for a name that is not a valid ROS topic name token or is given twice."""
    names = [n for n in text.replace(",", " ").split() if n]
    for n in names:
        if not (n[0].isalpha() and all(c.isalnum() or c == "_" for c in n)):
            raise ValueError(f"camera name {n!r} must start with a letter and hold only letters, digits and '_'")
    if len(set(names)) != len(names):
        raise ValueError(f"camera names must be unique, got {names}")
    return names


@dataclass
class Pending:
    msg: Image | CompressedImage
    received: float  # time.monotonic()
    arrival: float   # ROS time, seconds: the stamp of an image whose header stamp is zero


class CameraInput:
    """Everything of one camera. ``name`` "" is the single unnamed camera (today's topic names).

    Args:
        node: the HmrNode (parameters ``cfg``, ``log_once``, the shared condition ``cv`` its worker waits on).
        name: the camera name, the prefix of its topics.
        pipeline: this camera's Pipeline (its own frame buffer and tracker; the network is shared).
        info: the node's StaticInfo; this camera's input topic is filled in.
    """

    def __init__(self, node, name: str, pipeline: Pipeline, info: diagnostics.StaticInfo):
        self.node, self.name, self.pipeline = node, name, pipeline
        cfg = node.cfg
        self.label = name or "camera"
        self.info = diagnostics.StaticInfo(**{**info.__dict__, "input_topic": node.resolve_topic_name(
            topics.camera_topic(name, topics.IMAGE))})
        self.stats = diagnostics.PipelineStats()
        est = pipeline.estimator
        self.markers = (MeshMarkerWriter(est.faces, cfg.marker_face_stride, cfg.marker_alpha)
                        if cfg.publish_markers else None)
        self.pub_smpl = node.create_publisher(SMPLHumanArray, topics.camera_topic(name, topics.SMPL), OUTPUT_QOS)
        self.pub_markers = (node.create_publisher(MarkerArray, topics.camera_topic(name, topics.MARKERS), OUTPUT_QOS)
                            if self.markers else None)
        self.calibrations = CameraInfoCache()  # written by the executor, read by the worker
        self.pending: Pending | None = None   # guarded by node.cv
        self.resets = 0
        self.image_topic = topics.camera_topic(name, topics.IMAGE)
        self.image_type = CompressedImage if cfg.image_transport == "compressed" else Image
        self.image_sub, self.image_reliability = None, None
        self.subscribe_images()
        node.create_subscription(CameraInfo, topics.camera_topic(name, topics.CAMERA_INFO), self.on_camera_info,
                                 SENSOR_QOS)

    def note(self, note: Note) -> None:
        """Log a Note of the message adapter; count it when it is bad input."""
        if note.bad_input:
            self.stats.on_bad_input(note.kind)
        self.log(note.kind, note.message, note.level)

    def log(self, kind: str, message: str, level: str = "warning") -> None:
        where = f"camera '{self.name}': " if self.name else ""
        self.node.log_once(f"{self.name}:{kind}" if self.name else kind, where + message, level)

    def qos_summary(self) -> str:
        how = "following the publishers" if self.node.cfg.image_qos == "auto" else "image_qos"
        return f"{reliability_name(self.image_reliability)}, {how}"

    def image_publishers(self) -> list:
        return self.node.get_publishers_info_by_topic(self.info.input_topic)

    def subscribe_images(self) -> None:
        """(Re)create the image subscription when the reliability ``image_qos`` asks for has changed."""
        wanted = choose_reliability(self.node.cfg.image_qos,
                                    [p.qos_profile.reliability for p in self.image_publishers()])
        if wanted == self.image_reliability:
            return
        if self.image_sub is not None:
            self.node.destroy_subscription(self.image_sub)
            self.node.get_logger().info(f"image publishers on '{self.info.input_topic}' changed: subscribing "
                                        f"{reliability_name(wanted)}")
        self.image_reliability = wanted
        self.image_sub = self.node.create_subscription(
            self.image_type, self.image_topic, self.on_image, image_profile(wanted),
            event_callbacks=SubscriptionEventCallbacks(incompatible_qos=self.on_incompatible_qos))

    # -- callbacks (executor thread) ------------------------------------------------------------------------
    def on_incompatible_qos(self, event) -> None:
        self.stats.on_incompatible_qos()
        self.log("incompatible_qos", f"a publisher on '{self.info.input_topic}' offers a QoS this "
                 f"{reliability_name(self.image_reliability)} subscription cannot match (policy "
                 f"{printable(event.last_policy_kind)}): set image_qos to 'auto' or 'best_effort'")

    def on_image(self, msg) -> None:
        now = time.monotonic()
        with self.node.cv:
            replaced = self.pending is not None
            self.pending = Pending(msg, now, self.node.get_clock().now().nanoseconds * 1e-9)
            self.node.cv.notify()
        self.stats.on_received(now, replaced)

    def on_camera_info(self, info: CameraInfo) -> None:
        note = self.calibrations.update(info)
        if note is not None:
            self.note(note)
        self.stats.set_cameras_known(len(self.calibrations))

    def report(self, now: float):
        cfg = self.node.cfg
        return self.stats.report(now, self.info, cfg.warn_latency_ms, cfg.stale_input_s,
                                 publishers=len(self.image_publishers()),
                                 image_qos=reliability_name(self.image_reliability))

    # -- worker thread --------------------------------------------------------------------------------------
    def take(self) -> Pending | None:
        """The waiting image, if any (call with ``node.cv`` held)."""
        job, self.pending = self.pending, None
        return job

    def publish(self, job: Pending, result: FrameResult) -> None:
        """Count a reset, publish the output frame's people (nothing before centered mode's window is full)."""
        if result.resets != self.resets:
            self.resets = result.resets
            self.stats.on_buffer_reset()
            self.log("buffer_reset", f"temporal window and tracks reset: {printable(result.reset_reason)}",
                     level="info")
        if not result.ready:
            return
        header, (w, h), bodies = result.meta, result.image_size, result.bodies
        est = self.pipeline.estimator
        self.pub_smpl.publish(bodies_to_msg(bodies, header, est.body_model_name, w, h))
        if self.markers is not None:
            self.pub_markers.publish(self.markers.build(
                [b.vertices for b in bodies], (header.stamp.sec, header.stamp.nanosec), header.frame_id,
                colors=people_colors([b.id for b in bodies])))
        tracker = self.pipeline.tracker
        self.stats.on_processed(1e3 * (time.monotonic() - job.received), len(bodies), result.default_intrinsics,
                                None if tracker is None else len(tracker.tracks))
