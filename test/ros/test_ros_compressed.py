"""hmr_node with image_transport: compressed and mode: centered: JPEG/PNG input, a corrupt JPEG does not
stop it, and each result carries the header of the frame window//2 back (the frame it describes)."""
import time

import cv2
import numpy as np
import pytest

import ros_harness

ros_harness.require_ros()

from sensor_msgs.msg import CompressedImage  # noqa: E402

SIDE, WINDOW = 128, 3
SETTINGS = dict(backend="torch", image_transport="compressed", mode="centered", input_size=128, window=WINDOW,
                max_people=2, score_threshold=0.05, torch_threads=1, diagnostics_period_s=0.5)
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def ros(tmp_path_factory):
    with ros_harness.node_and_probe(SETTINGS, tmp_path_factory.mktemp("hmr_node_compressed"), compressed=True) as env:
        yield env


def compressed(sec: int, fmt: str = "jpeg", data: bytes | None = None) -> CompressedImage:
    rng = np.random.default_rng(sec)
    bgr = rng.integers(0, 256, (SIDE, SIDE, 3), np.uint8)
    msg = CompressedImage(format=fmt)
    msg.header.frame_id = "cam_c"
    msg.header.stamp.sec = sec
    msg.data = data if data is not None else cv2.imencode(".jpg" if fmt == "jpeg" else ".png", bgr)[1].tobytes()
    return msg


def send_and_wait(proc, probe, msg, expect_sec: int):
    """Publish ``msg``; wait for the /humans/smpl message stamped ``expect_sec``."""
    probe.pub_image.publish(msg)
    ok = probe.spin_until(lambda: any(m.header.stamp.sec == expect_sec for _, m in probe.smpl), TIMEOUT, proc)
    assert ok, f"no result stamped {expect_sec}:\n{proc.log()[-3000:]}"
    return next(m for _, m in probe.smpl if m.header.stamp.sec == expect_sec)


def test_centered_results_carry_the_header_of_the_frame_they_describe(ros):
    proc, probe = ros
    lag = WINDOW // 2
    stamps = [100, 101, 102, 103]
    for i, sec in enumerate(stamps):
        fmt = "png" if i % 2 else "jpeg"
        if i < lag:  # the window does not hold the output frame yet: nothing is published
            probe.pub_image.publish(compressed(sec, fmt))
            probe.spin_until(lambda: False, 3.0, proc)
            continue
        msg = send_and_wait(proc, probe, compressed(sec, fmt), stamps[i - lag])
        assert msg.header.frame_id == "cam_c"
    published = [m.header.stamp.sec for _, m in probe.smpl]
    assert published == stamps[:len(stamps) - lag]


def test_corrupt_jpeg_is_counted_and_the_next_frame_processed(ros):
    proc, probe = ros
    good = compressed(110).data
    probe.pub_image.publish(compressed(104, data=bytes(good[: len(good) // 3])))  # truncated
    probe.pub_image.publish(compressed(105, data=b"\xff\xd8garbage"))
    probe.spin_until(lambda: False, 1.0, proc)
    for sec in (110, 111):
        probe.pub_image.publish(compressed(sec))
        probe.spin_until(lambda: False, 0.5, proc)
    send_and_wait(proc, probe, compressed(112), 111)
    assert proc.alive()
    start = time.monotonic()
    probe.spin_until(lambda: probe.diagnostics and probe.diagnostics[-1][0] > start, 10.0, proc)
    values = {kv.key: kv.value for kv in probe.diagnostics[-1][1].values}
    assert "corrupt_compressed=" in values["bad inputs by kind"]
