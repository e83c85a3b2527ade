"""Mesh markers of the reconstructed people, without ROS: namespace, opacity, TRIANGLE_LIST point order, and the
CDR splicing that serialises a ``visualization_msgs/MarkerArray`` without a Python object per point.

A TRIANGLE_LIST of one SMPL mesh is 41,328 ``geometry_msgs/Point``; building those as Python objects costs
54-96 ms per person and ``publish(Marker)`` another 16 ms. Instead the MarkerArray is serialized once per
layout (frame_id, people count, colours) with a one-point sentinel mesh per person, and every frame only
the stamps and the point blocks are written into that CDR image (about 1 ms for an SMPL mesh).

Why splicing is valid: in CDR a sequence is a uint32 count followed by its elements aligned to their
type. A Point is three float64, 24 bytes, so replacing one point by N points shifts everything after it
by 24 (N - 1) bytes, a multiple of 8 (the largest alignment in a Marker): the bytes that follow keep
their alignment and are copied unchanged.

``SplicedMarkers`` does the splicing; a subclass serialises the one-point template with its ROS library: the node's
``ros/markers.MeshMarkerWriter`` with rclpy, the recording runner's result bag (``recordings/bag_writer.py``) with
rosbags. So both write the same markers.
"""
from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from hmr_ros.palette import person_color

MARKER_NS = "hmr_meshes"
MARKER_ALPHA = 0.8  # the node's default marker_alpha

_POINT = np.dtype((np.void, 24))  # a geometry_msgs/Point in CDR: three little-endian float64
STAMP_SENTINEL = (0x5A3C2D1E, 0x1A2B3C4D)  # (sec, nanosec) values no real header of ours carries


def sentinel_point(i: int) -> tuple[float, float, float]:
    return (1234567.890625 + i, -7654321.5, 3.0517578125e-05)


def triangle_indices(faces: np.ndarray, face_stride: int = 1) -> np.ndarray:
    """Vertex index per TRIANGLE_LIST point.

    Args:
        faces: (F, 3) integer triangle indices.
        face_stride: keep every ``face_stride``-th triangle (1 = the full mesh), a cheap decimation for
            weak RViz clients: the mesh becomes sparse but keeps its shape and extent.
    Returns:
        (3 * ceil(F / face_stride),) int64 indices into the vertex array.
    """
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.shape[0] == 0:
        raise ValueError(f"faces must have shape (F, 3) with F > 0, got {faces.shape}")
    if face_stride < 1:
        raise ValueError(f"face_stride must be >= 1, got {face_stride}")
    return np.ascontiguousarray(faces[::face_stride].reshape(-1), dtype=np.int64)


@dataclass(frozen=True)
class _Layout:
    """A serialized MarkerArray template cut at its point blocks.

    ``chunks[i]`` is the constant CDR between point block i-1 and i (``chunks[n]`` the tail); every
    points-sequence count in it already holds the points per mesh. ``stamps[i]`` lists the offsets, within
    ``chunks[i]``, of the (sec, nanosec) pairs of marker headers to fill in per frame.
    """

    chunks: tuple[bytes, ...]
    stamps: tuple[tuple[int, ...], ...]


