"""AGORA: the converter reads the pickled pandas tables only when trusted and writes npz; the reader checks that npz,
rescales the 2D joints to the rendered size and gives AGORA's camera per scene."""
import numpy as np
import pytest

from hmr_ros.cli import main
from hmr_ros.datasets.agora import AgoraTable, agora_intrinsics
from hmr_ros.datasets.agora_convert import convert_table

pandas = pytest.importorskip("pandas")  # the converter's own dependency (the test extra installs it)

from agora_files import IMAGES, table  # noqa: E402


@pytest.fixture
def pickled(tmp_path):
    path = tmp_path / "validation_0_withjv.pkl"
    table(np.random.default_rng(0)).to_pickle(path)
    return path


def test_a_converted_table_reads_back_with_joints_rescaled_to_the_images(pickled, tmp_path):
    npz = convert_table(pickled, tmp_path / "gt", trust=True)
    frame = pandas.read_pickle(pickled)
    images = AgoraTable(npz, tmp_path / "img", 1280, 720).images()
    assert [i.image_path.name for i in images] == list(IMAGES) and [len(i.people) for i in images] == [2, 2]
    first = images[0].people[0]
    assert np.allclose(first.joints2d, frame.gt_joints_2d[0][0][:24] / 3, atol=1e-3)  # 3840 -> 1280
    assert np.allclose(first.joints3d, frame.gt_joints_3d[0][0][:24], atol=1e-6)
    assert first.vertices.shape == (6890, 3) and first.valid and not images[0].people[1].valid
    assert images[0].people[1].occlusion == 95.0


def test_agora_camera_follows_the_scene():
    assert agora_intrinsics("x_hdri_50mm_00000.png", 3840, 2160)[0, 0] == pytest.approx(50 / 36 * 3840)
    assert agora_intrinsics("x_cam02_00000.png", 1280, 720)[0, 0] == pytest.approx(18 / 36 * 1280)
    K = agora_intrinsics("ag2_x_00000.png", 1280, 720)
    assert K[0, 0] == pytest.approx(28 / 36 * 1280) == pytest.approx(K[1, 1]) and tuple(K[:2, 2]) == (640, 360)


def test_pickles_convert_only_when_trusted(pickled, tmp_path, capsys):
    with pytest.raises(ValueError, match="can run code.*--trust-pickles"):
        convert_table(pickled, tmp_path / "gt")
    assert main(["convert-agora", str(pickled), "--out", str(tmp_path / "gt")]) == 2
    assert main(["convert-agora", str(pickled), "--out", str(tmp_path / "gt"), "--trust-pickles"]) == 0
    assert (tmp_path / "gt" / "validation_0_withjv.npz").is_file() and "[1/1]" in capsys.readouterr().out


def test_bad_tables_fail_with_the_path_and_what_was_expected(pickled, tmp_path):
    smplx = table(np.random.default_rng(1))
    smplx["gt_verts"] = [[np.zeros((10475, 3))] * 2 for _ in range(len(smplx))]
    smplx.to_pickle(tmp_path / "smplx.pkl")
    with pytest.raises(ValueError, match=r"smplx.pkl: gt_verts .* \(6890, 3\): only AGORA's SMPL tables"):
        convert_table(tmp_path / "smplx.pkl", tmp_path / "gt", trust=True)
    table(np.random.default_rng(1)).drop(columns=["isValid"]).to_pickle(tmp_path / "old.pkl")
    with pytest.raises(ValueError, match="old.pkl: missing columns isValid"):
        convert_table(tmp_path / "old.pkl", tmp_path / "gt", trust=True)
    (tmp_path / "broken.pkl").write_bytes(pickled.read_bytes()[:100])
    with pytest.raises(ValueError, match="broken.pkl: cannot read as a pandas pickle"):
        convert_table(tmp_path / "broken.pkl", tmp_path / "gt", trust=True)
    npz = convert_table(pickled, tmp_path / "gt", trust=True)
    data = dict(np.load(npz))
    np.savez(tmp_path / "short.npz", **{k: v for k, v in data.items() if k != "kid"})
    with pytest.raises(ValueError, match="short.npz: missing kid"):
        AgoraTable(tmp_path / "short.npz", tmp_path)
    np.savez(tmp_path / "cut.npz", **{**data, "joints3d": data["joints3d"][:, :17]})
    with pytest.raises(ValueError, match=r"cut.npz: joints3d has shape \(4, 17, 3\), expected \(4, 24, 3\)"):
        AgoraTable(tmp_path / "cut.npz", tmp_path)
