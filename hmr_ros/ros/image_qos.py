"""Which reliability the image subscription uses (parameter ``image_qos``) and the QoS profiles it builds.

Why it matters: a best-effort subscription matches every publisher, but Fast DDS gives a best-effort sample that
does not fit its shared-memory segment (~0.5 MB: a 640x480 rgb8 image is 0.9 MB) no retransmission of lost
fragments, so ordinary camera images from a reliable publisher on the same machine never arrived. A reliable
subscription gets them from a reliable publisher, but does not match a best-effort one. ``auto`` therefore follows
the publishers, as rosbag2 does when it records: reliable when every publisher on the topic is reliable, else best
effort. docs/ros.md ("Large images") has the Fast DDS profile for large images from best-effort publishers.
"""
from __future__ import annotations

from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

CHOICES = ("auto", "best_effort", "reliable")


def choose_reliability(choice: str, publishers: list[ReliabilityPolicy]) -> ReliabilityPolicy:
    """The subscription's reliability for ``image_qos`` = ``choice`` given the reliability of each publisher on the
    topic (``auto`` with no publisher yet: best effort, which matches whatever comes first)."""
    if choice == "reliable":
        return ReliabilityPolicy.RELIABLE
    if choice == "best_effort":
        return ReliabilityPolicy.BEST_EFFORT
    if choice != "auto":
        raise ValueError(f"image_qos: expected one of {CHOICES}, got {choice!r}")
    if publishers and all(p == ReliabilityPolicy.RELIABLE for p in publishers):
        return ReliabilityPolicy.RELIABLE
    return ReliabilityPolicy.BEST_EFFORT


#: Images the subscription's history holds. The callback only moves the newest into the node's single slot, so this
#: adds no latency; it absorbs the executor's pauses (a 6 MB 1080p sample takes a while to deserialise in Python),
#: which with depth 1 lost ~1 in 6 images at 10 Hz before the callback ever saw them.
IMAGE_DEPTH = 4


def image_profile(reliability: ReliabilityPolicy) -> QoSProfile:
    """Keep-last ``IMAGE_DEPTH`` with the given reliability."""
    return QoSProfile(depth=IMAGE_DEPTH, history=HistoryPolicy.KEEP_LAST, reliability=reliability)


def reliability_name(reliability: ReliabilityPolicy) -> str:
    return "reliable" if reliability == ReliabilityPolicy.RELIABLE else "best effort"
