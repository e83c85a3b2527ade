"""hmr_node end to end over Fast DDS: the installed node runs as a process with config/hmr.yaml (plus
overrides that keep CPU inference small) and the launch file's remappings; this test publishes CameraInfo
and images and checks what comes back on /humans/smpl, /humans/smpl/markers and /diagnostics.

The network is untrained, so the tests check consistency (stamps, frames, counts, vertex counts, liveness,
diagnostics, dropping), not accuracy. Square images with score_threshold 0.05 make the untrained network
report max_people people, so the mesh path is exercised on every frame. The torch backend keeps start-up
fast (no ONNX export); tracking stays on with tentative tracks published, so every detection of every
frame is published (with its id) and the counts below hold from the first frame.
"""
import math
import threading
import time

import numpy as np
import pytest

import ros_harness

ros_harness.require_ros()

from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from hmr_ros.ros.diagnostics import WARN  # noqa: E402

SIDE = 128
PEOPLE = 3
FAST = dict(backend="torch", input_size=128, window=2, max_people=PEOPLE, score_threshold=0.05, torch_threads=1,
            diagnostics_period_s=0.5, tracking_output_tentative=True)
REMAP = ["-r", "image:=/cam_a/image_raw", "-r", "camera_info:=/cam_a/camera_info"]
FRAME = "cam_a_optical"
TIMEOUT = 60.0  # one CPU inference takes 0.3-1 s; generous for a loaded 2-core CI machine


@pytest.fixture(scope="module")
def ros(tmp_path_factory):
    """hmr_node process + probe on an isolated domain; yields a small namespace of helpers."""
    with ros_harness.node_and_probe(FAST, tmp_path_factory.mktemp("hmr_node"), REMAP,
                                    image_topic="/cam_a/image_raw", info_topic="/cam_a/camera_info") as (proc, probe):
        yield Env(proc, probe)
    code = proc.proc.returncode
    assert code == 0, f"hmr_node did not exit cleanly on SIGINT (code {code}):\n{proc.log()[-3000:]}"


class Env:
    def __init__(self, proc, probe):
        self.proc, self.probe = proc, probe
        self.sec = 1000  # image stamps: seconds, increasing across tests

    def next_stamp(self, step: int = 1) -> tuple[int, int]:
        self.sec += step
        return (self.sec, 250_000_000)

    def image(self, stamp, encoding="rgb8", height=SIDE, width=SIDE, data=None, step=None) -> Image:
        rng = np.random.default_rng(stamp[0])
        channels = {"rgb8": 3, "bgr8": 3, "mono8": 1, "yuv422": 2}[encoding]
        img = Image(height=height, width=width, encoding=encoding,
                    step=width * channels if step is None else step)
        img.header.frame_id = FRAME
        img.header.stamp.sec, img.header.stamp.nanosec = stamp
        img.data = data if data is not None else rng.integers(0, 256, height * width * channels, np.uint8).tobytes()
        return img

    def camera_info(self, k) -> CameraInfo:
        info = CameraInfo(width=SIDE, height=SIDE, distortion_model="plumb_bob")
        info.header.frame_id = FRAME
        info.k = [float(v) for v in k]
        return info

    def send_and_get(self, img):
        self.probe.pub_image.publish(img)
        return self.probe.result((img.header.stamp.sec, img.header.stamp.nanosec), TIMEOUT, self.proc)

    def latest_diagnostics(self, after: float):
        ok = self.probe.spin_until(lambda: any(t > after for t, _ in self.probe.diagnostics), 10.0, self.proc)
        assert ok, "no /diagnostics from hmr_node"
        status = self.probe.diagnostics[-1][1]
        return status, {kv.key: kv.value for kv in status.values}


GOOD_K = [100.0, 0.0, 64.0, 0.0, 100.0, 64.0, 0.0, 0.0, 1.0]


def test_results_carry_the_image_stamp_and_frame_and_agree_between_topics(ros):
    ros.probe.pub_info.publish(ros.camera_info(GOOD_K))
    ros.probe.spin_until(lambda: False, 0.3)
    for encoding in ("rgb8", "bgr8", "mono8"):
        stamp = ros.next_stamp()
        smpl, markers = ros.send_and_get(ros.image(stamp, encoding))
        assert smpl.header.frame_id == FRAME
        assert smpl.body_model == "procedural"
        assert len(smpl.humans) == PEOPLE
        meshes = [m for m in markers.markers if m.type == Marker.TRIANGLE_LIST and m.action == Marker.ADD]
        assert len(meshes) == len(smpl.humans)
        for i, m in enumerate(meshes):
            assert m.id == i and m.header.frame_id == FRAME
            assert (m.header.stamp.sec, m.header.stamp.nanosec) == stamp
            assert len(m.points) == 3 * 14304  # every triangle of the procedural body
        for h in smpl.humans:
            assert 0.0 <= h.score <= 1.0
            assert all(math.isfinite(v) for v in (h.translation.x, h.translation.y, h.translation.z))
            assert len(h.joints) == 24 and np.all(np.isfinite(h.body_pose))
            assert h.roi.x_offset + h.roi.width <= SIDE and h.roi.y_offset + h.roi.height <= SIDE
        scores = [h.score for h in smpl.humans]
        assert scores == sorted(scores, reverse=True)


