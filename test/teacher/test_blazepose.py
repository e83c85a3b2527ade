"""The real BlazePose teacher on a real street frame (OpenCV's vtest.avi, fetched at test time)."""
import numpy as np
import pytest

from hmr_ros.teacher import BlazePose, TeacherUnavailable
from hmr_ros.recordings.label import plausible

from real_data import teacher_dir, vtest_frames

#: Frame 100 of vtest.avi: a walker alone on the right of the road (drawn by hand around them, from the frame).
FRAME, WALKER = 100, (585, 148, 625, 240)


@pytest.fixture(scope="module")
def teacher():
    return BlazePose(teacher_dir(), "full")


def test_the_walker_is_found_with_landmarks_inside_their_box(teacher):
    rgb, = vtest_frames(FRAME, 1)
    people = teacher(rgb)
    x0, y0, x1, y1 = WALKER
    inside = [p for p in people if x0 <= p.box[0] and p.box[2] <= x1 and y0 <= p.box[1] and p.box[3] <= y1]
    assert len(inside) == 1, [p.box for p in people]
    walker = inside[0]
    confident = walker.coco17[walker.coco17[:, 2] >= 0.5]
    assert len(confident) >= 12
    assert ((confident[:, 0] >= x0) & (confident[:, 0] <= x1) & (confident[:, 1] >= y0) & (confident[:, 1] <= y1)).all()
    # head above hips above ankles, in the image
    assert walker.coco17[0, 1] < walker.coco17[11, 1] < walker.coco17[15, 1]
    # world landmarks: metres, hip-centred, a standing adult's proportions, y down
    w = walker.world
    assert np.linalg.norm((w[23] + w[24]) / 2) < 0.05
    assert 0.6 < np.linalg.norm(w[23] - w[27]) < 1.1 and w[0, 1] < -0.4
    assert plausible(walker) and walker.score > 0.9
    assert walker.mask is not None and walker.mask.area > 300


def test_several_walkers_are_found_in_the_tiles(teacher):
    rgb, = vtest_frames(FRAME, 1)
    assert len([p for p in teacher(rgb) if plausible(p)]) >= 4


def test_an_empty_image_has_nobody(teacher):
    assert teacher(np.full((480, 640, 3), 127, np.uint8)) == []


def test_a_bad_image_is_refused_with_its_shape(teacher):
    with pytest.raises(ValueError, match="uint8 RGB"):
        teacher(np.zeros((10, 10), np.uint8))


def test_missing_model_files_name_the_fetch_command(tmp_path):
    with pytest.raises(TeacherUnavailable, match="scripts/fetch_teacher.sh") as e:
        BlazePose(tmp_path, "heavy")
    assert "pose_detection.tflite" in str(e.value) and "pose_landmark_heavy.tflite" in str(e.value)


def test_a_corrupt_model_file_is_named(tmp_path):
    (tmp_path / "pose_detection.tflite").write_bytes(b"not a model")
    (tmp_path / "pose_landmark_lite.tflite").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="pose_detection.tflite"):
        BlazePose(tmp_path, "lite")
