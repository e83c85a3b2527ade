"""The node's own work per frame, outside the network: image decode, SMPLHumanArray build, mesh-marker
build (naive list of Points vs the serialized CDR fast path) and publish, for 1/5/10 people at 640x480.

    . install/setup.bash && python bench/bench_node_path.py [--repeats 20] [--naive-repeats 3]

Goal (issue 3): everything the node does outside the network <= 3 ms per frame with 5 people. Prints a
Markdown table (median milliseconds) for docs/performance.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's hmr_ros, not an older install

import hmr_ros.ros  # noqa: E402,F401  (generated messages from the install tree)
import rclpy  # noqa: E402
from geometry_msgs.msg import Point
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray

from hmr_ros.bodies import Body
from hmr_ros.smpl.body_model import load_body_model
from hmr_ros.msg import SMPLHumanArray
from hmr_ros.image_codec import compressed_msg_to_rgb, image_msg_to_rgb
from hmr_ros.markers import MARKER_NS
from hmr_ros.palette import person_color
from hmr_ros.ros.markers import MeshMarkerWriter
from hmr_ros.ros.messages import bodies_to_msg
from machine_info import cpu_line  # bench/, this script's folder

W, H = 640, 480


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up (template caches, first allocation)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def people(n: int) -> tuple[list[Body], np.ndarray]:
    """n procedural SMPL-layout bodies in a row 3 m in front of the camera, and the mesh faces."""
    bm = load_body_model("procedural")
    rng = np.random.default_rng(0)
    with torch.no_grad():
        rot = torch.eye(3).expand(n, 24, 3, 3).contiguous()
        out = bm(torch.zeros(n, bm.num_betas), rot)
    bodies = []
    for i in range(n):
        t = np.array([0.8 * (i - n / 2), 0.0, 3.0], np.float32)
        bodies.append(Body(
            score=0.9 - 0.01 * i, box=np.array([10, 20, 110, 220], np.float32), center=np.zeros(2, np.float32),
            betas=rng.normal(size=10).astype(np.float32), global_orient=np.zeros(3, np.float32),
            body_pose=rng.normal(size=69).astype(np.float32) * 0.1, translation=t,
            joints=out.joints[i].numpy() + t, vertices=out.vertices[i].numpy() + t))
    return bodies, np.asarray(bm.faces)


def naive_markers(bodies: list[Body], faces: np.ndarray, header: Header) -> MarkerArray:
    """The straightforward MarkerArray (a Point object per triangle corner): the reference the fast path beats."""
    arr = MarkerArray()
    idx = faces.reshape(-1)
    for i, b in enumerate(bodies):
        m = Marker(header=header, ns=MARKER_NS, id=i, type=Marker.TRIANGLE_LIST, action=Marker.ADD)
        m.pose.orientation.w = 1.0
        m.scale.x = m.scale.y = m.scale.z = 1.0
        m.color.r, m.color.g, m.color.b = person_color(i)
        m.color.a = 0.8
        m.points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in b.vertices[idx]]
        arr.markers.append(m)
    return arr


def image_messages() -> tuple[Image, Image, CompressedImage]:
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:H, 0:W]
    rgb = np.stack([x % 256, y % 256, (x + y) % 256], axis=2).astype(np.uint8)
    rgb = np.clip(rgb.astype(int) + rng.integers(-8, 8, rgb.shape), 0, 255).astype(np.uint8)
    raw = Image(height=H, width=W, encoding="rgb8", step=3 * W)
    raw.data = rgb.tobytes()
    bgr = Image(height=H, width=W, encoding="bgr8", step=3 * W)
    bgr.data = rgb[:, :, ::-1].tobytes()
    jpg = CompressedImage(format="jpeg")
    jpg.data = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    return raw, bgr, jpg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--naive-repeats", type=int, default=3)
    ap.add_argument("--people", type=int, nargs="+", default=[1, 5, 10])
    args = ap.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    torch.set_num_threads(1)

    raw, bgr, jpg = image_messages()
    header = Header(frame_id="camera_optical")
    header.stamp.sec, header.stamp.nanosec = 1700000000, 5000

    rclpy.init()
    node = rclpy.create_node("bench_node_path")
    qos = QoSProfile(depth=1)
    pub_smpl = node.create_publisher(SMPLHumanArray, "bench/smpl", qos)
    pub_mk = node.create_publisher(MarkerArray, "bench/markers", qos)
    # a matched subscriber makes DDS deliver the data (raw: no Python deserialization on our side)
    node.create_subscription(SMPLHumanArray, "bench/smpl", lambda m: None, qos, raw=True)
    node.create_subscription(MarkerArray, "bench/markers", lambda m: None, qos, raw=True)
    time.sleep(0.5)

    r = args.repeats
    # + the contiguous array the Estimator takes: a strided view only moves the copy there
    rows = [("decode rgb8 (zero-copy view)", {}, median_ms(lambda: np.ascontiguousarray(image_msg_to_rgb(raw)), r)),
            ("decode bgr8 (one OpenCV conversion)", {},
             median_ms(lambda: np.ascontiguousarray(image_msg_to_rgb(bgr)), r)),
            (f"decode JPEG ({len(jpg.data) // 1024} KiB)", {}, median_ms(lambda: compressed_msg_to_rgb(jpg), r))]
    per_n = {}
    for n in args.people:
        bodies, faces = people(n)
        writer = MeshMarkerWriter(faces)
        msg = bodies_to_msg(bodies, header, "procedural", W, H)
        stamp = (header.stamp.sec, header.stamp.nanosec)
        verts = [b.vertices for b in bodies]
        fast = writer.build(verts, stamp, header.frame_id)
        naive = naive_markers(bodies[:1], faces, header)
        t = {
            "message build": median_ms(lambda: bodies_to_msg(bodies, header, "procedural", W, H), r),
            "publish SMPLHumanArray": median_ms(lambda: pub_smpl.publish(msg), r),
            "markers fast build": median_ms(lambda: writer.build(verts, stamp, header.frame_id), r),
            "markers fast publish(bytes)": median_ms(lambda: pub_mk.publish(fast), r),
            "markers naive build (per person)": median_ms(lambda: naive_markers(bodies[:1], faces, header),
                                                          args.naive_repeats),
            "markers naive publish (per person)": median_ms(lambda: pub_mk.publish(naive), args.naive_repeats),
        }
        t["node total (rgb8, fast path)"] = (rows[0][2] + t["message build"] + t["publish SMPLHumanArray"]
                                             + t["markers fast build"] + t["markers fast publish(bytes)"])
        per_n[n] = t
        print(f"# {n} people done ({len(fast) / 1e6:.1f} MB of markers, {writer.points_per_mesh} points/mesh)",
              flush=True)
    node.destroy_node()
    rclpy.shutdown()

    print(f"\nMachine: {cpu_line()}; image {W}x{H}; "
          f"procedural body ({len(bodies[0].vertices)} vertices, {len(faces)} faces); median of {r} runs\n")
    print("| stage | " + " | ".join(f"{n} people" for n in args.people) + " |")
    print("|---|" + "---|" * len(args.people))
    for name, _, ms in rows:
        print(f"| {name} | " + " | ".join(f"{ms:.3f}" for _ in args.people) + " |")
    for key in per_n[args.people[0]]:
        print(f"| {key} | " + " | ".join(f"{per_n[n][key]:.3f}" for n in args.people) + " |")


if __name__ == "__main__":
    main()
