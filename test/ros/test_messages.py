"""Body -> SMPLHumanArray conversion keeps every value, the source header and the units; ROIs are clipped
to the image; the JSON form holds the same numbers; messages survive real CDR serialization."""
import json

import numpy as np
import pytest

import ros_harness

ros_harness.require_ros()

from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from hmr_ros.bodies import Body  # noqa: E402
from hmr_ros.msg import SMPLHumanArray  # noqa: E402
from hmr_ros.pipeline import order_bodies  # noqa: E402
from hmr_ros.ros.messages import (body_to_msg, bodies_to_msg, box_to_roi,  # noqa: E402
                                  smpl_array_to_dict)


def make_body(seed: int, score: float, box=(10.0, 20.0, 110.0, 220.0), track="") -> Body:
    rng = np.random.default_rng(seed)
    f = lambda *s: rng.normal(size=s).astype(np.float32)  # noqa: E731
    return Body(score=score, box=np.asarray(box, np.float32), center=np.array([60.0, 120.0], np.float32),
                betas=f(10), global_orient=f(3), body_pose=f(69), translation=f(3), joints=f(24, 3),
                vertices=f(30, 3), token=None, id=track)


@pytest.fixture
def header():
    h = Header(frame_id="camera_color_optical_frame")
    h.stamp.sec, h.stamp.nanosec = 1700000123, 456000000
    return h


def test_every_parameter_is_copied(header):
    body = make_body(0, 0.75, track="7")
    h = body_to_msg(body, 640, 480)
    assert h.id == "7" and h.score == pytest.approx(0.75)
    np.testing.assert_array_equal(h.betas, body.betas)
    np.testing.assert_array_equal(h.global_orient, body.global_orient)
    np.testing.assert_array_equal(h.body_pose, body.body_pose)
    assert [h.translation.x, h.translation.y, h.translation.z] == pytest.approx(body.translation.tolist())
    np.testing.assert_allclose([[p.x, p.y, p.z] for p in h.joints], body.joints, rtol=0, atol=0)
    assert (h.roi.x_offset, h.roi.y_offset, h.roi.width, h.roi.height) == (10, 20, 100, 200)


def test_array_keeps_the_source_header_and_survives_cdr(header):
    bodies = [make_body(1, 0.9), make_body(2, 0.4)]
    msg = bodies_to_msg(bodies, header, "procedural", 640, 480)
    back = deserialize_message(serialize_message(msg), SMPLHumanArray)
    assert back.header.frame_id == "camera_color_optical_frame"
    assert (back.header.stamp.sec, back.header.stamp.nanosec) == (1700000123, 456000000)
    assert back.body_model == "procedural"
    assert len(back.humans) == 2
    np.testing.assert_array_equal(back.humans[1].body_pose, bodies[1].body_pose)


def test_empty_frame_is_an_empty_array(header):
    msg = bodies_to_msg([], header, "procedural", 640, 480)
    assert msg.humans == [] and msg.header.frame_id == header.frame_id


def test_order_is_highest_score_first():
    bodies = [make_body(i, s) for i, s in enumerate([0.3, 0.9, 0.5])]
    assert [b.score for b in order_bodies(bodies)] == [0.9, 0.5, 0.3]


@pytest.mark.parametrize("box,expected", [
    ((-5.0, -8.0, 50.2, 60.7), (0, 0, 51, 61)),           # clipped at the top-left, rounded outwards
    ((600.5, 400.0, 700.0, 900.0), (600, 400, 40, 80)),   # clipped at the bottom-right
    ((700.0, 500.0, 800.0, 600.0), (640, 480, 0, 0)),     # fully outside: empty
    ((np.nan, 0.0, 10.0, 10.0), (0, 0, 10, 10)),          # non-finite corners fall back to 0
])
def test_roi_is_clipped_to_the_image(box, expected):
    roi = box_to_roi(np.array(box), 640, 480)
    assert (roi.x_offset, roi.y_offset, roi.width, roi.height) == expected


def test_wrong_shapes_are_value_errors():
    body = make_body(3, 0.5)
    body.body_pose = np.zeros(66, np.float32)
    with pytest.raises(ValueError, match="body_pose"):
        body_to_msg(body, 640, 480)


def test_json_form_holds_the_same_numbers(header):
    bodies = [make_body(4, 0.8, track="a")]
    d = json.loads(json.dumps(smpl_array_to_dict(bodies_to_msg(bodies, header, "procedural", 640, 480))))
    assert d["header"] == {"stamp": {"sec": 1700000123, "nanosec": 456000000},
                           "frame_id": "camera_color_optical_frame"}
    h = d["humans"][0]
    assert h["id"] == "a" and len(h["betas"]) == 10 and len(h["body_pose"]) == 69 and len(h["joints"]) == 24
    np.testing.assert_allclose(h["joints"], bodies[0].joints, rtol=1e-6)
    np.testing.assert_allclose(h["translation"], bodies[0].translation, rtol=1e-6)
