"""BEDLAM's processed labels, on an npz the tests write the way BEDLAM's scripts do (one row per person)."""
import numpy as np
import pytest

from hmr_ros.datasets.bedlam import BedlamScene


def write(path, pose_values=72, rows=3, drop=None):
    rng = np.random.default_rng(0)
    ext = np.tile(np.eye(4), (rows, 1, 1))
    ext[:, :3, 3] = [0.1, -0.2, 0.3]
    fields = dict(imgname=np.array(["seq_000001/seq_000001_0005.png", "seq_000001/seq_000001_0000.png",
                                    "seq_000001/seq_000001_0005.png"][:rows]),
                  pose_cam=rng.normal(0, 0.2, (rows, pose_values)), shape=rng.normal(0, 1, (rows, 11)),
                  trans_cam=rng.normal(0, 1, (rows, 3)), cam_ext=ext,
                  cam_int=np.tile([[1000.0, 0, 640], [0, 1000.0, 360], [0, 0, 1]], (rows, 1, 1)),
                  gtkps=rng.uniform(0, 700, (rows, 24, 3)), center=rng.uniform(0, 700, (rows, 2)))
    if drop:
        del fields[drop]
    np.savez(path, **fields)
    return fields


def test_people_grouped_by_image_in_the_camera_frame(tmp_path):
    labels = tmp_path / "20221010_3_1000_batch01hand.npz"
    f = write(labels)
    images = BedlamScene(labels, tmp_path / "images").images()
    assert [im.path.name for im in images] == ["seq_000001_0000.png", "seq_000001_0005.png"]
    assert images[1].path == tmp_path / "images" / labels.stem / "png" / "seq_000001" / "seq_000001_0005.png"
    assert len(images[0].people) == 1 and len(images[1].people) == 2 and images[0].K[0, 0] == 1000.0
    p = images[1].people[1]  # row 2
    assert np.allclose(p.translation, f["trans_cam"][2] + [0.1, -0.2, 0.3], atol=1e-6)  # BEDLAM keeps cam_t apart
    assert np.allclose(p.global_orient, f["pose_cam"][2][:3]) and np.allclose(p.body_pose, f["pose_cam"][2][3:])
    assert p.betas.shape == (10,) and p.keypoints2d.shape == (24, 2) and not p.smplx_betas


def test_smplx_labels_keep_the_body_joints_and_say_their_betas_are_smplx(tmp_path):
    labels = tmp_path / "scene.npz"
    f = write(labels, pose_values=165)
    p = BedlamScene(labels, tmp_path).images()[0].people[0]
    assert p.smplx_betas and p.body_pose.shape == (69,)
    assert np.allclose(p.body_pose[:63], f["pose_cam"][1][3:66]) and not p.body_pose[63:].any()


@pytest.mark.parametrize("change, message", [
    (dict(drop="cam_int"), "missing cam_int"),
    (dict(pose_values=50), "pose_cam has 50 values per row"),
])
def test_malformed_labels_say_what_is_wrong(tmp_path, change, message):
    labels = tmp_path / "scene.npz"
    write(labels, **change)
    with pytest.raises(ValueError, match=message):
        BedlamScene(labels, tmp_path)
    with pytest.raises(ValueError, match="cannot read as npz"):
        BedlamScene(tmp_path / "missing.npz", tmp_path)
