"""hmr_node with tracking, end to end over Fast DDS: the same person keeps the same id across frames, ids are
REP-155 style (5 lowercase letters) and unique within a message, the mesh marker colour follows the id, a
bag loop resets the tracks together with the temporal window, and ``tracking: false`` publishes empty ids.

The network is untrained: with score_threshold 0.05 its detections are the deterministic top-K centre slots
(centre-first tie break), so each slot's person sits at the same place in every frame of the same scene.
That makes "the same person" well defined without a trained network: the person at the same image
position. Tentative tracks are published, so people appear from their first frame (with the default
min_hits they would appear from the third) and the id must not change when the track is confirmed.
"""
import re
import time

import numpy as np
import pytest

import ros_harness

ros_harness.require_ros()

import rclpy  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from visualization_msgs.msg import Marker  # noqa: E402

from hmr_ros.palette import person_color, track_color  # noqa: E402
from hmr_ros.sim.clips import make_clip  # noqa: E402

SIDE, PEOPLE, FRAMES, FPS = 128, 3, 5, 15.0
BASE = dict(backend="torch", input_size=128, window=2, max_people=PEOPLE, score_threshold=0.05, torch_threads=1,
            diagnostics_period_s=0.5)
TRACKED = dict(BASE, tracking=True, tracking_output_tentative=True)
UNTRACKED = dict(BASE, tracking=False)
FRAME = "cam_t"
TIMEOUT = 60.0
ID_PATTERN = re.compile(r"[a-z]{5}")


@pytest.fixture(scope="module")
def clip():
    return make_clip(num_frames=FRAMES, width=SIDE, height=SIDE, num_people=2, fps=FPS, seed=3)


@pytest.fixture(scope="module")
def domain():
    """One isolated ROS domain and rclpy context for the module; each node below runs in its own class."""
    mp = pytest.MonkeyPatch()
    ros_harness.isolate_ros_environment(mp)
    rclpy.init()
    try:
        yield
    finally:
        rclpy.shutdown()
        mp.undo()


def start_node(overrides: dict, tmp_path):
    proc = ros_harness.NodeProcess(overrides, tmp_path)
    probe = ros_harness.Probe()
    probe.wait_ready(proc)
    return proc, probe


def stop_node(proc, probe) -> None:
    probe.destroy()
    code = proc.stop()
    assert code == 0, f"hmr_node did not exit cleanly on SIGINT (code {code}):\n{proc.log()[-3000:]}"


def image(rgb: np.ndarray, stamp: tuple[int, int]) -> Image:
    img = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", step=3 * rgb.shape[1])
    img.header.frame_id = FRAME
    img.header.stamp.sec, img.header.stamp.nanosec = stamp
    img.data = np.ascontiguousarray(rgb).tobytes()
    return img


def camera_info(K: np.ndarray) -> CameraInfo:
    info = CameraInfo(width=SIDE, height=SIDE, distortion_model="plumb_bob")
    info.header.frame_id = FRAME
    info.k = [float(v) for v in np.asarray(K).reshape(-1)]
    return info


def stamp_of(sec: float) -> tuple[int, int]:
    whole = int(sec)
    return whole, int(round((sec - whole) * 1e9))


def play(proc, probe, clip, start_s: float, frames) -> list:
    """Publish the clip frames one at a time (each waits for its result, so none is dropped); returns
    the (SMPLHumanArray, MarkerArray) of each."""
    probe.pub_info.publish(camera_info(clip.K))
    probe.spin_until(lambda: False, 0.3)
    out = []
    for i in frames:
        stamp = stamp_of(start_s + i / FPS)
        probe.pub_image.publish(image(clip.frames[i].rgb, stamp))
        out.append(probe.result(stamp, TIMEOUT, proc))
    return out


def roi_center(h) -> np.ndarray:
    return np.array([h.roi.x_offset + 0.5 * h.roi.width, h.roi.y_offset + 0.5 * h.roi.height])


def assert_mesh_colors(markers, expected) -> None:
    """The mesh markers, in id order (= person order), have the ``expected`` RGB colours (float32 in the msg)."""
    meshes = sorted((m for m in markers.markers if m.type == Marker.TRIANGLE_LIST and m.action == Marker.ADD),
                    key=lambda m: m.id)
    got = np.array([(m.color.r, m.color.g, m.color.b) for m in meshes])
    np.testing.assert_allclose(got, np.array(expected).reshape(-1, 3), atol=1e-6)


