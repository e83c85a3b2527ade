"""Mesh markers through the serialized fast path carry exactly what the naive Marker message would:
the same points (vertices[faces]), stamp, frame, ids, colours; DELETEALL when people vanish; and they
travel through a real rclpy publisher as bytes."""
import math
import time
import zlib

import numpy as np
import pytest

import ros_harness

ros_harness.require_ros()

import rclpy  # noqa: E402
from geometry_msgs.msg import Point  # noqa: E402
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

from hmr_ros.markers import MARKER_NS, triangle_indices  # noqa: E402
from hmr_ros.palette import PALETTE, people_colors, people_colors_u8, person_color, track_color  # noqa: E402
from hmr_ros.ros.markers import MeshMarkerWriter  # noqa: E402
from hmr_ros.render.meshes import render_meshes  # noqa: E402

V, F = 60, 100


@pytest.fixture(scope="module")
def mesh():
    rng = np.random.default_rng(0)
    faces = rng.integers(0, V, size=(F, 3))
    people = [rng.normal(size=(V, 3)).astype(np.float32) for _ in range(3)]
    return faces, people


def naive_array(people, faces, stamp, frame_id, alpha, delete_all=False) -> MarkerArray:
    """The reference: the MarkerArray built field by field with a Point per triangle corner."""
    arr = MarkerArray()
    if delete_all:
        d = Marker(action=Marker.DELETEALL, ns=MARKER_NS)
        d.header.frame_id, (d.header.stamp.sec, d.header.stamp.nanosec) = frame_id, stamp
        arr.markers.append(d)
    for i, v in enumerate(people):
        m = Marker(ns=MARKER_NS, id=i, type=Marker.TRIANGLE_LIST, action=Marker.ADD)
        m.header.frame_id, (m.header.stamp.sec, m.header.stamp.nanosec) = frame_id, stamp
        m.pose.orientation.w = 1.0
        m.scale.x = m.scale.y = m.scale.z = 1.0
        m.color.r, m.color.g, m.color.b = person_color(i)
        m.color.a = alpha
        m.points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in v[faces.reshape(-1)]]
        arr.markers.append(m)
    # through CDR once, so float32 fields (colours) hold float32-rounded values like a received message
    return deserialize_message(serialize_message(arr), MarkerArray)


def test_fast_path_equals_the_naive_message(mesh):
    faces, people = mesh
    writer = MeshMarkerWriter(faces, alpha=0.6)
    got = deserialize_message(writer.build(people, (1700000000, 123456789), "camera_optical"), MarkerArray)
    assert got == naive_array(people, faces, (1700000000, 123456789), "camera_optical", 0.6)


def test_every_frame_gets_its_own_stamp_from_the_cached_template(mesh):
    faces, people = mesh
    writer = MeshMarkerWriter(faces)
    for stamp in [(10, 0), (10, 999_999_999), (11, 5)]:
        got = deserialize_message(writer.build(people, stamp, "cam"), MarkerArray)
        assert {(m.header.stamp.sec, m.header.stamp.nanosec) for m in got.markers} == {stamp}
    assert len(writer._layouts) == 1  # one template served all three frames


def test_deleteall_leads_the_array_only_when_people_vanish(mesh):
    faces, people = mesh
    writer = MeshMarkerWriter(faces)
    actions = []
    for n in [2, 3, 3, 1, 0, 0, 2]:
        got = deserialize_message(writer.build(people[:n], (1, 0), "cam"), MarkerArray)
        actions.append([m.action for m in got.markers])
        meshes = [m for m in got.markers if m.type == Marker.TRIANGLE_LIST and m.action == Marker.ADD]
        assert [m.id for m in meshes] == list(range(n))
    assert actions == [[0, 0], [0, 0, 0], [0, 0, 0], [3, 0], [3], [], [0, 0]]
    got = deserialize_message(MeshMarkerWriter(faces).build(people[:0], (1, 0), "cam"), MarkerArray)
    assert got.markers == []


def test_deleteall_message_equals_the_naive_one(mesh):
    faces, people = mesh
    writer = MeshMarkerWriter(faces)
    writer.build(people, (5, 6), "cam")
    got = deserialize_message(writer.build(people[:1], (5, 7), "cam"), MarkerArray)
    assert got == naive_array(people[:1], faces, (5, 7), "cam", 0.8, delete_all=True)


def test_face_stride_decimates_triangles(mesh):
    faces, people = mesh
    for stride in (1, 2, 7):
        writer = MeshMarkerWriter(faces, face_stride=stride)
        got = deserialize_message(writer.build(people[:1], (0, 0), "cam"), MarkerArray)
        assert len(got.markers[0].points) == 3 * math.ceil(F / stride) == writer.points_per_mesh
        np.testing.assert_array_equal(triangle_indices(faces, stride), faces[::stride].reshape(-1))


def test_custom_colours_and_float64_vertices(mesh):
    faces, people = mesh
    writer = MeshMarkerWriter(faces)
    v64 = [people[0].astype(np.float64) + 1e-9]  # float64 input keeps its precision
    got = deserialize_message(writer.build(v64, (0, 0), "cam", colors=[(0.1, 0.2, 0.3)]), MarkerArray)
    c = got.markers[0].color
    assert (c.r, c.g, c.b) == pytest.approx((0.1, 0.2, 0.3))
    pts = np.array([[p.x, p.y, p.z] for p in got.markers[0].points])
    np.testing.assert_array_equal(pts, v64[0][faces.reshape(-1)])


