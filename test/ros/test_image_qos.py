"""image_qos: 'auto' subscribes reliable exactly when every publisher is reliable (a reliable subscription would
not match a best-effort publisher; a best-effort one loses large images of a reliable publisher)."""
import pytest

import ros_harness

ros_harness.require_ros()

from rclpy.qos import HistoryPolicy, ReliabilityPolicy  # noqa: E402

from hmr_ros.ros.image_qos import IMAGE_DEPTH, choose_reliability, image_profile  # noqa: E402

R, B = ReliabilityPolicy.RELIABLE, ReliabilityPolicy.BEST_EFFORT


@pytest.mark.parametrize("choice,publishers,expected", [
    ("auto", [], B), ("auto", [R], R), ("auto", [R, R], R), ("auto", [R, B], B), ("auto", [B], B),
    ("reliable", [B], R), ("best_effort", [R], B),
])
def test_choice(choice, publishers, expected):
    assert choose_reliability(choice, publishers) == expected


def test_unknown_choice_and_profile():
    with pytest.raises(ValueError, match="image_qos"):
        choose_reliability("fast", [])
    qos = image_profile(R)
    assert qos.depth == IMAGE_DEPTH and qos.history == HistoryPolicy.KEEP_LAST and qos.reliability == R
