"""The recording runner and the node give the same answers: the same frames, fed to hmr_node over Fast DDS one at
a time and to ``python -m hmr_ros run`` as a rosbag2, produce the same people (tracks, scores, SMPL parameters,
joints) with the same headers, also when a CameraInfo is broken (NaN K: ignored, the last good K stays), is for
another aspect ratio (default intrinsics) or for the same camera at twice the size (K scaled). Both turn messages
into frames by ``hmr_ros.camera_messages`` and run the shared per-frame path (Pipeline: Estimator + Tracker)."""
import json

import numpy as np
import pytest

import ros_harness

ros_harness.require_ros()

from recording_files import FPS, FRAME_ID, walking_clip, write_bag  # noqa: E402

from hmr_ros.cli import main  # noqa: E402

STAMP0 = 1700000000.25
# the node's defaults (bundled weights, input 128, tracking) on the CPU, one torch thread like the runner's test
NODE = dict(checkpoint="synthetic", backend="torch", device="cpu", torch_threads=1)
TIMEOUT = 60.0


def camera_infos(K: np.ndarray, width: int, height: int) -> dict[int, tuple[np.ndarray, int, int]]:
    """The CameraInfo before frames 2, 4 and 5: NaN focal length; a calibration for another aspect ratio; the
    same camera calibrated at twice the size (2 K for 2 W x 2 H: scaled back, it is K)."""
    nan_k = np.array(K, np.float64)
    nan_k[0, 0] = np.nan
    return {2: (nan_k, width, height), 4: (K, width // 2, height), 5: (np.diag([2.0, 2.0, 1.0]) @ K, 2 * width,
                                                                     2 * height)}


def test_node_and_runner_publish_the_same_people(tmp_path, capsys):
    from sensor_msgs.msg import CameraInfo, Image

    clip = walking_clip()
    frames = [f.rgb for f in clip.frames]
    infos = camera_infos(clip.K, frames[0].shape[1], frames[0].shape[0])
    bag = write_bag(tmp_path / "in", frames, clip.K, storage="mcap", stamp0=STAMP0, infos=infos)
    assert main(["run", str(bag), "--out", str(tmp_path / "out"), "--backend", "torch", "--device", "cpu",
                 "--no-overlay", "--quiet"]) == 0
    said = capsys.readouterr().err
    assert "note [bad_camera_info]" in said and "note [camera_info_size_mismatch]" in said
    assert "note [camera_info_scaled]" in said
    runner = [json.loads(line) for line in (tmp_path / "out" / "smpl.jsonl").read_text().splitlines()]

    node = []
    with ros_harness.node_and_probe(NODE, tmp_path) as (proc, probe):
        for i, rgb in enumerate(frames):
            ns = int(round((STAMP0 + i / FPS) * 1e9))
            stamp = (ns // 10**9, ns % 10**9)
            k, w, h = infos.get(i, (clip.K, rgb.shape[1], rgb.shape[0]))
            info = CameraInfo(width=w, height=h)
            info.header.frame_id = FRAME_ID
            info.header.stamp.sec, info.header.stamp.nanosec = stamp
            info.k = [float(v) for v in np.asarray(k).reshape(-1)]
            probe.pub_info.publish(info)
            probe.spin_until(lambda: False, 0.1)  # CameraInfo first, as in the bag
            img = Image(height=rgb.shape[0], width=rgb.shape[1], encoding="rgb8", step=3 * rgb.shape[1])
            img.header = info.header
            img.data = np.ascontiguousarray(rgb).tobytes()
            probe.pub_image.publish(img)  # one at a time: each waits for its result, so the node drops none

            def answer():  # an SMPLHumanArray comes for every image, a mesh marker only when someone is published
                found = [m for _, m in probe.smpl if (m.header.stamp.sec, m.header.stamp.nanosec) == stamp]
                return found[0] if found else None
            assert probe.spin_until(lambda: answer() is not None, TIMEOUT, proc), proc.log()[-3000:]
            node.append(answer())
        log = proc.log()
    assert "[bad_camera_info]" in log and "[camera_info_size_mismatch]" in log

    assert len(node) == len(runner) == len(frames)
    compared, same_track = 0, {}
    for msg, line in zip(node, runner):
        assert msg.header.frame_id == line["frame_id"] == FRAME_ID
        assert msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9 == pytest.approx(line["stamp"], abs=1e-6)
        assert len(msg.humans) == len(line["people"])
        for h, p in zip(msg.humans, line["people"]):
            # ids are random per tracker (REP-155 letters): the same tracks mean one runner id per node id
            assert same_track.setdefault(h.id, p["id"]) == p["id"] and h.id
            assert h.score == pytest.approx(p["score"], abs=1e-4)
            assert np.allclose(h.betas, p["betas"], atol=1e-4)
            assert np.allclose(np.r_[h.global_orient, h.body_pose], np.r_[p["global_orient"], p["body_pose"]],
                               atol=1e-4)
            assert np.allclose([[j.x, j.y, j.z] for j in h.joints], p["joints"], atol=1e-4)  # 0.1 mm
            compared += 1
    assert compared >= len(frames), "the walkers were found in most frames by both"
    assert len(set(same_track.values())) == len(same_track)  # a bijection: no two node tracks share a runner id
