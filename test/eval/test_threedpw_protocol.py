"""The 3DPW protocol on a sequence file the tests write, with predictions built from the ground truth plus known
errors, against values computed by hand: MPJPE, PVE and Accel in mm, misses counted, invalid camera poses skipped."""
import pickle

import numpy as np
import pytest

from hmr_ros.bodies import Body
from hmr_ros.datasets.threedpw import ThreeDPW
from hmr_ros.eval.threedpw_protocol import ThreeDPWProtocol
from hmr_ros.geometry.projection import project
from hmr_ros.smpl.body_model import load_body_model

from threedpw_files import N, sequence


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("3dpw")
    folder = root / "sequenceFiles" / "test"
    folder.mkdir(parents=True)
    data = sequence(np.random.default_rng(0))
    for t in data["trans"]:  # people 2-4 m in front of each camera pose, so they project into the image
        t[:] = 0.0
    with open(folder / "courtyard_test_00.pkl", "wb") as f:
        pickle.dump(data, f, protocol=2)
    body = load_body_model("procedural")
    return ThreeDPW(root, "test", body).frames("courtyard_test_00"), body


def truth(protocol, frame, person):
    v, j = protocol._gt(person)
    return Body(score=1.0, box=np.zeros(4, np.float32), center=project(j[0], frame.K).astype(np.float32),
                betas=person.betas, global_orient=person.global_orient, body_pose=person.body_pose,
                translation=person.translation, joints=j.astype(np.float32), vertices=v.astype(np.float32))


def test_perfect_predictions_score_zero_and_invalid_frames_are_skipped(setup):
    frames, body = setup
    protocol = ThreeDPWProtocol(body)
    protocol.add_sequence(frames, [[truth(protocol, f, p) for p in f.people] for f in frames])
    r = protocol.report()
    assert r.joints == "24 SMPL joints" and r.matched == 2 * N - 1 and r.missed == 0  # actor 0's frame 2 is invalid
    assert r.mpjpe < 1e-3 and r.pa_mpjpe < 1e-3 and r.pve < 1e-3 and r.accel < 1e-3


def test_known_errors_give_the_hand_computed_numbers(setup):
    frames, body = setup
    protocol = ThreeDPWProtocol(body)
    predictions = []
    for f in frames:
        people = []
        for p in f.people:
            b = truth(protocol, f, p)
            if p.actor == 1 and f.index == 1:  # one joint 24 mm off in one frame: MPJPE 24 / 24 = 1 mm there
                b.joints = b.joints.copy()
                b.joints[5, 0] += 0.024
            if p.actor == 0 and f.index == 3:  # actor 0 not found in frame 3: a miss, no error
                continue
            people.append(b)
        predictions.append(people)
    protocol.add_sequence(frames, predictions)
    r = protocol.report()
    assert r.matched == 2 * N - 2 and r.missed == 1
    # MPJPE: 1 mm in one of the 6 scored actor-frames
    assert r.mpjpe == pytest.approx(1.0 / 6, abs=1e-3)
    # Accel (actor 1, frames 0..3, joint 5 bumped in frame 1): |a| per middle frame = 2 * 24 / 24 and 24 / 24 mm;
    # actor 0: frames 0-1 only (2 invalid, 3 missed) -> no middle frame
    assert r.per_frame["accel"] == pytest.approx([2.0, 1.0], abs=1e-3)
    assert r.pve < 1e-3  # the mesh was left exact


def test_a_joint_regressor_of_the_wrong_size_is_refused(setup):
    _, body = setup
    with pytest.raises(ValueError, match=r"shape \(14, 5\), expected \(14, 7166\)"):
        ThreeDPWProtocol(body, np.zeros((14, 5)), "bad.npy")


def test_evaluate_command_runs_the_protocol_on_a_3dpw_folder(tmp_path, capsys):
    """The command end to end on a sequence with images (rendered people, not the sequence's actors): it runs the
    network on every image and reports misses for actors nobody is near."""
    import cv2

    from hmr_ros.cli import main
    from hmr_ros.sim.clips import make_clip

    folder = tmp_path / "sequenceFiles" / "test"
    folder.mkdir(parents=True)
    with open(folder / "courtyard_test_00.pkl", "wb") as f:
        pickle.dump(sequence(np.random.default_rng(0)), f, protocol=2)
    images = tmp_path / "imageFiles" / "courtyard_test_00"
    images.mkdir(parents=True)
    for i, frame in enumerate(make_clip(num_frames=N, width=160, height=120, num_people=2, seed=2).frames):
        cv2.imwrite(str(images / f"image_{i:05d}.jpg"), cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR))
    assert main(["evaluate", "--dataset", "3dpw", "--root", str(tmp_path), "--checkpoint", "synthetic",
                 "--backend", "torch", "--window", "2"]) == 0
    out = capsys.readouterr()
    assert "3DPW (24 SMPL joints)" in out.out and "missed" in out.out and "[1/1] courtyard_test_00" in out.err
    (images / "image_00002.jpg").unlink()
    assert main(["evaluate", "--dataset", "3dpw", "--root", str(tmp_path), "--backend", "torch", "--window", "2"]) == 2
    assert "image_00002.jpg is missing or unreadable" in capsys.readouterr().err
