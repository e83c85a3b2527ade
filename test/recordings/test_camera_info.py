"""ROS camera_calibration YAML files (what cameracalibrator writes) -> K."""
import numpy as np
import pytest

from hmr_ros.recordings.camera_info import read_camera_yaml

CALIBRATION = """\
image_width: 640
image_height: 480
camera_name: head_camera
camera_matrix:
  rows: 3
  cols: 3
  data: [615.2, 0, 321.5, 0, 616.8, 238.9, 0, 0, 1]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0.1, -0.2, 0, 0, 0]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]
projection_matrix:
  rows: 3
  cols: 4
  data: [615.2, 0, 321.5, 0, 0, 616.8, 238.9, 0, 0, 0, 1, 0]
"""


def test_reads_K_size_and_name(tmp_path):
    path = tmp_path / "head_camera.yaml"
    path.write_text(CALIBRATION)
    calib = read_camera_yaml(path)
    assert calib.K.tolist() == [[615.2, 0, 321.5], [0, 616.8, 238.9], [0, 0, 1]]
    assert (calib.width, calib.height) == (640, 480)
    K, note = calib.K_for(640, 480)
    assert K is calib.K and note is None


def test_K_follows_images_resized_after_calibration(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(CALIBRATION)
    K, note = read_camera_yaml(path).K_for(320, 240)
    assert note.kind == "camera_info_scaled" and "calibration file c.yaml is for 640x480" in note.message
    assert np.allclose(K, [[307.6, 0, 160.75], [0, 308.4, 119.45], [0, 0, 1]])


def test_a_calibration_for_another_aspect_ratio_is_not_stretched_to_fit(tmp_path):
    """A 640x480 calibration on 640x360 images is a crop or another mode, not a resize: default intrinsics, as the
    node does with such a CameraInfo."""
    path = tmp_path / "c.yaml"
    path.write_text(CALIBRATION)
    K, note = read_camera_yaml(path).K_for(640, 360)
    assert K is None and note.kind == "camera_info_size_mismatch" and note.bad_input


@pytest.mark.parametrize("text, message", [
    ("camera_matrix: [1, 2", "not valid YAML"),
    ("image_width: 640\n", "has no camera_matrix"),
    ("camera_matrix: {rows: 3, cols: 3, data: [1, 2, 3]}", "must hold 9 numbers"),
    ("camera_matrix: {rows: 3, cols: 3, data: [0, 0, 1, 0, 0, 1, 0, 0, 1]}", "positive focal lengths"),
    ("camera_matrix: {rows: 3, cols: 3, data: [.nan, 0, 1, 0, 5, 1, 0, 0, 1]}", "positive focal lengths"),
    # what the core refuses per frame is refused once, at load: a huge focal length, a principal point far off
    ("camera_matrix: {rows: 3, cols: 3, data: [1.0e+9, 0, 320, 0, 1.0e+9, 240, 0, 0, 1]}", "at most"),
    ("image_width: 640\nimage_height: 480\ncamera_matrix: {rows: 3, cols: 3, data: [600, 0, 99999, 0, 600, 240, "
     "0, 0, 1]}", "principal point"),
])
def test_broken_files_say_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_camera_yaml(path)
    with pytest.raises(ValueError, match="cannot read camera info"):
        read_camera_yaml(tmp_path / "missing.yaml")
