"""RViz mesh markers for the reconstructed people, serialized without per-point Python objects.

The splicing (``hmr_ros.markers.SplicedMarkers``) is ROS-free; this writer serialises its one-point template with
rclpy, and the node publishes the bytes as they are (``Publisher.publish(bytes)``, about 1 ms for an SMPL mesh).
"""
from __future__ import annotations

from rclpy.serialization import serialize_message
from geometry_msgs.msg import Point
from visualization_msgs.msg import Marker, MarkerArray

from hmr_ros.markers import STAMP_SENTINEL, SplicedMarkers, sentinel_point


class MeshMarkerWriter(SplicedMarkers):
    """``SplicedMarkers`` whose template is an rclpy ``MarkerArray`` (see ``SplicedMarkers.template``)."""

    def template(self, n: int, frame_id: str, colors: tuple, delete_all: bool) -> tuple[bytes, int]:
        array = MarkerArray()
        if delete_all:
            array.markers.append(self._marker(frame_id, Marker.DELETEALL, 0))
        for i, rgb in enumerate(colors):
            mk = self._marker(frame_id, Marker.ADD, i)
            mk.type = Marker.TRIANGLE_LIST
            mk.pose.orientation.w = 1.0
            mk.scale.x = mk.scale.y = mk.scale.z = 1.0
            mk.color.r, mk.color.g, mk.color.b = rgb
            mk.color.a = self.alpha
            x, y, z = sentinel_point(i)
            mk.points = [Point(x=x, y=y, z=z)]
            array.markers.append(mk)
        return serialize_message(array), len(array.markers)

    def _marker(self, frame_id: str, action: int, marker_id: int) -> Marker:
        mk = Marker()
        mk.header.frame_id = frame_id
        mk.header.stamp.sec, mk.header.stamp.nanosec = STAMP_SENTINEL
        mk.ns = self.ns
        mk.id = marker_id
        mk.action = action
        return mk
