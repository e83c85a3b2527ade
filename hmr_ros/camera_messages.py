"""Image / CompressedImage + CameraInfo + header -> the core's frame, without ROS: one set of rules for the node and
for every recording (a rosbag2 read by ``rosbags``), so both answer the same for the same messages.

    cameras = CameraInfoCache()
    note = cameras.update(info)                   # None, or a Note (bad or uncalibrated CameraInfo)
    frame = message_frame(msg, cameras, arrival)  # MessageFrame(rgb, stamp s, frame_id, K or None, notes)
                                                  # or InputProblem(kind, message): the frame is unusable

Messages are read by field name (``header.stamp.sec``, ``k``, ``encoding``/``format``, ``data``, ...), which
rclpy's and rosbags' messages share. The rules:

- stamp: the header's, in seconds; nanosec >= 1e9 is ``bad_stamp`` (the header is published unchanged, so it is
  not renormalised); a zero stamp (a driver that does not stamp) is the arrival time;
- image: ``image_codec`` (encodings, sizes, corrupt data: its ``kind``s);
- K: the latest good CameraInfo of the image's frame_id (``CameraInfoCache``, at most ``MAX_CAMERAS`` frame_ids);
  a broken one is ignored (``bad_camera_info``), an all-zero K is an uncalibrated camera (default intrinsics), no
  CameraInfo yet means default intrinsics (``no_camera_info``);
- a calibration for another image size (``Calibration.K_for``): scaled to the image when the aspect ratio is the
  same (the images were resized after calibration), else default intrinsics and ``camera_info_size_mismatch``.
K None always means ``hmr_ros.camera.default_intrinsics``.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from hmr_ros.camera import MAX_IMAGE_SIDE, resolve_intrinsics
from hmr_ros.image_codec import ImageDecodeError, compressed_msg_to_rgb, image_msg_to_rgb
from hmr_ros.text import printable

#: CameraInfo is kept for this many frame_ids, least recently used evicted: anyone can publish a new frame_id per
#: message, and a real robot has a handful of cameras.
MAX_CAMERAS = 64
#: Relative aspect-ratio difference up to which a calibration for another size is scaled rather than refused
#: (a 1280x720 calibration used at 854x480 differs by 0.06 %).
ASPECT_TOLERANCE = 0.01


class InputProblem(ValueError):
    """A message that cannot become a frame. ``kind`` names it in logs and diagnostics counters (``bad_stamp``,
    ``bad_camera_info``, and ``image_codec``'s ``unsupported_encoding``, ``short_data``, ``bad_size``,
    ``corrupt_compressed``)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Note:
    """Something to tell about a usable frame or CameraInfo: ``kind`` (its log/diagnostics key), ``message``
    (escaped, one line), ``level`` ("info" or "warning"), ``bad_input`` (counted as bad input in diagnostics)."""

    kind: str
    message: str
    level: str = "warning"
    bad_input: bool = False


@dataclass(frozen=True)
class Calibration:
    """A camera's intrinsics. K: (3, 3) pixels, or None for an uncalibrated camera (all-zero K in CameraInfo);
    width, height: the image size K is for (0, 0 when unknown: K is then used for any size)."""

    K: np.ndarray | None
    width: int = 0
    height: int = 0
    source: str = "CameraInfo"

    def K_for(self, width: int, height: int, where: str = "") -> tuple[np.ndarray | None, Note | None]:
        """(K for a ``width`` x ``height`` image or None for default intrinsics, a Note or None); see the module
        docstring for the size policy."""
        if self.K is None or not self.width or not self.height or (width, height) == (self.width, self.height):
            return self.K, None
        sx, sy = width / self.width, height / self.height
        what = f"{self.source}{where} is for {self.width}x{self.height} images but the image is {width}x{height}"
        if abs(sx / sy - 1.0) <= ASPECT_TOLERANCE:
            return np.diag([sx, sy, 1.0]) @ self.K, Note(
                "camera_info_scaled", f"{what}: K scaled by {sx:.4g} (same aspect ratio)", level="info")
        return None, Note("camera_info_size_mismatch", f"{what}: using default intrinsics", bad_input=True)


def stamp_seconds(stamp) -> float:
    """builtin_interfaces/Time -> seconds."""
    return stamp.sec + 1e-9 * stamp.nanosec


