"""``python -m hmr_ros run`` end to end with the bundled weights on recordings the tests write: every output is
written and readable by independent readers (OpenCV, numpy, rosbags), skipped frames are reported and counted, a
stop leaves valid files."""
import json

import cv2
import numpy as np
import pytest

from hmr_ros.cli import main
from hmr_ros.estimator import EstimatorConfig
from hmr_ros.pipeline import Pipeline, PipelineConfig
from hmr_ros.recordings.outputs import ArraysNpz, JsonLines, OverlayVideo
from hmr_ros.recordings.runner import run_recording
from hmr_ros.recordings.sources import open_source
from hmr_ros.tracking.tracker import TrackerConfig

from recording_files import FPS, FRAME_ID, walking_clip, write_bag, write_folder, write_video


@pytest.fixture
def clip():
    return walking_clip()

FAST = ["--backend", "torch", "--device", "cpu", "--quiet"]


def video_frames(path):
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    return n


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_video_gives_jsonl_npz_and_an_overlay_with_one_frame_per_input(clip, tmp_path, capsys):
    video = write_video(tmp_path / "walk.mp4", [f.rgb for f in clip.frames])
    out = tmp_path / "out"
    assert main(["run", str(video), "--out", str(out), *FAST]) == 0
    err = capsys.readouterr().err
    assert "8/8 frames processed" in err and "0 skipped" in err and "video " in err
    lines = read_jsonl(out / "smpl.jsonl")
    assert [l["frame"] for l in lines] == list(range(8)) and lines[0]["frame_id"] == "camera"
    assert [l["stamp"] for l in lines] == pytest.approx(np.arange(8) / FPS)
    people = [p for l in lines for p in l["people"]]
    assert people, "the bundled weights find the rendered walkers"
    p = people[-1]
    assert len(p["betas"]) == 10 and len(p["body_pose"]) == 69 and np.shape(p["joints"]) == (24, 3)
    assert 0 < p["score"] <= 1 and p["id"] and 1.0 < p["translation"][2] < 30.0  # metres in front of the camera
    arrays = np.load(out / "smpl.npz")
    assert arrays["frame"].tolist() == list(range(8)) and arrays["people"].sum() == len(people)
    assert arrays["joints"].shape == (len(people), 24, 3)
    assert np.allclose(arrays["joints"][-1], p["joints"], atol=1e-5) and arrays["id"][-1] == p["id"]
    assert video_frames(out / "overlay.mp4") == 8
    assert cv2.VideoCapture(str(out / "overlay.mp4")).get(cv2.CAP_PROP_FRAME_WIDTH) == 160


