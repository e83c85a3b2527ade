"""The real files the teacher tests use: the BlazePose models and OpenCV's vtest.avi, fetched by
``scripts/fetch_teacher.sh`` and ``scripts/fetch_media.sh`` into the cache (``make test`` runs both first).

Without them the tests that need them are skipped, unless ``HMR_ROS_REAL_DATA=required`` (``make test`` and CI set
it): then a missing file fails the test, so CI can never pass by skipping the teacher.
"""
import os
from pathlib import Path

import cv2
import pytest

from hmr_ros.ros.demo_real import default_video
from hmr_ros.teacher.blazepose import default_model_dir


VTEST = default_video()


def need(path: Path, command: str) -> Path:
    if path.is_file():
        return path
    message = f"{path} is missing: run {command}"
    if os.environ.get("HMR_ROS_REAL_DATA") == "required":
        pytest.fail(message)
    pytest.skip(message)


def teacher_dir() -> Path:
    for name in ("pose_detection.tflite", "pose_landmark_full.tflite", "pose_landmark_lite.tflite"):
        need(default_model_dir() / name, "bash scripts/fetch_teacher.sh")
    pytest.importorskip("ai_edge_litert") if os.environ.get("HMR_ROS_REAL_DATA") != "required" else None
    return default_model_dir()


def vtest_frames(first: int, count: int) -> list:
    """RGB frames first .. first + count - 1 of vtest.avi."""
    cap = cv2.VideoCapture(str(need(VTEST, "bash scripts/fetch_media.sh")))
    cap.set(cv2.CAP_PROP_POS_FRAMES, first)
    frames = []
    for _ in range(count):
        ok, bgr = cap.read()
        assert ok, f"vtest.avi: frame {first + len(frames)} unreadable"
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def vtest_clip(path: Path, first: int, count: int) -> Path:
    """Frames first .. of vtest.avi as a small video file of their own (a recording for label/adapt tests)."""
    frames = vtest_frames(first, count)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (768, 576))
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def label_vtest(out: Path, recording: Path, **kwargs):
    """``label_recording`` with the real lite teacher into ``out`` (kwargs: holdout_from, max_frames, stop, ...)."""
    from hmr_ros.recordings.label import label_recording
    from hmr_ros.recordings.sources import open_source
    from hmr_ros.teacher import BlazePose

    teacher = BlazePose(teacher_dir(), "lite")
    with open_source(recording) as source:
        return label_recording(source, teacher, out, kwargs.pop("holdout_from", 4), **kwargs)