def test_diagnostics_report_rates_drops_latency_and_model(ros):
    status, values = ros.latest_diagnostics(time.monotonic())
    assert status.hardware_id == "hmr_ros"
    for key in ("input rate (Hz)", "processed rate (Hz)", "frames dropped (busy)", "latency mean (ms)",
                "backend", "backend selection", "model", "body model", "weights", "bad inputs", "tracking",
                "live tracks"):
        assert key in values, key
    assert values["body model"] == "procedural"
    assert values["model"].startswith("SIAM hrnet w32 128px T=2")  # as built: auto resolved, never "auto"
    assert "network: backbone hrnet (auto: default, no checkpoint), width w32 (auto: default, no checkpoint), " \
           "input_size 128 (set)" in ros.proc.log()
    assert values["tracking"].startswith("on (min_hits=3")
    assert int(values["frames processed"]) >= 3
    assert status.level[0] >= WARN and "UNTRAINED" in status.message  # no checkpoint given


def test_diagnostics_and_ready_line_name_the_backend_in_use(ros):
    _, values = ros.latest_diagnostics(time.monotonic())
    assert values["backend"] == "torch (cpu, fp32)"   # Backend.describe() of the backend that runs
    assert values["backend selection"] == "torch requested"
    assert "backend torch (cpu, fp32) [torch requested]" in ros.proc.log()


BAD = {
    "unsupported_encoding": lambda env, s: env.image(s, "yuv422"),
    "short_data": lambda env, s: env.image(s, data=b"\x00" * 100),
    "bad_size": lambda env, s: env.image(s, height=0, width=0, data=b""),
    "bad_size_8k": lambda env, s: env.image(s, height=9000, width=9000, data=b"\x00" * 64),
    "padding_lie": lambda env, s: env.image(s, step=SIDE * 3 - 1),  # step shorter than a row
}


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_images_do_not_stop_the_node_and_the_next_good_one_is_processed(ros, kind):
    ros.probe.pub_image.publish(BAD[kind](ros, ros.next_stamp()))
    ros.probe.spin_until(lambda: False, 0.5)  # let it arrive alone, not replaced by the good frame
    stamp = ros.next_stamp()
    smpl, _ = ros.send_and_get(ros.image(stamp))
    assert len(smpl.humans) == PEOPLE
    assert ros.proc.alive()


@pytest.mark.parametrize("encoding,height,width", [("rgb8", 1, 8192), ("mono8", 8192, 1)])
def test_valid_extreme_aspect_images_are_processed_not_inference_errors(ros, encoding, height, width):
    """1 x 8192 is a legal image: it becomes a 1 px line in the letterbox, never an OpenCV resize assertion."""
    _, before = ros.latest_diagnostics(time.monotonic())
    smpl, _ = ros.send_and_get(ros.image(ros.next_stamp(), encoding, height=height, width=width))
    assert smpl.header.frame_id == FRAME  # a result for that very frame (send_and_get matched its stamp)
    smpl, _ = ros.send_and_get(ros.image(ros.next_stamp()))  # and the next ordinary frame as usual
    assert len(smpl.humans) == PEOPLE
    _, after = ros.latest_diagnostics(time.monotonic())
    assert after["inference errors"] == before["inference errors"] == "0"


@pytest.mark.parametrize("k", [[math.nan] * 9, [-300.0, 0, 48, 0, 300.0, 48, 0, 0, 1]])
def test_bad_camera_info_is_ignored_and_frames_still_processed(ros, k):
    ros.probe.pub_info.publish(ros.camera_info(k))
    ros.probe.spin_until(lambda: False, 0.3)
    smpl, _ = ros.send_and_get(ros.image(ros.next_stamp()))
    assert len(smpl.humans) == PEOPLE


def test_all_zero_camera_info_is_an_uncalibrated_camera_not_bad_input(ros):
    """sensor_msgs/CameraInfo: K all zero = uncalibrated. One policy with the core: default intrinsics, counted as
    such, never as bad input (which would keep /diagnostics at WARN for a normal camera)."""
    _, before = ros.latest_diagnostics(time.monotonic())
    ros.probe.pub_info.publish(ros.camera_info([0.0] * 9))
    ros.probe.spin_until(lambda: False, 0.3)
    smpl, _ = ros.send_and_get(ros.image(ros.next_stamp()))
    assert len(smpl.humans) == PEOPLE
    _, after = ros.latest_diagnostics(time.monotonic())
    assert int(after["frames with default intrinsics"]) > int(before["frames with default intrinsics"])
    assert after["bad inputs by kind"] == before["bad inputs by kind"]
    ros.probe.pub_info.publish(ros.camera_info(GOOD_K))  # calibrated again for the tests that follow
    ros.probe.spin_until(lambda: False, 0.3)


