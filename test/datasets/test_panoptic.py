"""CMU Panoptic in its toolbox's layout, on files the tests write: skeletons move into the chosen HD camera's frame
(metres), project through its lens model, and malformed files name themselves and what is wrong."""
import json

import numpy as np
import pytest

from hmr_ros.datasets.panoptic import PanopticSequence
from hmr_ros.geometry.rotations_np import rotmat_from_rotvec

SEQ = "160422_haggling1"


def write_sequence(root, dist=(0.0, 0.0, 0.0, 0.0, 0.0), joints=None):
    folder = root / SEQ
    (folder / "hdPose3d_stage1_coco19").mkdir(parents=True)
    R = rotmat_from_rotvec(np.array([0.1, -0.4, 0.05]))
    cams = [{"name": f"00_{i:02d}", "type": "hd", "resolution": [1920, 1080],
             "K": [[1400.0, 0, 960.0], [0, 1400.0, 540.0], [0, 0, 1]], "distCoef": list(dist),
             "R": R.tolist(), "t": [[10.0], [-20.0], [300.0]]} for i in (3, 16)]
    (folder / f"calibration_{SEQ}.json").write_text(json.dumps({"calibDataSource": SEQ, "cameras": cams}))
    rng = np.random.default_rng(1)
    j = rng.normal(0, 40, (2, 19, 3)) + [0, -100, 0] if joints is None else joints
    for frame in (120, 121):
        bodies = [{"id": pid, "joints19": np.c_[j[pid] + frame, np.full(19, 0.8)].reshape(-1).tolist()}
                  for pid in range(len(j))]
        (folder / "hdPose3d_stage1_coco19" / f"body3DScene_{frame:08d}.json").write_text(
            json.dumps({"version": 0.7, "univTime": 1.0 * frame, "fpsType": "hd_29_97", "bodies": bodies}))
    return folder, R, j


def test_skeletons_in_the_camera_frame_in_metres(tmp_path):
    folder, R, j = write_sequence(tmp_path)
    frames = PanopticSequence(folder, "00_16").frames()
    assert [f.index for f in frames] == [120, 121]
    assert frames[1].image_path == folder / "hdImgs" / "00_16" / "00_16_00000121.jpg"
    person = frames[1].people[1]
    want = ((j[1] + 121) @ R.T + [10.0, -20.0, 300.0]) / 100.0
    assert person.id == 1 and np.allclose(person.joints, want, atol=1e-5)
    uv = want[:, :2] / want[:, 2:] * 1400.0 + [960.0, 540.0]  # no distortion: the pinhole projection
    assert np.allclose(person.keypoints2d, uv, atol=1e-2) and np.allclose(person.confidence, 0.8)


def test_lens_distortion_is_applied_like_the_toolbox(tmp_path):
    k1 = -0.2
    folder, R, j = write_sequence(tmp_path, dist=(k1, 0, 0, 0, 0))
    person = PanopticSequence(folder, "00_16").frames()[0].people[0]
    x = ((j[0] + 120) @ R.T + [10.0, -20.0, 300.0]) / 100.0
    xn = x[:, :2] / x[:, 2:]
    r2 = (xn ** 2).sum(1, keepdims=True)
    assert np.allclose(person.keypoints2d, xn * (1 + k1 * r2) * 1400.0 + [960.0, 540.0], atol=1e-2)


def test_malformed_files_say_what_is_wrong(tmp_path):
    folder, _, _ = write_sequence(tmp_path)
    with pytest.raises(ValueError, match=r"no camera '50_01' \(it has 00_03, 00_16"):
        PanopticSequence(folder, "50_01")
    bad = folder / "hdPose3d_stage1_coco19" / "body3DScene_00000121.json"
    bad.write_text(json.dumps({"bodies": [{"id": 0, "joints19": [1, 2, 3]}]}))
    with pytest.raises(ValueError, match=r"body3DScene_00000121\.json: each body needs 'id' and 'joints19'"):
        PanopticSequence(folder, "00_16").frames()
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        PanopticSequence(folder, "00_16").frames()
    with pytest.raises(ValueError, match="no Panoptic skeletons"):
        (tmp_path / "empty").mkdir()
        (tmp_path / "empty" / "calibration_empty.json").write_text(
            (folder / f"calibration_{SEQ}.json").read_text())
        PanopticSequence(tmp_path / "empty", "00_16")
