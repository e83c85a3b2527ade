"""Recordings the tests write, in the real formats: an mp4 (OpenCV), a folder of PNGs, rosbag2 files in sqlite3
and MCAP (rosbags, with sensor_msgs Image / CompressedImage / CameraInfo), all of rendered synthetic people.
Shared by test/recordings and the node-vs-runner test in test/ros."""
import functools
from pathlib import Path

import cv2
import numpy as np

from hmr_ros.sim.clips import make_clip

FPS = 15.0
FRAME_ID = "front_camera_optical"


@functools.lru_cache(maxsize=1)
def walking_clip():
    """8 frames, 2 walking people, 160 x 120 (what the bundled weights were trained on)."""
    return make_clip(num_frames=8, width=160, height=120, num_people=2, fps=FPS, seed=3)


def write_video(path: Path, frames: list[np.ndarray], fps: float = FPS) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_folder(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):  # frame_2 before frame_10 only in natural order
        cv2.imwrite(str(folder / f"frame_{i}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return folder


def write_bag(path: Path, frames: list[np.ndarray], K: np.ndarray, storage: str = "sqlite3",
              compressed: bool = False, stamp0: float = 1700000000.25, corrupt: set[int] = frozenset(),
              extra_image_topic: str | None = None, with_info: bool = True,
              infos: dict[int, tuple[np.ndarray, int, int]] | None = None, stamp0_ns: int | None = None) -> Path:
    """Images on /front/image_raw (or .../compressed), CameraInfo on /front/camera_info before each image.

    ``corrupt``: indices whose image message has a wrong encoding and short data (decodes to an error).
    ``infos``: index -> (K, width, height) of the CameraInfo written before that image instead of (K, its size).
    ``stamp0_ns``: the first stamp exactly, in nanoseconds (instead of ``stamp0``, which a float rounds)."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    from hmr_ros.recordings.bag_writer import default_message

    store = get_typestore(Stores.ROS2_KILTED)
    image_type = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
    topic = "/front/image_raw/compressed" if compressed else "/front/image_raw"
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        image_conn = writer.add_connection(topic, image_type, typestore=store)
        info_conn = (writer.add_connection("/front/camera_info", "sensor_msgs/msg/CameraInfo", typestore=store)
                     if with_info else None)
        extra = writer.add_connection(extra_image_topic, image_type, typestore=store) if extra_image_topic else None
        for i, rgb in enumerate(frames):
            ns = int(round((stamp0 + i / FPS) * 1e9)) if stamp0_ns is None else stamp0_ns + int(i * 10**9 // FPS)
            header = default_message(store, "std_msgs/msg/Header")
            header.stamp.sec, header.stamp.nanosec, header.frame_id = ns // 10**9, ns % 10**9, FRAME_ID
            if with_info:
                info = default_message(store, "sensor_msgs/msg/CameraInfo")
                k, w, h = (infos or {}).get(i, (K, rgb.shape[1], rgb.shape[0]))
                info.header, info.height, info.width = header, h, w
                info.k = np.asarray(k, np.float64).reshape(9)
                writer.write(info_conn, ns, bytes(store.serialize_cdr(info, "sensor_msgs/msg/CameraInfo")))
            msg = default_message(store, image_type)
            msg.header = header
            if compressed:
                ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                msg.format, msg.data = "rgb8; png compressed bgr8", png.reshape(-1)
            else:
                msg.height, msg.width, msg.encoding, msg.step = rgb.shape[0], rgb.shape[1], "rgb8", rgb.shape[1] * 3
                msg.data = np.ascontiguousarray(rgb).reshape(-1)
                if i in corrupt:
                    msg.data = msg.data[: msg.data.size // 3]  # short data: a truncated image
            data = bytes(store.serialize_cdr(msg, image_type))
            writer.write(image_conn, ns + 1000, data)  # received a microsecond after its stamp
            if extra is not None:
                writer.write(extra, ns + 2000, data)
    return path
