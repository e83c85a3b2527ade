"""Frames from recordings, without ROS: a video file, a folder of images, or a rosbag2 (sqlite3 or MCAP).

    with open_source("walk.mp4") as source:          # or "frames/", or "run.mcap" / a bag directory
        for frame in source:                         # SourceFrame: index, stamp (s), frame_id, rgb or error, K
            ...

A frame that cannot be used (an unreadable image file, a corrupt or unsupported image message) comes back with
``rgb=None`` and ``error`` saying why, so the caller reports and skips it; the recording itself being unreadable
raises ``RecordingError`` at ``open_source``.
"""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from hmr_ros.camera_messages import CameraInfoCache, InputProblem, Note, message_frame, stamp_seconds
from hmr_ros.text import printable

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")
DEFAULT_FPS = 30.0          # stamps of an image folder, and of a video whose container gives none
DEFAULT_FRAME_ID = "camera"
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"


class RecordingError(ValueError):
    """The recording cannot be read at all (missing, not a video/folder/bag, no image topic, ...)."""


@dataclass
class SourceFrame:
    """One frame of a recording.

    index: position in the recording (0-based; unusable frames count too). stamp: seconds (the bag's header stamp,
    the video's position, or index / fps). frame_id: the camera frame. rgb: (H, W, 3) uint8 RGB, or None when
    ``error`` says why the frame is unusable. K: (3, 3) intrinsics the recording gives for this frame (a bag's
    CameraInfo, by the node's rules: ``hmr_ros.camera_messages``), or None. notes: what to tell about it (a
    CameraInfo ignored, scaled or for another size, ...). header: a bag image's (sec, nanosec, frame_id) as
    recorded, which result bags repeat exactly as the node does (a float ``stamp`` loses nanoseconds at epoch
    times, and an empty frame_id or zero stamp is the publisher's to keep); None for videos and folders.
    """

    index: int
    stamp: float
    frame_id: str
    rgb: np.ndarray | None
    K: np.ndarray | None = None
    error: str | None = None
    notes: tuple[Note, ...] = ()
    header: tuple[int, int, str] | None = None


class Source(ABC):
    """A recording: iterate for ``SourceFrame``s; ``description`` and ``frame_count`` (None if unknown) for
    progress; a context manager that closes its files."""

    description = ""
    frame_count: int | None = None

    @abstractmethod
    def __iter__(self) -> Iterator[SourceFrame]:
        """The frames, in recording order."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _natural_key(path: Path) -> list:
    """frame_2.png before frame_10.png."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


