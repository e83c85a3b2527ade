"""The CMU Panoptic protocol on a sequence the tests write, with predictions built from the ground truth plus known
errors: per-activity MPJPE in mm by hand, misses counted, the regressor path and the shared-joint path."""
import numpy as np
import pytest

from hmr_ros.bodies import Body
from hmr_ros.datasets.panoptic import COCO19, PanopticSequence
from hmr_ros.eval.panoptic_protocol import SHARED, PanopticProtocol, activity, format_panoptic
from test_panoptic import SEQ, write_sequence


@pytest.fixture
def frames(tmp_path):
    folder, _, _ = write_sequence(tmp_path)
    return PanopticSequence(folder, "00_16").frames()


def body_from(person, vertices=None) -> Body:
    joints = np.zeros((24, 3), np.float32)
    for c, s in SHARED.items():
        joints[s] = person.joints[COCO19.index(c)]
    return Body(score=1.0, box=np.zeros(4, np.float32), center=person.keypoints2d[COCO19.index("pelvis")],
                betas=np.zeros(10, np.float32), global_orient=np.zeros(3, np.float32),
                body_pose=np.zeros(69, np.float32), translation=np.zeros(3, np.float32), joints=joints,
                vertices=person.joints if vertices is None else vertices)


def test_known_errors_give_the_hand_computed_mpjpe(frames):
    predictions = [[body_from(p) for p in f.people] for f in frames]
    predictions[1][0].joints = predictions[1][0].joints.copy()
    predictions[1][0].joints[SHARED["l_wrist"], 0] += 0.014   # 14 mm on one of 14 joints: 1 mm for that person
    del predictions[0][1]                                      # person 1 not found in frame 0: a miss
    protocol = PanopticProtocol()
    protocol.add_sequence(SEQ, frames, predictions)
    r = protocol.report()
    assert activity(SEQ) == "haggling" and r.joints == "14 joints shared by SMPL and COCO-19"
    assert r.matched["haggling"] == 3 and r.missed["haggling"] == 1
    assert r.mpjpe["haggling"] == pytest.approx(1.0 / 3, abs=1e-3) and r.mpjpe["mean"] == r.mpjpe["haggling"]
    assert np.isnan(r.mpjpe["pizza"]) and "haggling 0.3 mm (3 matched, 1 missed)" in format_panoptic(r)


def test_a_regressor_onto_coco19_scores_every_confident_joint(frames):
    protocol = PanopticProtocol(np.eye(19), "identity.npy")  # the "mesh" is the 19 joints themselves
    protocol.add_sequence(SEQ, frames, [[body_from(p) for p in f.people] for f in frames])
    r = protocol.report()
    assert r.joints == "COCO-19 joints (regressor identity.npy)" and r.mpjpe["haggling"] < 1e-3
    with pytest.raises(ValueError, match="expected \\(19, V\\)"):
        PanopticProtocol(np.eye(14))
    with pytest.raises(ValueError, match="not one of the activities"):
        PanopticProtocol().add_sequence("171204_pose1", frames, [[] for _ in frames])


def test_evaluate_command_on_a_panoptic_folder(tmp_path, capsys):
    import cv2

    from hmr_ros.cli import main

    folder, _, _ = write_sequence(tmp_path)
    (folder / "hdImgs" / "00_16").mkdir(parents=True)
    for frame in (120, 121):
        cv2.imwrite(str(folder / "hdImgs" / "00_16" / f"00_16_{frame:08d}.jpg"), np.zeros((108, 192, 3), np.uint8))
    assert main(["evaluate", "--dataset", "panoptic", "--root", str(tmp_path), "--backend", "torch",
                 "--window", "2"]) == 0
    out = capsys.readouterr()
    assert "CMU Panoptic MPJPE (14 joints shared by SMPL and COCO-19)" in out.out and "missed" in out.out
    assert f"[1/1] {SEQ}: 2 frames" in out.err
    assert main(["evaluate", "--dataset", "panoptic", "--root", str(tmp_path / "nothing_here")]) == 2