def latest_diagnostics(proc, probe) -> dict:
    after = time.monotonic()
    ok = probe.spin_until(lambda: any(t > after for t, _ in probe.diagnostics), 10.0, proc)
    assert ok, "no /diagnostics from hmr_node"
    return {kv.key: kv.value for kv in probe.diagnostics[-1][1].values}


class TestTracking:
    @pytest.fixture(scope="class")
    def node(self, domain, tmp_path_factory):
        proc, probe = start_node(TRACKED, tmp_path_factory.mktemp("hmr_node_tracking"))
        try:
            yield proc, probe
        finally:
            stop_node(proc, probe)

    @pytest.fixture(scope="class")
    def played(self, node, clip):
        proc, probe = node
        return play(proc, probe, clip, 100.0, range(FRAMES))

    def test_every_person_has_a_five_letter_id_unique_in_its_message(self, played):
        for smpl, _ in played:
            ids = [h.id for h in smpl.humans]
            assert len(ids) == PEOPLE
            assert all(ID_PATTERN.fullmatch(i) for i in ids), ids
            assert len(set(ids)) == len(ids), ids

    def test_the_same_person_keeps_the_same_id_across_frames(self, played):
        first_ids = {h.id for h in played[0][0].humans}
        for (prev, _), (cur, _) in zip(played, played[1:]):
            assert {h.id for h in cur.humans} == first_ids
            prev_centers = np.stack([roi_center(h) for h in prev.humans])
            gaps = np.linalg.norm(prev_centers[:, None] - prev_centers[None], axis=-1)
            assert gaps[~np.eye(PEOPLE, dtype=bool)].min() >= 2.0  # positions tell the people apart
            for h in cur.humans:
                # the person at the same image position in the previous frame has this id
                dist = np.linalg.norm(prev_centers - roi_center(h), axis=1)
                nearest = prev.humans[int(np.argmin(dist))]
                assert dist.min() < 1.0 and nearest.id == h.id

    def test_each_mesh_marker_has_the_colour_of_its_persons_id(self, played):
        for smpl, markers in played:
            assert_mesh_colors(markers, [track_color(h.id) for h in smpl.humans])

    def test_diagnostics_report_tracking_and_the_live_tracks(self, node, played):
        proc, probe = node
        values = latest_diagnostics(proc, probe)
        assert values["tracking"].startswith("on (min_hits=3, max_lost_frames=15, tentative tracks published")
        assert values["live tracks"] == str(PEOPLE)

    def test_a_bag_loop_resets_the_tracks_with_the_temporal_window(self, node, played, clip):
        proc, probe = node
        before = {h.id for h in played[-1][0].humans}
        resets_before = int(latest_diagnostics(proc, probe)["buffer resets"])
        (looped, _), (after, _) = play(proc, probe, clip, 50.0, range(2))  # stamps far behind: a bag loop
        looped_ids = {h.id for h in looped.humans}
        assert len(looped_ids) == PEOPLE and all(ID_PATTERN.fullmatch(i) for i in looped_ids)
        assert not looped_ids & before, "tracks survived a reset of the temporal window"
        assert {h.id for h in after.humans} == looped_ids  # and the new tracks carry on
        assert int(latest_diagnostics(proc, probe)["buffer resets"]) == resets_before + 1


class TestWithoutTracking:
    @pytest.fixture(scope="class")
    def node(self, domain, tmp_path_factory):
        proc, probe = start_node(UNTRACKED, tmp_path_factory.mktemp("hmr_node_untracked"))
        try:
            yield proc, probe
        finally:
            stop_node(proc, probe)

    def test_ids_are_empty_and_colours_follow_the_index(self, node, clip):
        proc, probe = node
        for smpl, markers in play(proc, probe, clip, 200.0, range(2)):
            assert len(smpl.humans) == PEOPLE
            assert [h.id for h in smpl.humans] == [""] * PEOPLE
            assert_mesh_colors(markers, [person_color(i) for i in range(PEOPLE)])
        values = latest_diagnostics(proc, probe)
        assert values["tracking"] == "off" and values["live tracks"] == "n/a"
