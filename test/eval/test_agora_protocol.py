"""The AGORA protocol: its greedy matching rule case by case, and F1 / MPJPE / MVE / NMJE / NMVE by hand on
predictions built from the ground truth with known errors; then the evaluate command on converted tables."""
from pathlib import Path

import numpy as np
import pytest

from hmr_ros.bodies import Body
from hmr_ros.datasets.agora import AgoraImage, AgoraPerson, agora_intrinsics
from hmr_ros.eval.agora_protocol import AgoraProtocol, format_agora, keypoint_box_iou, match_agora
from hmr_ros.geometry.projection import project

K = agora_intrinsics("scene_cam00_00000.png", 1280, 720)


def square(x0: float, y0: float, side: float = 100.0) -> np.ndarray:
    """24 points filling the box [x0, x0 + side] x [y0, y0 + side]."""
    t = np.linspace(0, side, 24)
    return np.stack([x0 + t, y0 + t[::-1]], axis=1)


def test_keypoint_box_iou_counts_inclusive_pixels():
    assert keypoint_box_iou(square(0, 0), square(0, 0)) == 1.0
    # boxes of 101 x 101 pixels sharing 51 x 101: 5151 / (2 * 10201 - 5151)
    assert keypoint_box_iou(square(0, 0), square(50, 0)) == pytest.approx(5151 / 15251)


def test_cheapest_pairs_match_first_and_distant_predictions_are_false_positives():
    people = [square(0, 0), square(400, 0)]
    preds = [square(405, 0), square(3, 0), square(900, 500)]
    m = match_agora(preds, people, [True, True])
    assert sorted(m.pairs) == [(0, 1), (1, 0)] and m.false_positives == 1 and m.misses == 0


def test_a_prediction_on_an_occluded_person_is_a_false_positive_and_the_person_no_miss():
    m = match_agora([square(0, 0)], [square(1, 0)], [False])
    assert m.pairs == [] and m.false_positives == 1 and m.misses == 0


def test_overlap_below_the_threshold_is_no_match():
    m = match_agora([square(0, 0)], [square(95, 0)], [True])  # IoU 6 x 101 / (2 * 10201 - 606) = 0.031
    assert m.pairs == [] and m.false_positives == 1 and m.misses == 1


def body(joints: np.ndarray, vertices: np.ndarray) -> Body:
    uv = project(joints, K)
    return Body(score=1.0, box=np.r_[uv.min(0), uv.max(0)].astype(np.float32), center=uv[0].astype(np.float32),
                betas=np.zeros(10, np.float32), global_orient=np.zeros(3, np.float32),
                body_pose=np.zeros(69, np.float32), translation=np.zeros(3, np.float32),
                joints=joints.astype(np.float32), vertices=vertices.astype(np.float32))


def agora_person(rng, x: float, valid: bool = True) -> AgoraPerson:
    joints = rng.normal(0, 0.25, (24, 3)) + [x, 0.0, 6.0]
    return AgoraPerson(project(joints, K), joints, rng.normal(0, 0.3, (6890, 3)) + [x, 0.0, 6.0], 10.0, valid, False)


def test_known_errors_give_the_hand_computed_numbers():
    rng = np.random.default_rng(0)
    seen, missed = agora_person(rng, -0.5), agora_person(rng, -3.0)
    image = AgoraImage(Path("a.png"), 0, K, [seen, missed])
    joints = seen.joints3d.copy()
    joints[5, 0] += 0.024                                  # one joint of 24 (not a hip) 24 mm off: MPJPE 1 mm
    shift = np.array([0.0, 0.0, 0.4])                       # 40 cm deeper: the hip alignment removes it
    near = body(joints + shift, seen.vertices + shift)
    far = body(seen.joints3d + [4.0, 0.0, 0.0], seen.vertices)  # beside nobody: a false positive
    protocol = AgoraProtocol()
    protocol.add_image(image, [near, far])
    r = protocol.report()
    assert (r.people, r.matched, r.misses, r.false_positives) == (2, 1, 1, 1)
    assert r.precision == r.recall == r.f1 == 0.5             # TP 1 / (1 + (1 + 1) / 2)
    # Body holds float32: at 6 m its spacing is 0.5 um, so "exact" here is to 1 um
    assert r.mpjpe == pytest.approx(1.0, abs=1e-3) and r.mve == pytest.approx(0.0, abs=1e-3)
    assert r.nmje == pytest.approx(2.0, abs=2e-3) and r.nmve == pytest.approx(0.0, abs=2e-3)
    assert "F1 0.500" in format_agora(r) and "NMJE 2.0 mm" in format_agora(r)


def test_a_mesh_that_is_not_smpl_gets_no_vertex_error():
    rng = np.random.default_rng(1)
    seen = agora_person(rng, 0.0)
    protocol = AgoraProtocol()
    protocol.add_image(AgoraImage(Path("a.png"), 0, K, [seen]), [body(seen.joints3d, np.zeros((7166, 3)))])
    r = protocol.report()
    assert r.mpjpe == pytest.approx(0.0, abs=1e-3) and np.isnan(r.mve) and "7166 vertices" in r.vertices


def test_evaluate_command_on_converted_tables(tmp_path, capsys):
    import cv2

    from hmr_ros.cli import main

    pandas = pytest.importorskip("pandas")
    from agora_files import IMAGES, table

    table(np.random.default_rng(0)).to_pickle(tmp_path / "validation_0.pkl")
    assert main(["convert-agora", str(tmp_path / "validation_0.pkl"), "--out", str(tmp_path / "gt"),
                 "--trust-pickles"]) == 0
    (tmp_path / "img").mkdir()
    for name in IMAGES:  # the 1280 x 720 release's file names
        cv2.imwrite(str(tmp_path / "img" / name.replace(".png", "_1280x720.png")), np.zeros((72, 128, 3), np.uint8))
    args = ["evaluate", "--dataset", "agora", "--root", str(tmp_path / "gt"), "--images", str(tmp_path / "img"),
            "--backend", "torch", "--window", "2", "--input-size", "64", "--width", "w18",
            "--json", str(tmp_path / "agora.json")]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "AGORA (24 SMPL joints" in out.out and "2 valid people" in out.out  # one valid person per image
    assert "[1/1] validation_0.npz: 2 images" in out.err and (tmp_path / "agora.json").is_file()
    assert main(args[:-2] + ["--images", str(tmp_path / "nothing")]) == 2
    assert "AGORA image" in capsys.readouterr().err
    pickles = ["evaluate", "--dataset", "agora", "--root", str(tmp_path), "--images", str(tmp_path / "img"),
               "--backend", "torch", "--window", "2", "--input-size", "64", "--width", "w18"]
    assert main(pickles) == 2 and "pass --trust-pickles" in capsys.readouterr().err
    assert main(pickles + ["--trust-pickles"]) == 0  # two commands from the download: train, then this
    assert "converted 1 pickled AGORA tables" in capsys.readouterr().err
    assert pandas is not None