def check_stamp(stamp) -> None:
    """InputProblem("bad_stamp") unless 0 <= nanosec < 1e9."""
    if not 0 <= stamp.nanosec < 1_000_000_000:
        raise InputProblem("bad_stamp", f"header stamp nanosec={stamp.nanosec} is not in [0, 1e9) (sec={stamp.sec})")


def read_camera_info(info) -> Calibration:
    """A CameraInfo -> Calibration (K None for an all-zero K); InputProblem("bad_camera_info") for a broken K
    (``hmr_ros.camera.resolve_intrinsics``: NaN, non-positive or huge focal lengths, a far-off principal point)."""
    # A CameraInfo without a size (0 x 0) still bounds the principal point by the largest accepted image.
    width, height = int(info.width), int(info.height)
    try:
        K, default = resolve_intrinsics(np.array(info.k, dtype=np.float64), width or MAX_IMAGE_SIDE,
                                        height or MAX_IMAGE_SIDE)
    except ValueError as exc:
        raise InputProblem("bad_camera_info", str(exc)) from None
    return Calibration(None if default else K, width, height)


class CameraInfoCache:
    """The latest good Calibration per frame_id (at most ``MAX_CAMERAS``, least recently used evicted).
    Thread-safe: the node updates it on the executor and reads it on its worker."""

    def __init__(self, max_cameras: int = MAX_CAMERAS):
        self.max_cameras = max_cameras
        self._known: OrderedDict[str, Calibration] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._known)

    def update(self, info) -> Note | None:
        """Take a CameraInfo. A broken one is ignored (the last good K stays): Note bad_camera_info; an
        uncalibrated one replaces any K: Note uncalibrated_camera (info)."""
        frame_id = printable(info.header.frame_id)
        try:
            calib = read_camera_info(info)
        except InputProblem as exc:
            return Note(exc.kind, f"ignoring CameraInfo of '{frame_id}': {printable(exc)}", bad_input=True)
        with self._lock:
            self._known[info.header.frame_id] = calib
            self._known.move_to_end(info.header.frame_id)
            while len(self._known) > self.max_cameras:
                self._known.popitem(last=False)
        if calib.K is None:
            return Note("uncalibrated_camera", f"CameraInfo of '{frame_id}' has an all-zero K (uncalibrated "
                        "camera): using default intrinsics", level="info")
        return None

    def intrinsics(self, frame_id: str, width: int, height: int) -> tuple[np.ndarray | None, Note | None]:
        """(K for this image or None for default intrinsics, a Note or None)."""
        with self._lock:
            calib = self._known.get(frame_id)
            if calib is not None:
                self._known.move_to_end(frame_id)  # a camera in use is the last to be evicted
        if calib is None:
            return None, Note("no_camera_info", f"no CameraInfo for frame '{printable(frame_id)}' yet: using "
                              "default intrinsics")
        return calib.K_for(width, height, f" of '{printable(frame_id)}'")


@dataclass
class MessageFrame:
    """One usable image: rgb (H, W, 3) uint8, stamp (s), frame_id, K (3, 3) or None (default intrinsics), header
    (the message's, to publish unchanged) and the Notes to report."""

    rgb: np.ndarray
    stamp: float
    frame_id: str
    K: np.ndarray | None
    header: object
    notes: tuple[Note, ...] = ()


def decode_image(msg) -> np.ndarray:
    """An Image or CompressedImage (told apart by its ``format`` field) -> (H, W, 3) uint8 RGB; InputProblem with
    ``image_codec``'s kind."""
    try:
        return compressed_msg_to_rgb(msg) if hasattr(msg, "format") else image_msg_to_rgb(msg)
    except ImageDecodeError as exc:
        raise InputProblem(exc.kind, str(exc)) from None


def message_frame(msg, cameras: CameraInfoCache, arrival_s: float | None = None) -> MessageFrame:
    """An image message -> MessageFrame, with K from ``cameras``; InputProblem when it is unusable.
    ``arrival_s``: when it arrived (ROS time, or a bag's log time), the stamp of an unstamped (zero) header."""
    header = msg.header
    check_stamp(header.stamp)
    rgb = decode_image(msg)
    stamp = stamp_seconds(header.stamp)
    if stamp == 0.0 and arrival_s is not None:
        stamp = arrival_s
    K, note = cameras.intrinsics(header.frame_id, rgb.shape[1], rgb.shape[0])
    return MessageFrame(rgb, stamp, header.frame_id, K, header, (note,) if note else ())
