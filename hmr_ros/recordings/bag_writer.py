"""``--bag-out``: the results as a rosbag2 (MCAP) that plays back into RViz or Foxglove beside the input, without
ROS: ``/humans/smpl`` (``hmr_ros/msg/SMPLHumanArray``, the type registered from this package's ``msg/`` text) and
``/humans/smpl/markers`` (``visualization_msgs/msg/MarkerArray``, one TRIANGLE_LIST per person like the node's).

Messages are built with ``rosbags``' typestore (ROS 2 Kilted definitions) and CDR-serialised by it; the mesh markers
through the node's splicing (``hmr_ros.markers.SplicedMarkers``: no Python object per point). Each message is logged
at the stamp of the source image, and its header carries that stamp and the image's frame_id, as the node's do.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hmr_ros import topics
from hmr_ros.bodies import Body
from hmr_ros.markers import MARKER_ALPHA, MARKER_NS, STAMP_SENTINEL, SplicedMarkers, sentinel_point
from hmr_ros.palette import people_colors
from hmr_ros.recordings.sources import SourceFrame
from hmr_ros.smpl_human import fill_smpl_human

SMPL_TOPIC = topics.absolute(topics.SMPL)
MARKER_TOPIC = topics.absolute(topics.MARKERS)
SMPL_TYPE, MARKER_TYPE = topics.SMPL_TYPE, topics.MARKER_TYPE
MESSAGES = ("SMPLHuman", "SMPLHumanArray")


def message_dir() -> Path:
    """This package's ``msg/`` folder: beside the sources in a checkout, or ``share/hmr_ros/msg`` of a colcon
    install (``AMENT_PREFIX_PATH``)."""
    candidates = [Path(__file__).resolve().parents[2] / "msg"]
    candidates += [Path(p) / "share" / "hmr_ros" / "msg" for p in os.environ.get("AMENT_PREFIX_PATH", "").split(":") if p]
    for folder in candidates:
        if all((folder / f"{m}.msg").is_file() for m in MESSAGES):
            return folder
    raise FileNotFoundError("cannot find hmr_ros's msg/SMPLHumanArray.msg (looked in "
                            f"{', '.join(str(c) for c in candidates)}); run from a checkout or a colcon install")


def typestore():
    """ROS 2 Kilted's types plus hmr_ros's messages, from their .msg text."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    folder = message_dir()
    types = {}
    for name in MESSAGES:
        types.update(get_types_from_msg((folder / f"{name}.msg").read_text(), f"hmr_ros/msg/{name}"))
    store.register(types)
    return store


def default_message(store, typename: str):
    """An instance of ``typename`` with every field zero/empty, like a ROS message's default constructor."""
    from rosbags.typesys.base import Nodetype

    def value(node):
        kind, detail = node
        if kind == Nodetype.NAME:
            return default_message(store, detail)
        if kind == Nodetype.BASE:
            base = detail[0]
            return "" if base == "string" else False if base == "bool" else 0.0 if base.startswith("float") else 0
        inner, length = detail
        if inner[0] == Nodetype.BASE and inner[1][0] not in ("string", "bool"):
            dtype = {"byte": "uint8", "char": "uint8"}.get(inner[1][0], inner[1][0])
            return np.zeros(length if kind == Nodetype.ARRAY else 0, dtype=np.dtype(dtype))
        return [value(inner) for _ in range(length if kind == Nodetype.ARRAY else 0)]

    _, fields = store.fielddefs[typename]
    return store.types[typename](**{name: value(node) for name, node in fields})


class BagMarkers(SplicedMarkers):
    """``SplicedMarkers`` whose template is serialised by rosbags (see ``SplicedMarkers.template``)."""

    def __init__(self, store, faces: np.ndarray, face_stride: int = 1):
        super().__init__(faces, face_stride, MARKER_ALPHA, MARKER_NS)
        self.store = store

    def template(self, n: int, frame_id: str, colors: tuple, delete_all: bool) -> tuple[bytes, int]:
        s = self.store
        Marker, Point = s.types["visualization_msgs/msg/Marker"], s.types["geometry_msgs/msg/Point"]

        def marker(action: int, marker_id: int):
            mk = default_message(s, "visualization_msgs/msg/Marker")
            mk.header.stamp.sec, mk.header.stamp.nanosec = STAMP_SENTINEL
            mk.header.frame_id, mk.ns, mk.id, mk.action = frame_id, self.ns, marker_id, action
            return mk

        markers = [marker(Marker.DELETEALL, 0)] if delete_all else []
        for i, rgb in enumerate(colors):
            mk = marker(Marker.ADD, i)
            mk.type = Marker.TRIANGLE_LIST
            mk.pose.orientation.w = 1.0
            mk.scale.x = mk.scale.y = mk.scale.z = 1.0
            mk.color.r, mk.color.g, mk.color.b, mk.color.a = (*rgb, self.alpha)
            x, y, z = sentinel_point(i)
            mk.points = [Point(x=x, y=y, z=z)]
            markers.append(mk)
        array = default_message(s, MARKER_TYPE)
        array.markers = markers
        return bytes(s.serialize_cdr(array, MARKER_TYPE)), len(markers)


class ResultBag:
    """A rosbag2 (MCAP) at ``path`` with the two result topics.

    Args:
        path: the bag directory to create (must not exist).
        faces: (F, 3) body-model triangles; face_stride: keep every n-th triangle (as the node's parameter).
        body_model: name written into ``SMPLHumanArray.body_model``.
    """

    def __init__(self, path: Path, faces: np.ndarray, body_model: str, face_stride: int = 1):
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.store = typestore()
        self.marker_writer = BagMarkers(self.store, faces, face_stride)
        self.body_model = body_model
        self.writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
        self.writer.open()
        self.smpl = self.writer.add_connection(SMPL_TOPIC, SMPL_TYPE, typestore=self.store)
        self.markers = self.writer.add_connection(MARKER_TOPIC, MARKER_TYPE, typestore=self.store)
        self.messages = 0

    def _header(self, frame: SourceFrame):
        header = default_message(self.store, "std_msgs/msg/Header")
        ns = int(round(frame.stamp * 1e9))  # the log time: when the frame was taken
        if frame.header is not None:        # a bag image: its header unchanged, as the node publishes it
            header.stamp.sec, header.stamp.nanosec, header.frame_id = frame.header
        else:
            header.stamp.sec, header.stamp.nanosec = ns // 10**9, ns % 10**9
            header.frame_id = frame.frame_id
        return header, ns

    def skip(self, frame: SourceFrame, reason: str) -> None:
        pass  # nothing was computed for it: the node publishes nothing for an unusable image either

    def write(self, frame: SourceFrame, bodies: list[Body], K: np.ndarray | None = None) -> None:
        header, ns = self._header(frame)
        h, w = frame.rgb.shape[:2]
        array = default_message(self.store, SMPL_TYPE)
        array.header, array.body_model = header, self.body_model
        array.humans = [self._human(b, w, h) for b in bodies]
        self.writer.write(self.smpl, ns, bytes(self.store.serialize_cdr(array, SMPL_TYPE)))
        markers = self.marker_writer.build([b.vertices for b in bodies], (header.stamp.sec, header.stamp.nanosec),
                                           header.frame_id, colors=people_colors([b.id for b in bodies]))
        self.writer.write(self.markers, ns, markers)
        self.messages += 2

    def _human(self, body: Body, width: int, height: int):
        return fill_smpl_human(default_message(self.store, "hmr_ros/msg/SMPLHuman"), body, width, height,
                               self.store.types["geometry_msgs/msg/Point"])

    def close(self) -> None:
        self.writer.close()