def bad_inputs(values) -> dict[str, int]:
    text = values["bad inputs by kind"]
    return {} if text == "none" else {k: int(v) for k, v in (item.split("=") for item in text.split(", "))}


@pytest.mark.parametrize("k", [[1e300, 0, 64, 0, 1e300, 64, 0, 0, 1], [100.0, 0, 1e300, 0, 100.0, 1e300, 0, 0, 1]])
def test_finite_but_absurd_camera_info_is_bad_input_and_the_last_good_k_stays(ros, k):
    """fx = 1e300 or cx = 1e300 are finite, but overflow the projection: bad_camera_info, like NaN."""
    ros.probe.pub_info.publish(ros.camera_info(GOOD_K))
    ros.probe.spin_until(lambda: False, 0.3)
    _, before = ros.latest_diagnostics(time.monotonic())
    ros.probe.pub_info.publish(ros.camera_info(k))
    ros.probe.spin_until(lambda: False, 0.3)
    smpl, _ = ros.send_and_get(ros.image(ros.next_stamp()))
    assert len(smpl.humans) == PEOPLE
    _, after = ros.latest_diagnostics(time.monotonic())
    assert bad_inputs(after).get("bad_camera_info", 0) == bad_inputs(before).get("bad_camera_info", 0) + 1
    # the frame used the last good K, not the default intrinsics
    assert after["frames with default intrinsics"] == before["frames with default intrinsics"]
    assert after["inference errors"] == "0"


def test_all_zero_camera_info_after_a_good_one_switches_to_default_intrinsics(ros):
    """The camera was recalibrated away (all-zero K): its earlier K must not stay in use."""
    ros.probe.pub_info.publish(ros.camera_info(GOOD_K))
    ros.probe.spin_until(lambda: False, 0.3)
    ros.send_and_get(ros.image(ros.next_stamp()))
    _, calibrated = ros.latest_diagnostics(time.monotonic())
    ros.send_and_get(ros.image(ros.next_stamp()))
    _, still = ros.latest_diagnostics(time.monotonic())
    assert still["frames with default intrinsics"] == calibrated["frames with default intrinsics"]
    ros.probe.pub_info.publish(ros.camera_info([0.0] * 9))
    ros.probe.spin_until(lambda: False, 0.3)
    ros.send_and_get(ros.image(ros.next_stamp()))
    _, uncalibrated = ros.latest_diagnostics(time.monotonic())
    assert int(uncalibrated["frames with default intrinsics"]) == int(still["frames with default intrinsics"]) + 1
    ros.probe.pub_info.publish(ros.camera_info(GOOD_K))  # calibrated again for the tests that follow
    ros.probe.spin_until(lambda: False, 0.3)


def test_an_unnormalised_stamp_is_a_bad_stamp_not_an_inference_error(ros):
    """nanosec = 2**32 - 1 is a broken driver; the header cannot be published as it is, so the frame is dropped
    and counted, and the next frame is processed."""
    _, before = ros.latest_diagnostics(time.monotonic())
    ros.sec += 1
    ros.probe.pub_image.publish(ros.image((ros.sec, 4294967295)))
    ros.probe.spin_until(lambda: False, 0.5)  # let it arrive alone, not replaced by the good frame
    smpl, _ = ros.send_and_get(ros.image(ros.next_stamp()))
    assert len(smpl.humans) == PEOPLE
    _, after = ros.latest_diagnostics(time.monotonic())
    assert bad_inputs(after).get("bad_stamp", 0) == bad_inputs(before).get("bad_stamp", 0) + 1
    assert after["inference errors"] == "0"
    assert "[bad_stamp]" in ros.proc.log() and "nanosec=4294967295" in ros.proc.log()


def test_a_frame_id_with_a_newline_cannot_forge_a_log_line(ros):
    """CWE-117: message text reaches the log escaped, on one line, and ANSI escapes are not passed through."""
    forged = "cam\n[ERROR] forged\x1b[31m"
    info = ros.camera_info(GOOD_K)
    info.header.frame_id = forged
    info.width, info.height = SIDE // 2, SIDE  # for another aspect ratio than the image's: logged with the frame_id
    ros.probe.pub_info.publish(info)
    ros.probe.spin_until(lambda: False, 0.3)
    img = ros.image(ros.next_stamp())
    img.header.frame_id = forged
    smpl, _ = ros.send_and_get(img)
    assert smpl.header.frame_id == forged  # the published header keeps the frame_id as it was
    log = ros.proc.log()
    lines = [line for line in log.splitlines() if "forged" in line]
    assert len(lines) == 1 and "[camera_info_size_mismatch]" in lines[0], lines
    assert "'cam\\n[ERROR] forged\\x1b[31m'" in lines[0]
    assert "\x1b" not in log and not any(line.startswith("[ERROR] forged") for line in log.splitlines())