class SplicedMarkers(ABC):
    """Builds serialized ``visualization_msgs/MarkerArray`` messages: one TRIANGLE_LIST per person.

    Subclasses implement ``template``: the CDR bytes of the one-point MarkerArray of a layout, serialised with their
    ROS library (rclpy in the node, rosbags in the result bag).

    The array starts with a DELETEALL for ``ns`` whenever fewer people are published than in the previous
    call, so the meshes of people who vanished disappear; marker ids are the person indices 0..n-1.

    Args:
        faces: (F, 3) triangle indices of the body model.
        face_stride: publish every n-th triangle (see ``triangle_indices``).
        alpha: mesh opacity in [0, 1].
        ns: marker namespace.
    """

    def __init__(self, faces: np.ndarray, face_stride: int = 1, alpha: float = 0.8, ns: str = MARKER_NS):
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.indices = triangle_indices(faces, face_stride)
        self.min_vertices = int(self.indices.max()) + 1
        self.alpha = float(alpha)
        self.ns = ns
        self._layouts: dict[tuple, _Layout] = {}
        self._previous_count = 0
        self._points = np.empty((0, 0), dtype=_POINT)  # reused per-frame point blocks (avoids page faults)

    @property
    def points_per_mesh(self) -> int:
        """TRIANGLE_LIST points per person (3 per published triangle)."""
        return int(self.indices.size)

    def build(self, vertices, stamp: tuple[int, int], frame_id: str, colors=None) -> bytes:
        """Serialize the MarkerArray of one frame.

        Args:
            vertices: per person (V, 3) vertices in metres in ``frame_id`` (a list, or an (N, V, 3) array).
            stamp: (sec, nanosec) of the source image header.
            frame_id: the source image's frame.
            colors: per person RGB in [0, 1]; default ``person_color(i)``.
        Returns:
            CDR bytes of a ``visualization_msgs/MarkerArray``, ready for ``Publisher.publish``.
        """
        sec, nsec = int(stamp[0]), int(stamp[1])
        if not (-2**31 <= sec < 2**31 and 0 <= nsec < 10**9):
            raise ValueError(f"stamp must be (int32 sec, 0 <= nanosec < 1e9), got {stamp}")
        n = len(vertices)
        if colors is None:
            colors = [person_color(i) for i in range(n)]
        colors = tuple(tuple(float(c) for c in rgb) for rgb in colors)
        if len(colors) != n:
            raise ValueError(f"got {len(colors)} colours for {n} people")
        for i in range(n):
            shape = np.shape(vertices[i])
            if len(shape) != 2 or shape[1] != 3 or shape[0] < self.min_vertices:
                raise ValueError(f"person {i}: vertices must have shape (V >= {self.min_vertices}, 3), got {shape}")
        layout = self._layout(n, frame_id, colors, delete_all=n < self._previous_count)
        self._previous_count = n

        stamp_bytes = struct.pack("<iI", sec, nsec)
        m = self.indices.size
        if self._points.shape[0] < n or self._points.shape[1] != m:
            self._points = np.empty((n, m), dtype=_POINT)
        parts = []
        for i, chunk in enumerate(layout.chunks):
            if layout.stamps[i]:
                chunk = bytearray(chunk)
                for off in layout.stamps[i]:
                    chunk[off:off + 8] = stamp_bytes
            parts.append(chunk)
            if i < n:
                # one 24-byte item per point: a single gather of whole xyz triples, written in place
                xyz = np.ascontiguousarray(vertices[i], dtype="<f8").view(_POINT).reshape(-1)
                np.take(xyz, self.indices, out=self._points[i])
                parts.append(self._points[i])
        return b"".join(parts)

    # -- templates ------------------------------------------------------------------------------------------
    def _layout(self, n: int, frame_id: str, colors: tuple, delete_all: bool) -> _Layout:
        key = (n, frame_id, colors, delete_all)
        layout = self._layouts.get(key)
        if layout is None:
            if len(self._layouts) > 64:  # frame ids / colour sets change rarely; bound the cache anyway
                self._layouts.clear()
            layout = self._layouts[key] = self._make_layout(n, frame_id, colors, delete_all)
        return layout

    @abstractmethod
    def template(self, n: int, frame_id: str, colors: tuple, delete_all: bool) -> tuple[bytes, int]:
        """(CDR of the MarkerArray, its marker count): a DELETEALL marker first when ``delete_all``, then per person
        i a TRIANGLE_LIST ADD marker (ns, id i, identity pose, scale 1, colour ``colors[i]`` with ``self.alpha``)
        whose only point is ``sentinel_point(i)``; every header stamped ``STAMP_SENTINEL`` in ``frame_id``."""

    def _make_layout(self, n: int, frame_id: str, colors: tuple, delete_all: bool) -> _Layout:
        cdr, marker_count = self.template(n, frame_id, colors, delete_all)
        count = struct.pack("<I", self.points_per_mesh)
        cuts, chunks, start = [], [], 0
        for i in range(n):
            at = _find_once(cdr, struct.pack("<3d", *sentinel_point(i)), f"sentinel point {i}")
            # the sequence count (uint32 1) sits right before the data, or 4 bytes earlier when the
            # float64 data needed alignment padding
            c = at - 4 if cdr[at - 4:at] == struct.pack("<I", 1) else at - 8
            if cdr[c:c + 4] != struct.pack("<I", 1):
                raise RuntimeError("unexpected CDR layout of Marker.points (no sequence count before the data)")
            chunks.append(cdr[start:c] + count + cdr[c + 4:at])
            cuts.append(start)
            start = at + 24
        chunks.append(cdr[start:])
        cuts.append(start)

        sentinel = struct.pack("<II", *STAMP_SENTINEL)
        stamps: list[list[int]] = [[] for _ in chunks]
        found, at = 0, cdr.find(sentinel)
        while at >= 0:
            k = max(j for j, s in enumerate(cuts) if s <= at)
            stamps[k].append(at - cuts[k])
            found += 1
            at = cdr.find(sentinel, at + 8)
        if found != marker_count:
            raise RuntimeError(f"found {found} header stamps in a MarkerArray of {marker_count} markers")
        return _Layout(tuple(chunks), tuple(tuple(s) for s in stamps))


def _find_once(data: bytes, pattern: bytes, what: str) -> int:
    at = data.find(pattern)
    if at < 0 or data.find(pattern, at + 1) >= 0:
        raise RuntimeError(f"{what} is not unique in the serialized template")
    return at
