"""Several cameras in one hmr_node (``cameras: front,rear``), over Fast DDS: each camera reads its own
``<name>/image`` and ``<name>/camera_info`` and publishes its own ``<name>/humans/smpl`` with its own header and
track ids, a bad image on one camera never disturbs the other, and /diagnostics has one status per camera."""
import time

import numpy as np

import ros_harness

ros_harness.require_ros()

import rclpy  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from hmr_ros.msg import SMPLHumanArray  # noqa: E402
from hmr_ros.ros.diagnostics import STATUS_NAME  # noqa: E402
from recording_files import walking_clip  # noqa: E402

NODE = dict(cameras="front,rear", checkpoint="synthetic", backend="torch", device="cpu", torch_threads=1,
            diagnostics_period_s=0.5)
TIMEOUT = 60.0
CAMERAS = {"front": "front_optical", "rear": "rear_optical"}


class Cameras:
    """Publishers and recorders for both cameras on one test node."""

    def __init__(self):
        self.node = rclpy.create_node("hmr_test_cameras")
        self.pub, self.info, self.smpl, self.diag = {}, {}, {n: [] for n in CAMERAS}, []
        for name in CAMERAS:
            self.pub[name] = self.node.create_publisher(Image, f"/{name}/image", 10)
            self.info[name] = self.node.create_publisher(CameraInfo, f"/{name}/camera_info", 10)
            self.node.create_subscription(SMPLHumanArray, f"/{name}/humans/smpl",
                                          lambda m, n=name: self.smpl[n].append(m), 50)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", lambda m: self.diag.append(m), 50)

    def spin_until(self, predicate, timeout, proc):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not predicate():
            assert proc.alive(), proc.log()[-3000:]
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return predicate()

    def send(self, name, rgb, K, sec, encoding="rgb8"):
        info = CameraInfo(width=rgb.shape[1], height=rgb.shape[0])
        info.header.frame_id = CAMERAS[name]
        info.header.stamp.sec = sec
        info.k = [float(v) for v in np.asarray(K).reshape(-1)]
        self.info[name].publish(info)
        img = Image(height=rgb.shape[0], width=rgb.shape[1], encoding=encoding, step=3 * rgb.shape[1])
        img.header = info.header
        img.data = np.ascontiguousarray(rgb).tobytes()
        self.pub[name].publish(img)

    def result(self, name, sec, proc):
        found = lambda: [m for m in self.smpl[name] if m.header.stamp.sec == sec]  # noqa: E731
        assert self.spin_until(lambda: bool(found()), TIMEOUT, proc), f"no {name} result for {sec}\n{proc.log()[-3000:]}"
        return found()[0]


def test_two_cameras_have_their_own_outputs_and_a_bad_image_stays_on_its_camera(tmp_path, monkeypatch):
    clip = walking_clip()
    K_front, K_rear = clip.K, clip.K * [[1.2], [1.2], [1.0]]
    ros_harness.isolate_ros_environment(monkeypatch)
    proc = ros_harness.NodeProcess(NODE, tmp_path)
    rclpy.init()
    cams = Cameras()
    try:
        ready = lambda: all(cams.pub[n].get_subscription_count() > 0 for n in CAMERAS) and cams.diag  # noqa: E731
        assert cams.spin_until(ready, 120.0, proc), proc.log()[-3000:]
        cams.spin_until(lambda: False, 0.3, proc)
        out = {n: [] for n in CAMERAS}
        for i, f in enumerate(clip.frames[:6]):
            sec = 1000 + i
            cams.send("front", f.rgb, K_front, sec)
            if i == 3:  # the rear camera sends garbage: a 2-byte-per-pixel encoding the node does not know
                cams.send("rear", f.rgb[:, ::-1], K_rear, sec, encoding="yuv422_yuy2")
            else:
                cams.send("rear", np.ascontiguousarray(f.rgb[:, ::-1]), K_rear, sec)
            out["front"].append(cams.result("front", sec, proc))
            if i != 3:
                out["rear"].append(cams.result("rear", sec, proc))
        # each camera: its own header, all of its frames answered (the rear's bad one alone missing)
        assert [m.header.stamp.sec for m in out["front"]] == list(range(1000, 1006))
        assert [m.header.stamp.sec for m in out["rear"]] == [1000, 1001, 1002, 1004, 1005]
        for name, msgs in out.items():
            assert all(m.header.frame_id == CAMERAS[name] for m in msgs)
            assert sum(len(m.humans) for m in msgs) > 0, f"{name}: the walkers were seen"
        # own trackers: ids never shared between the cameras
        ids = {n: {h.id for m in msgs for h in m.humans} for n, msgs in out.items()}
        assert ids["front"] and ids["rear"] and not ids["front"] & ids["rear"]
        # the same scene mirrored and with another K: the rear's people come from its own image and intrinsics
        xs = {n: sorted(h.translation.x for m in msgs for h in m.humans) for n, msgs in out.items()}
        assert xs["front"] != xs["rear"]
        # diagnostics: one status per camera; the bad image counted on the rear only
        cams.spin_until(lambda: False, 1.2, proc)
        last = {s.name: {kv.key: kv.value for kv in s.values} for s in cams.diag[-1].status}
        assert set(last) == {f"{STATUS_NAME} (front)", f"{STATUS_NAME} (rear)"}
        front, rear = last[f"{STATUS_NAME} (front)"], last[f"{STATUS_NAME} (rear)"]
        assert front["input topic"] == "/front/image" and rear["input topic"] == "/rear/image"
        assert "unsupported_encoding=1" in rear["bad inputs by kind"] and front["bad inputs by kind"] == "none"
    finally:
        cams.node.destroy_node()
        rclpy.shutdown()
        code = proc.stop()
    assert code == 0, proc.log()[-3000:]


def test_bad_camera_names_stop_the_node_with_one_line(tmp_path, monkeypatch):
    ros_harness.isolate_ros_environment(monkeypatch)
    done = ros_harness.run_node_to_exit(dict(cameras="front,front"), tmp_path)
    assert done.returncode == 2 and "invalid parameter 'cameras': camera names must be unique" in done.stderr
