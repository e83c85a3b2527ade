"""3DPW in its native layout, on sequence files the tests write (Python-2-style pickles, as the dataset ships them):
the camera-frame conversion keeps every vertex where the world-frame parameters put it, joints follow the camera
pose, invalid camera poses are flagged, and malformed or malicious files fail with their path and the reason."""
import os
import pickle

import numpy as np
import pytest
import torch

from hmr_ros.datasets.threedpw import ThreeDPW, read_sequence
from hmr_ros.geometry.rotations_np import rotmat_from_rotvec
from threedpw_files import N, sequence

@pytest.fixture
def root(tmp_path):
    folder = tmp_path / "3DPW" / "sequenceFiles" / "test"
    folder.mkdir(parents=True)
    data = sequence(np.random.default_rng(0))
    with open(folder / "courtyard_test_00.pkl", "wb") as f:
        pickle.dump(data, f, protocol=2)  # what Python 2 wrote
    return tmp_path / "3DPW", data


def test_vertices_land_where_the_world_parameters_put_them(root, body):
    path, data = root
    frames = ThreeDPW(path, "test", body).frames("courtyard_test_00")
    assert len(frames) == N and frames[2].image_path == path / "imageFiles" / "courtyard_test_00" / "image_00002.jpg"
    assert np.allclose(frames[0].K, data["cam_intrinsics"])
    for i in (0, 3):
        R, t = data["cam_poses"][i][:3, :3], data["cam_poses"][i][:3, 3]
        for a, person in enumerate(frames[i].people):
            betas = torch.tensor(data["betas"][a][:10], dtype=torch.float32)[None]
            world_pose = torch.tensor(rotmat_from_rotvec(data["poses"][a][i].reshape(24, 3)), dtype=torch.float32)
            world = body(betas, world_pose[None]).vertices[0].double().numpy() + data["trans"][a][i]
            cam_pose = torch.tensor(rotmat_from_rotvec(np.r_[person.global_orient, person.body_pose].reshape(24, 3)),
                                    dtype=torch.float32)
            cam = body(betas, cam_pose[None]).vertices[0].double().numpy() + person.translation
            assert np.abs(cam - (world @ R.T + t)).max() < 1e-4  # metres
            joints = data["jointPositions"][a][i].reshape(24, 3) @ R.T + t
            assert np.allclose(person.joints, joints, atol=1e-5)
            assert np.allclose(person.keypoints2d, data["poses2d"][a][i].T, atol=1e-3)
    assert [p.valid for p in frames[2].people] == [False, True]


def test_a_malformed_sequence_names_its_file_and_what_is_missing(root):
    path, data = root
    bad = path / "sequenceFiles" / "test" / "courtyard_test_00.pkl"
    del data["cam_poses"]
    bad.write_bytes(pickle.dumps(data, protocol=2))
    with pytest.raises(ValueError, match=r"courtyard_test_00\.pkl: missing cam_poses"):
        read_sequence(bad)
    data["cam_poses"] = np.tile(np.eye(4), (N, 1, 1))
    data["trans"][1] = data["trans"][1][:2]
    bad.write_bytes(pickle.dumps(data, protocol=2))
    with pytest.raises(ValueError, match=r"'trans' of actor 1 has shape \(2, 3\), expected \(4, 3\)"):
        read_sequence(bad)


class Evil:
    def __reduce__(self):
        return os.system, ("echo pwned > /tmp/hmr_ros_pwned",)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"sequence": Evil()}, protocol=2))
    with pytest.raises(ValueError, match=r"evil\.pkl: cannot unpickle .*(posix|os)\.system is not allowed"):
        read_sequence(path)
    assert not os.path.exists("/tmp/hmr_ros_pwned")


def test_split_and_sequence_errors(root):
    path, _ = root
    with pytest.raises(ValueError, match="split must be one of"):
        ThreeDPW(path, "val")
    with pytest.raises(ValueError, match=r"no 3DPW sequence files in .*sequenceFiles/train"):
        ThreeDPW(path, "train")
    with pytest.raises(ValueError, match="has no sequence 'nope' in this split; it has courtyard_test_00"):
        ThreeDPW(path, "test").frames("nope")