class FolderSource(Source):
    """Every image file of a folder in natural order (frame_2 before frame_10); stamps index / fps."""

    def __init__(self, folder: Path, fps: float, frame_id: str):
        self.files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
        if not self.files:
            raise RecordingError(f"{folder} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
        self.fps, self.frame_id = fps, frame_id
        self.frame_count = len(self.files)
        self.description = f"image folder {folder} ({len(self.files)} images at {fps:g} fps)"

    def __iter__(self) -> Iterator[SourceFrame]:
        for i, path in enumerate(self.files):
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None or bgr.size == 0:
                yield SourceFrame(i, i / self.fps, self.frame_id, None, error=f"{path.name}: not a readable image")
                continue
            yield SourceFrame(i, i / self.fps, self.frame_id, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


class VideoSource(Source):
    """A video file OpenCV can read; stamps index / fps (the container's frame rate unless ``fps`` is given:
    container timestamps of the same file differ between OpenCV's backends, frame counts do not)."""

    def __init__(self, path: Path, fps: float | None, frame_id: str):
        self.capture = cv2.VideoCapture(str(path))
        if not self.capture.isOpened():
            raise RecordingError(f"OpenCV cannot open {path} as a video")
        native = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps or (native if native and np.isfinite(native) and native > 0 else DEFAULT_FPS)
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = count if count > 0 else None
        self.frame_id = frame_id
        self.description = f"video {path} ({count if count > 0 else '?'} frames at {self.fps:g} fps)"

    def __iter__(self) -> Iterator[SourceFrame]:
        i = 0
        while True:
            ok, bgr = self.capture.read()
            if not ok:
                return
            yield SourceFrame(i, i / self.fps, self.frame_id, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            i += 1

    def close(self) -> None:
        self.capture.release()


def _pick_topic(topics: dict[str, str], wanted: str | None, types: tuple[str, ...], what: str,
                near: str | None = None) -> str | None:
    """The topic to read: ``wanted`` (checked), else the only one of ``types``, else the one in ``near``'s
    namespace; None when there is none (RecordingError when it is ambiguous or wrong)."""
    if wanted:
        if wanted not in topics:
            raise RecordingError(f"the bag has no topic {wanted}; its topics: {_listing(topics)}")
        if topics[wanted] not in types:
            raise RecordingError(f"{wanted} is a {topics[wanted]}, not a {' or '.join(types)}")
        return wanted
    found = sorted(t for t, ty in topics.items() if ty in types)
    if len(found) > 1 and near:
        ns = near.rsplit("/", 1)[0]
        same = [t for t in found if t.rsplit("/", 1)[0] == ns]
        found = same if len(same) == 1 else found
    if len(found) > 1:
        raise RecordingError(f"the bag has several {what} topics ({', '.join(found)}); choose one with "
                             f"--{what.replace(' ', '-')}-topic")
    return found[0] if found else None


def _listing(topics: dict[str, str]) -> str:
    return ", ".join(f"{t} ({ty})" for t, ty in sorted(topics.items())) or "none"


class BagSource(Source):
    """Image (or CompressedImage) messages of one topic of a rosbag2, turned into frames by the node's rules
    (``hmr_ros.camera_messages``: stamps, decoding, the latest good CameraInfo of the frame_id, the size policy),
    so ``run`` on a bag answers as the node fed the same messages. An unstamped header takes the bag's log time.
    """

    def __init__(self, path: Path, image_topic: str | None, camera_info_topic: str | None):
        from rosbags.highlevel import AnyReader

        try:
            self.reader = AnyReader([path])
            self.reader.open()
        except Exception as e:  # rosbags raises its own error types for every unreadable bag
            raise RecordingError(f"cannot read {path} as a rosbag2: {printable(e, 300)}") from None
        topics = {c.topic: c.msgtype for c in self.reader.connections}
        self.image_topic = _pick_topic(topics, image_topic, IMAGE_TYPES, "image")
        if self.image_topic is None:
            self.reader.close()
            raise RecordingError(f"{path} has no Image or CompressedImage topic; its topics: {_listing(topics)}")
        self.info_topic = _pick_topic(topics, camera_info_topic, (CAMERA_INFO_TYPE,), "camera info",
                                      near=self.image_topic)
        wanted = {self.image_topic, self.info_topic}
        self.connections = [c for c in self.reader.connections if c.topic in wanted]
        self.frame_count = sum(c.msgcount for c in self.connections if c.topic == self.image_topic)
        self.description = (f"bag {path}: {self.image_topic} ({self.frame_count} messages)"
                            + (f", K from {self.info_topic}" if self.info_topic else ", no CameraInfo topic"))

    def __iter__(self) -> Iterator[SourceFrame]:
        cameras, notes = CameraInfoCache(), []
        i = 0
        for connection, timestamp, raw in self.reader.messages(connections=self.connections):
            try:
                msg = self.reader.deserialize(raw, connection.msgtype)
            except Exception as e:  # a truncated or corrupt CDR payload
                if connection.topic == self.image_topic:
                    yield SourceFrame(i, timestamp * 1e-9, DEFAULT_FRAME_ID, None,
                                      error=f"message {i} on {connection.topic} cannot be deserialised "
                                            f"({type(e).__name__}: {printable(e, 200)})")
                    i += 1
                continue
            if connection.topic == self.info_topic:
                note = cameras.update(msg)
                notes += [note] if note else []  # told with the next frame
                continue
            try:
                f = message_frame(msg, cameras, timestamp * 1e-9)
                # writable and contiguous: an rgb8 image is a view into the bag's read-only message buffer
                yield SourceFrame(i, f.stamp, f.frame_id or DEFAULT_FRAME_ID, np.require(f.rgb, requirements="CW"),
                                  f.K, notes=tuple(notes) + f.notes,
                                  header=(f.header.stamp.sec, f.header.stamp.nanosec, f.header.frame_id))
            except InputProblem as e:
                stamp = stamp_seconds(msg.header.stamp) or timestamp * 1e-9
                yield SourceFrame(i, stamp, msg.header.frame_id or DEFAULT_FRAME_ID, None, notes=tuple(notes),
                                  error=f"message {i}: {e.kind}: {printable(e, 200)}")
            notes = []
            i += 1

    def close(self) -> None:
        self.reader.close()


def is_bag(path: Path) -> bool:
    """A rosbag2 directory (metadata.yaml, or .db3/.mcap files) or a single .mcap/.db3 file."""
    if path.is_dir():
        return (path / "metadata.yaml").is_file() or any(path.glob("*.db3")) or any(path.glob("*.mcap"))
    return path.suffix in (".mcap", ".db3")


def open_source(path: str | Path, fps: float | None = None, frame_id: str = DEFAULT_FRAME_ID,
                image_topic: str | None = None, camera_info_topic: str | None = None) -> Source:
    """The recording at ``path``: a rosbag2 (directory, .mcap or .db3), an image folder, or a video file.

    ``fps`` sets an image folder's stamps (default 30) or overrides a video's; ``frame_id`` names the camera frame
    of videos and folders (bags carry their own). ``image_topic``/``camera_info_topic`` choose bag topics (default:
    the only one of its type, or the CameraInfo beside the image topic).
    """
    path = Path(path)
    if not path.exists():
        raise RecordingError(f"{path} does not exist")
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise RecordingError(f"--fps must be a positive number, got {fps}")
    if is_bag(path):
        return BagSource(path, image_topic, camera_info_topic)
    if path.is_dir():
        return FolderSource(path, fps or DEFAULT_FPS, frame_id)
    return VideoSource(path, fps, frame_id)