def test_progress_in_a_log_is_plain_lines(clip, tmp_path, capsys):
    """Where stderr is not a terminal (CI, systemd), progress is whole lines, no carriage returns."""
    folder = write_folder(tmp_path / "imgs", [f.rgb for f in clip.frames[:3]])
    assert main(["run", str(folder), "--out", str(tmp_path / "out"), "--backend", "torch", "--device", "cpu",
                 "--no-overlay"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "3/3 frames" in err and "frames/s  ETA 0 s" in err


def test_image_folder_and_a_skipped_frame(clip, tmp_path, capsys):
    folder = write_folder(tmp_path / "imgs", [f.rgb for f in clip.frames[:5]])
    (folder / "frame_2.png").write_bytes(b"garbage")
    out = tmp_path / "out"
    assert main(["run", str(folder), "--out", str(out), "--fps", "15", *FAST]) == 1  # 1: something was skipped
    err = capsys.readouterr().err
    assert "skipped frame 2: frame_2.png: not a readable image" in err and "4/5 frames processed" in err
    assert [l["frame"] for l in read_jsonl(out / "smpl.jsonl")] == [0, 1, 3, 4]
    assert video_frames(out / "overlay.mp4") == 5  # the skipped frame is a frame saying why


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_bag_in_bag_out_reads_back_with_rosbags(clip, tmp_path, storage):
    from rosbags.highlevel import AnyReader

    from hmr_ros.recordings.bag_writer import typestore

    frames = [f.rgb for f in clip.frames[:5]]
    bag = write_bag(tmp_path / "in", frames, clip.K, storage=storage, corrupt={3})
    out = tmp_path / "out"
    assert main(["run", str(bag), "--out", str(out), "--bag-out", "--marker-face-stride", "8", *FAST]) == 1
    lines = read_jsonl(out / "smpl.jsonl")
    assert [l["frame"] for l in lines] == [0, 1, 2, 4] and all(l["frame_id"] == FRAME_ID for l in lines)
    with AnyReader([out / "bag"], default_typestore=typestore()) as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        assert topics == {"/humans/smpl": "hmr_ros/msg/SMPLHumanArray",
                          "/humans/smpl/markers": "visualization_msgs/msg/MarkerArray"}
        smpl, markers = [], []
        for conn, t, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            (smpl if conn.topic == "/humans/smpl" else markers).append((t, msg))
    assert len(smpl) == len(markers) == 4
    for line, (t, msg) in zip(lines, smpl):
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        assert stamp == pytest.approx(line["stamp"], abs=1e-6) and t == round(line["stamp"] * 1e9)
        assert msg.header.frame_id == FRAME_ID and msg.body_model == "procedural"
        assert [h.id for h in msg.humans] == [p["id"] for p in line["people"]]
        for h, p in zip(msg.humans, line["people"]):
            assert np.allclose([[j.x, j.y, j.z] for j in h.joints], p["joints"], atol=1e-5)
            assert np.allclose(h.body_pose, p["body_pose"], atol=1e-5)
    (t, last), = [m for m in markers if m[0] == smpl[-1][0]]
    live = [m for m in last.markers if m.action == 0]
    assert len(live) == len(smpl[-1][1].humans) and all(m.type == 11 and m.header.frame_id == FRAME_ID for m in live)
    faces = len(walking_clip().faces)  # every 8th triangle of the body model, 3 points each, metres in front
    assert all(len(m.points) == 3 * len(range(0, faces, 8)) and all(p.z > 0.5 for p in m.points[:30]) for m in live)


def test_result_bag_repeats_each_image_header_to_the_nanosecond(clip, tmp_path):
    """As the node publishes the image's header unchanged: a float of epoch seconds cannot hold nanoseconds, so
    an output stamp rebuilt from it would miss exact-time matching against the image topic."""
    from rosbags.highlevel import AnyReader

    from hmr_ros.recordings.bag_writer import typestore

    bag = write_bag(tmp_path / "in", [f.rgb for f in clip.frames[:3]], clip.K, stamp0_ns=1733390000_123456789)
    with AnyReader([bag], default_typestore=typestore()) as reader:
        images = [c for c in reader.connections if c.topic == "/front/image_raw"]
        sent = [(m.header.stamp.sec, m.header.stamp.nanosec, m.header.frame_id)
                for m in (reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages(connections=images))]
    assert main(["run", str(bag), "--out", str(tmp_path / "out"), "--bag-out", *FAST]) == 0
    with AnyReader([tmp_path / "out" / "bag"], default_typestore=typestore()) as reader:
        got = {c.topic: [] for c in reader.connections}
        for c, _, raw in reader.messages():
            msg = reader.deserialize(raw, c.msgtype)
            headers = [msg.header] if c.topic == "/humans/smpl" else [m.header for m in msg.markers if m.action == 0]
            got[c.topic] += [(h.stamp.sec, h.stamp.nanosec, h.frame_id) for h in headers]
    assert got["/humans/smpl"] == sent
    assert got["/humans/smpl/markers"] and set(got["/humans/smpl/markers"]) <= set(sent)


def test_a_calibration_file_replaces_the_missing_camera_info_and_says_so_truthfully(clip, tmp_path, capsys):
    """A bag without CameraInfo, run with --camera-info: every frame uses the file's K, so no note may claim
    'no CameraInfo ... using default intrinsics'."""
    K = clip.K
    h, w = clip.frames[0].rgb.shape[:2]
    (tmp_path / "c.yaml").write_text(f"image_width: {w}\nimage_height: {h}\ncamera_matrix: {{rows: 3, cols: 3, "
                                     f"data: {np.asarray(K).reshape(9).tolist()}}}\n")
    bag = write_bag(tmp_path / "in", [f.rgb for f in clip.frames[:2]], K, with_info=False)
    assert main(["run", str(bag), "--out", str(tmp_path / "o"), "--camera-info", str(tmp_path / "c.yaml"),
                 *FAST]) == 0
    err = capsys.readouterr().err
    assert "no_camera_info" not in err and "default intrinsics" not in err
    assert main(["run", str(bag), "--out", str(tmp_path / "o2"), *FAST]) == 0  # without the file it is told
    assert "note [no_camera_info]" in capsys.readouterr().err


def test_bad_input_and_options_exit_2_with_a_reason(clip, tmp_path, capsys):
    assert main(["run", str(tmp_path / "nothing.mp4"), "--out", str(tmp_path / "o"), *FAST]) == 2
    assert "does not exist" in capsys.readouterr().err
    folder = write_folder(tmp_path / "imgs", [clip.frames[0].rgb])
    assert main(["run", str(folder), "--out", str(tmp_path / "o"), "--camera-info", str(tmp_path / "c.yaml"),
                 *FAST]) == 2
    assert "cannot read camera info" in capsys.readouterr().err


def test_a_stop_between_frames_leaves_valid_outputs(clip, tmp_path):
    folder = write_folder(tmp_path / "imgs", [f.rgb for f in clip.frames])
    pipeline = Pipeline(PipelineConfig(EstimatorConfig.from_checkpoint("synthetic"), tracking=TrackerConfig()))
    sinks = [JsonLines(tmp_path / "smpl.jsonl"), ArraysNpz(tmp_path / "smpl.npz"),
             OverlayVideo(tmp_path / "overlay.mp4", pipeline.estimator.faces, FPS)]
    with open_source(folder) as source:
        # what Ctrl-C does: the handler sets a flag, the runner stops after the frame in progress
        seen = []
        summary = run_recording(source, pipeline, sinks, progress=lambda s, total: seen.append(s.frames),
                                stop=lambda: len(seen) >= 3)
    for sink in sinks:
        sink.close()
    assert summary.interrupted and summary.frames == summary.processed == 3
    assert len(read_jsonl(tmp_path / "smpl.jsonl")) == 3 and np.load(tmp_path / "smpl.npz")["frame"].tolist() == [0, 1, 2]
    assert video_frames(tmp_path / "overlay.mp4") == 3

