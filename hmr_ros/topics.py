"""The node's topic names and message types, declared once: ``hmr_node``, its demo and ``run --bag-out`` use these.

Names are relative (remap or namespace them as usual); a named camera prefixes its own (``front/image``,
``front/humans/smpl``). A recording written without ROS has no namespace, so it uses the absolute names.
"""
from __future__ import annotations

IMAGE = "image"
CAMERA_INFO = "camera_info"
SMPL = "humans/smpl"
MARKERS = "humans/smpl/markers"

SMPL_TYPE = "hmr_ros/msg/SMPLHumanArray"
MARKER_TYPE = "visualization_msgs/msg/MarkerArray"


def camera_topic(camera: str, topic: str) -> str:
    """``topic`` of the camera named ``camera`` ("" is the single unnamed camera): ``front/image`` or ``image``."""
    return f"{camera}/{topic}" if camera else topic


def absolute(topic: str) -> str:
    """``humans/smpl`` -> ``/humans/smpl``: the name in a bag written outside any namespace."""
    return "/" + topic.lstrip("/")