def test_stamps_going_backwards_reset_the_window_and_keep_the_header(ros):
    ros.send_and_get(ros.image(ros.next_stamp()))
    back = (ros.sec - 500, 0)   # a bag loop
    smpl, _ = ros.send_and_get(ros.image(back))
    assert (smpl.header.stamp.sec, smpl.header.stamp.nanosec) == back
    ros.sec += 1
    _, values = ros.latest_diagnostics(time.monotonic())
    assert int(values["buffer resets"]) >= 1


def test_bad_inputs_are_counted_by_kind_in_diagnostics(ros):
    _, values = ros.latest_diagnostics(time.monotonic())
    by_kind = dict(item.split("=") for item in values["bad inputs by kind"].split(", "))
    assert int(by_kind["unsupported_encoding"]) >= 1
    assert int(by_kind["short_data"]) >= 2
    assert int(by_kind["bad_size"]) >= 2
    assert int(by_kind["bad_camera_info"]) >= 2
    assert int(values["inference errors"]) == 0
    log = ros.proc.log()
    assert "Traceback" not in log
    assert log.count("[unsupported_encoding]") == 1  # logged once per kind, not per frame


def test_camera_info_is_kept_for_at_most_64_frame_ids(ros):
    """A publisher inventing a frame_id per message must not grow the node without bound: the least recently used
    cameras are evicted, and a camera still in use (re-sending its CameraInfo) keeps working."""
    for i in range(100):
        info = ros.camera_info(GOOD_K)
        info.header.frame_id = f"spam_{i}"
        ros.probe.pub_info.publish(info)
        ros.probe.spin_until(lambda: False, 0.01)  # depth-1 best-effort: paced so most of them arrive
    _, values = ros.latest_diagnostics(time.monotonic())
    assert values["cameras known"] == "64"
    ros.probe.pub_info.publish(ros.camera_info(GOOD_K))
    ros.probe.spin_until(lambda: False, 0.3)
    _, before = ros.latest_diagnostics(time.monotonic())
    smpl, _ = ros.send_and_get(ros.image(ros.next_stamp()))
    assert len(smpl.humans) == PEOPLE
    _, after = ros.latest_diagnostics(time.monotonic())
    assert after["frames with default intrinsics"] == before["frames with default intrinsics"]
    assert after["cameras known"] == "64"


def test_overload_drops_frames_and_keeps_latency_bounded(ros):
    """Images at 30 Hz for 4 s against ~1-3 Hz of inference: most are dropped, none queue up."""
    before = len(ros.probe.smpl)
    _, v0 = ros.latest_diagnostics(time.monotonic())
    sent = {}
    images = [ros.image(ros.next_stamp()) for _ in range(120)]

    def publish_at_30_hz():  # a thread, so the probe's spinning (deserializing meshes) cannot slow it down
        start = time.monotonic()
        for i, img in enumerate(images):
            time.sleep(max(0.0, start + i / 30 - time.monotonic()))
            sent[(img.header.stamp.sec, img.header.stamp.nanosec)] = time.monotonic()
            ros.probe.pub_image.publish(img)

    publisher = threading.Thread(target=publish_at_30_hz)
    publisher.start()
    ros.probe.spin_until(lambda: not publisher.is_alive(), 30.0, ros.proc)
    publisher.join()
    last = max(sent)
    ros.probe.spin_until(lambda: any((m.header.stamp.sec, m.header.stamp.nanosec) == last
                                     for _, m in ros.probe.smpl[before:]), TIMEOUT, ros.proc)
    results = [(t, (m.header.stamp.sec, m.header.stamp.nanosec)) for t, m in ros.probe.smpl[before:]]
    results = [(t, s) for t, s in results if s in sent]
    assert results, "nothing processed during the overload"
    assert len(results) < len(sent) / 2, f"{len(results)} of {len(sent)} frames processed: nothing was dropped"
    # the newest frame is always processed: a queueing node would still be working through the backlog
    assert results[-1][1] == last
    latencies = [t - sent[s] for t, s in results]
    assert max(latencies) < 15.0, f"latency grew to {max(latencies):.1f} s"
    _, v1 = ros.latest_diagnostics(time.monotonic())
    dropped = int(v1["frames dropped (busy)"]) - int(v0["frames dropped (busy)"])
    assert dropped >= len(sent) / 2 - 5, f"dropped counter rose by {dropped} for {len(sent)} frames sent"