def test_a_tracked_person_keeps_their_colour_whatever_their_position_in_the_list():
    ids = ["abcde", "qwert", "zzzzz", "mnbvc"]
    first = people_colors(ids)
    later = people_colors(list(reversed(ids)) + ["fresh"])
    assert [later[3 - i] for i in range(4)] == first      # same id -> same colour at another index
    assert all(c in PALETTE for c in first)
    assert track_color("abcde") == first[0]
    # the colour is a property of the id, not of this process (no salted hash): fixed value for a fixed id
    assert track_color("abcde") == PALETTE[zlib.crc32(b"abcde") % len(PALETTE)]
    assert len({track_color(i) for i in ("aaaaa", "bbbbb", "ccccc", "ddddd", "eeeee", "fffff")}) > 1


def test_people_without_an_id_are_coloured_by_index():
    assert people_colors(["", "", ""]) == [person_color(0), person_color(1), person_color(2)]
    assert people_colors(["", "abcde"]) == [person_color(0), track_color("abcde")]


@pytest.mark.parametrize("bad", [
    dict(vertices=[np.zeros((V - 10, 3))]),          # fewer vertices than the faces index
    dict(vertices=[np.zeros((V, 2))]),
    dict(vertices=[np.zeros((V, 3))], colors=[]),
    dict(vertices=[np.zeros((V, 3))], stamp=(0, 10**9)),
])
def test_bad_frames_are_value_errors(mesh, bad):
    faces, _ = mesh
    writer = MeshMarkerWriter(faces)
    args = dict(stamp=(0, 0), frame_id="cam")
    args.update(bad)
    with pytest.raises(ValueError):
        writer.build(**args)


def test_bad_construction_is_a_value_error():
    with pytest.raises(ValueError):
        MeshMarkerWriter(np.zeros((0, 3), int))
    with pytest.raises(ValueError):
        MeshMarkerWriter(np.zeros((4, 3), int), face_stride=0)
    with pytest.raises(ValueError):
        MeshMarkerWriter(np.zeros((4, 3), int), alpha=1.5)


def test_bytes_travel_through_a_real_publisher(mesh, monkeypatch):
    ros_harness.isolate_ros_environment(monkeypatch)
    faces, people = mesh
    rclpy.init()
    try:
        node = rclpy.create_node("test_markers")
        pub = node.create_publisher(MarkerArray, "markers", 10)
        received = []
        node.create_subscription(MarkerArray, "markers", received.append, 10)
        writer = MeshMarkerWriter(faces)
        deadline = time.monotonic() + 10.0
        while not received and time.monotonic() < deadline:
            pub.publish(writer.build(people, (42, 7), "cam"))
            rclpy.spin_once(node, timeout_sec=0.1)
        assert received, "no MarkerArray received within 10 s"
        assert received[0] == naive_array(people, faces, (42, 7), "cam", 0.8)
        node.destroy_node()
    finally:
        rclpy.shutdown()


def _facing_square(z):
    """Two triangles, 0.2 m wide, centred on the optical axis at depth z, facing the camera."""
    v = np.array([[-0.1, -0.1, z], [0.1, -0.1, z], [0.1, 0.1, z], [-0.1, 0.1, z]])
    return v, np.array([[0, 2, 1], [0, 3, 2]])


@pytest.mark.parametrize("ids", [[""] * (len(PALETTE) + 2), ["abcde", "", "qwert", "zzzzz"]],
                         ids=["untracked", "tracked"])
def test_the_demo_overlay_and_rviz_paint_each_person_in_the_same_colour(ids):
    """Person i of a frame: the overlay (render_meshes) and its RViz marker show one colour."""
    square, faces = _facing_square(2.0)
    behind = square * [1.0, 1.0, -1.0]  # behind the camera: keeps its index, paints nothing
    K = np.array([[100.0, 0.0, 80.0], [0.0, 100.0, 60.0], [0.0, 0.0, 1.0]])
    writer = MeshMarkerWriter(faces, alpha=1.0)
    for i in range(len(ids)):
        meshes = [behind] * i + [square] + [behind] * (len(ids) - i - 1)
        tracked = any(ids)
        # the overlay: tracked people get their track colours, untracked ones the default (by index)
        colors = people_colors_u8(ids) if tracked else None
        overlay = render_meshes(np.zeros((120, 160, 3), np.uint8), meshes, faces, K, colors=colors, alpha=1.0)
        markers = deserialize_message(
            writer.build(meshes, (0, 0), "cam", colors=people_colors(ids) if tracked else None), MarkerArray)
        m = [m for m in markers.markers if m.type == Marker.TRIANGLE_LIST][i]
        rviz_u8 = 255.0 * np.array([m.color.r, m.color.g, m.color.b])
        # flat shading truncates to uint8, so a face seen head-on may lose one level
        np.testing.assert_allclose(overlay[60, 80], rviz_u8, atol=1.0)
