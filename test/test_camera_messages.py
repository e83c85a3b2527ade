"""Messages -> frames, the rules the node and every recording share (ROS-free; rosbags' message types, whose field
names are rclpy's)."""
import math

import cv2
import numpy as np
import pytest

from hmr_ros.camera_messages import (CameraInfoCache, Calibration, InputProblem, message_frame, read_camera_info)
from hmr_ros.recordings.bag_writer import default_message, typestore

K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])
STORE = typestore()


def header(frame_id="cam", sec=1700000000, nanosec=250_000_000):
    h = default_message(STORE, "std_msgs/msg/Header")
    h.stamp.sec, h.stamp.nanosec, h.frame_id = sec, nanosec, frame_id
    return h


def info(k=K, width=640, height=480, frame_id="cam"):
    msg = default_message(STORE, "sensor_msgs/msg/CameraInfo")
    msg.header, msg.width, msg.height = header(frame_id), width, height
    msg.k = np.asarray(k, np.float64).reshape(9)
    return msg


def image(width=640, height=480, frame_id="cam", encoding="rgb8", **stamp):
    msg = default_message(STORE, "sensor_msgs/msg/Image")
    msg.header, msg.width, msg.height, msg.encoding, msg.step = header(frame_id, **stamp), width, height, encoding, 3 * width
    msg.data = np.full(height * width * 3, 90, np.uint8)
    return msg


def test_an_image_becomes_a_frame_with_its_stamp_frame_id_and_the_latest_good_K():
    cameras = CameraInfoCache()
    assert cameras.update(info()) is None
    f = message_frame(image(), cameras)
    assert f.rgb.shape == (480, 640, 3) and f.frame_id == "cam" and f.notes == ()
    assert f.stamp == pytest.approx(1700000000.25) and f.header.stamp.nanosec == 250_000_000
    np.testing.assert_array_equal(f.K, K)


def test_a_compressed_image_is_told_apart_by_its_format_field():
    msg = default_message(STORE, "sensor_msgs/msg/CompressedImage")
    msg.header, msg.format = header(), "jpeg"
    msg.data = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))[1].reshape(-1)
    assert message_frame(msg, CameraInfoCache()).rgb.shape == (48, 64, 3)


def test_a_broken_camera_info_is_ignored_and_the_last_good_K_stays():
    cameras = CameraInfoCache()
    cameras.update(info())
    bad = K.copy()
    bad[0, 0] = math.nan
    note = cameras.update(info(bad))
    assert note.kind == "bad_camera_info" and note.bad_input and "finite" in note.message
    np.testing.assert_array_equal(message_frame(image(), cameras).K, K)
    with pytest.raises(InputProblem) as e:
        read_camera_info(info(np.diag([-1.0, 500.0, 1.0])))
    assert e.value.kind == "bad_camera_info"


def test_an_all_zero_K_is_an_uncalibrated_camera_not_bad_input():
    cameras = CameraInfoCache()
    cameras.update(info())
    note = cameras.update(info(np.zeros((3, 3))))
    assert note.kind == "uncalibrated_camera" and not note.bad_input and note.level == "info"
    assert message_frame(image(), cameras).K is None  # default intrinsics, even after a good K


def test_no_camera_info_yet_means_default_intrinsics_with_a_note():
    f = message_frame(image(frame_id="other"), CameraInfoCache())
    assert f.K is None and [n.kind for n in f.notes] == ["no_camera_info"] and not f.notes[0].bad_input


def test_a_calibration_for_a_resized_image_is_scaled_and_for_another_aspect_refused():
    cameras = CameraInfoCache()
    cameras.update(info(width=1280, height=960))           # the same 4:3 camera at twice the size
    f = message_frame(image(), cameras)
    np.testing.assert_allclose(f.K, np.diag([0.5, 0.5, 1.0]) @ K)
    assert f.notes[0].kind == "camera_info_scaled" and not f.notes[0].bad_input
    cameras.update(info(width=640, height=360))            # 16:9 calibration for a 4:3 image
    f = message_frame(image(), cameras)
    assert f.K is None and f.notes[0].kind == "camera_info_size_mismatch" and f.notes[0].bad_input
    assert "is for 640x360 images but the image is 640x480" in f.notes[0].message
    unsized, note = Calibration(K, 0, 0).K_for(123, 45)  # a calibration without a size holds for any image
    assert unsized is K and note is None


def test_an_unnormalised_stamp_is_refused_and_a_zero_stamp_takes_the_arrival_time():
    with pytest.raises(InputProblem) as e:
        message_frame(image(nanosec=2**32 - 1), CameraInfoCache())
    assert e.value.kind == "bad_stamp" and "nanosec=4294967295" in str(e.value)
    f = message_frame(image(sec=0, nanosec=0), CameraInfoCache(), arrival_s=12.5)
    assert f.stamp == 12.5 and f.header.stamp.sec == 0  # the header is published as it came


@pytest.mark.parametrize("encoding, kind", [("yuv422_yuy2_bogus", "unsupported_encoding"), ("rgb8", "short_data")])
def test_undecodable_images_are_input_problems_with_the_codec_kind(encoding, kind):
    msg = image(encoding=encoding)
    msg.data = msg.data[:100]
    with pytest.raises(InputProblem) as e:
        message_frame(msg, CameraInfoCache())
    assert e.value.kind == kind


def test_the_cache_keeps_the_most_recently_used_frame_ids():
    cameras = CameraInfoCache(max_cameras=2)
    for name in ("a", "b"):
        cameras.update(info(frame_id=name))
    message_frame(image(frame_id="a"), cameras)   # "a" used: "b" is now the oldest
    cameras.update(info(frame_id="c"))
    assert len(cameras) == 2
    assert message_frame(image(frame_id="a"), cameras).K is not None
    assert message_frame(image(frame_id="b"), cameras).K is None
