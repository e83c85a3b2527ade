"""``python -m hmr_ros label``: real frames in, a label directory out; resumable; one clear line for bad input."""
import json
import shutil

import cv2
import numpy as np
import pytest

from hmr_ros.cli import main
from hmr_ros.datasets.pseudo_labels import LABELS, MANIFEST, PseudoLabels

from real_data import label_vtest, teacher_dir, vtest_clip


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    return vtest_clip(tmp_path_factory.mktemp("walk") / "walk.avi", 100, 5)


def label(*argv, proposals="tiles"):
    """The label command with the lite teacher; vtest's walkers are small, where the tiles (version 1) find them."""
    return main(["label", *map(str, argv), "--teacher", "lite", "--teacher-dir", str(teacher_dir()), "--quiet",
                 "--proposals", proposals])


def test_label_writes_every_output_and_the_overlay_has_a_frame_per_input(walk, tmp_path):
    assert label(walk, "--out", tmp_path / "l", "--holdout-from", 3) == 0
    labels = PseudoLabels(tmp_path / "l")
    assert len(labels.frames) == 5 and labels.holdout_from == 3 and labels.manifest["complete"]
    assert sum(len(f.people) for f in labels.frames) >= 15
    video = cv2.VideoCapture(str(tmp_path / "l" / "overlay.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    assert json.loads((tmp_path / "l" / "coco.json").read_text())["annotations"]


def test_an_interrupted_run_resumes_where_it_stopped(walk, tmp_path):
    out = tmp_path / "l"
    calls = []
    summary = label_vtest(out, walk, holdout_from=3, stop=lambda: calls.append(1) or len(calls) >= 2)
    assert summary.interrupted and summary.frames == 2
    assert not json.loads((out / MANIFEST).read_text())["complete"]
    with open(out / LABELS, "a") as f:                   # a line torn by a kill, on top
        f.write('{"frame": 2, "sta')
    with pytest.raises(ValueError, match="torn"):
        PseudoLabels(out)
    assert label(walk, "--out", out, "--holdout-from", 3) == 0
    rows = [json.loads(line) for line in (out / LABELS).read_text().splitlines()]
    assert [r["frame"] for r in rows] == [0, 1, 2, 3, 4]
    labels = PseudoLabels(out)
    assert labels.manifest["complete"] and int(cv2.VideoCapture(str(out / "overlay.mp4")).get(
        cv2.CAP_PROP_FRAME_COUNT)) == 5
    # ids go on where the first run stopped: the walker keeps theirs across the resume
    ids = [{p.id for p in f.people} for f in labels.frames]
    assert ids[1] & ids[2]


def test_missing_model_files_name_the_fetch_command_and_write_nothing(walk, tmp_path, capsys):
    code = main(["label", str(walk), "--out", str(tmp_path / "l"), "--teacher-dir", str(tmp_path / "none")])
    assert code == 2 and "scripts/fetch_teacher.sh" in capsys.readouterr().err
    assert not (tmp_path / "l").exists()


def test_an_unreadable_recording_is_one_line(tmp_path, capsys):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 100)
    assert label(bad, "--out", tmp_path / "l") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error:") and "broken.mp4" in err[-1]


def test_a_recording_with_nobody_says_so(tmp_path, capsys):
    empty = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (320, 240))
    for _ in range(3):
        writer.write(np.full((240, 320, 3), 120, np.uint8))
    writer.release()
    assert label(empty, "--out", tmp_path / "l") == 1
    assert "found nobody" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "l")


def test_siam_detections_are_proposals_too(walk, tmp_path):
    assert label(walk, "--out", tmp_path / "l", "--max-frames", "2", "--siam", "synthetic", "--no-overlay") == 0
    labels = PseudoLabels(tmp_path / "l")
    assert len(labels.frames) == 2 and all(f.people for f in labels.frames)
    assert not (tmp_path / "l" / "overlay.mp4").exists()


def test_resuming_with_other_settings_is_refused(walk, tmp_path, capsys):
    assert label(walk, "--out", tmp_path / "l", "--max-frames", "1", "--no-overlay") == 0
    assert label(walk, "--out", tmp_path / "l", "--tiles", "192,288", "--no-overlay") == 2
    err = capsys.readouterr().err
    assert "other settings (tiles [128, 192, 288, 432] -> [192, 288])" in err and "--restart" in err
    assert label(walk, "--out", tmp_path / "l", "--tiles", "192,288", "--no-overlay", "--restart") == 0


def test_the_default_teacher_looks_around_movenets_people(walk, tmp_path):
    assert main(["label", str(walk), "--out", str(tmp_path / "l"), "--max-frames", "1", "--no-overlay", "--teacher",
                 "lite", "--teacher-dir", str(teacher_dir()), "--quiet"]) in (0, 1)   # 1: MoveNet may miss them
    assert PseudoLabels(tmp_path / "l").manifest["teacher"]["name"] == "blazepose-lite+movenet-multipose@384"
