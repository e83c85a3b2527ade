"""Large camera images reach the installed node over Fast DDS (docs/ros.md, "Large images"): 640x480, 1280x720
and 1920x1080 rgb8 at 10 Hz arrive >= 95 % from a default-QoS (reliable) publisher with the node's default
``image_qos: auto``, and from a best-effort publisher that runs with the shipped Fast DDS profile. Counted by the
node itself (diagnostics "frames received"), in a separate publisher process as a camera driver would be."""
import os
import subprocess
import sys
import time

import pytest

import ros_harness

ros_harness.require_ros()


SIZES = ((640, 480), (1280, 720), (1920, 1080))
FRAMES = 30
RATE_HZ = 10.0
PUBLISHER = r"""
import sys, time, rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
reliability, width, height, frames, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
rclpy.init()
node = rclpy.create_node("large_image_publisher")
qos = 10 if reliability == "default" else QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
pub = node.create_publisher(Image, "/image", qos)
deadline = time.monotonic() + 30
while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(2.5)  # let the node re-subscribe to this publisher's QoS (image_qos auto looks every second)
msg = Image(width=width, height=height, encoding="rgb8", step=3 * width, data=bytes(3 * width * height))
msg.header.frame_id = "cam"
start = time.monotonic()
for i in range(frames):
    msg.header.stamp.sec, msg.header.stamp.nanosec = 100 + i, 0
    pub.publish(msg)
    time.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
print("published", frames, flush=True)
time.sleep(1.0)
"""


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    # a slow network must not matter: only arrivals are counted; the worker keeps the newest frame
    with ros_harness.node_and_probe(dict(backend="torch", input_size=64, window=1, max_people=1, torch_threads=1,
                                         diagnostics_period_s=0.25, publish_markers=False),
                                    tmp_path_factory.mktemp("hmr_node")) as env:
        yield env


def received(probe, proc) -> int:
    """The node's own 'frames received' counter, from its newest diagnostics."""
    stamp = time.monotonic()
    assert probe.spin_until(lambda: probe.diagnostics and probe.diagnostics[-1][0] > stamp + 0.3, 10.0, proc)
    return int({kv.key: kv.value for kv in probe.diagnostics[-1][1].values}["frames received"])


@pytest.mark.parametrize("publisher", ["default", "best_effort_with_profile"])
def test_large_images_arrive(node, publisher):
    proc, probe = node
    env = dict(os.environ)
    if publisher != "default":
        env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(ros_harness.REPO / "config" / "fastdds_large_images.xml")
    for width, height in SIZES:
        before = received(probe, proc)
        pub = subprocess.Popen([sys.executable, "-c", PUBLISHER, publisher.split("_with")[0], str(width), str(height),
                                str(FRAMES), str(RATE_HZ)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
        while pub.poll() is None:  # keep our probe spinning (diagnostics) while the publisher runs
            probe.spin_until(lambda: False, 0.2, proc)
        out = pub.stdout.read()
        assert pub.returncode == 0 and f"published {FRAMES}" in out, out
        got = received(probe, proc) - before
        assert got >= 0.95 * FRAMES, f"{publisher} {width}x{height}: {got}/{FRAMES} arrived\n{proc.log()[-2000:]}"
