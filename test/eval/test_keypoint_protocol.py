"""The keypoint protocol's numbers, checked against values worked out by hand on constructed frames."""
import numpy as np
import pytest

from hmr_ros.datasets.pseudo_labels import LabelledFrame, LabelledPerson
from hmr_ros.eval.keypoint_protocol import (BLAZEPOSE_OF_BODY12, BODY12, format_keypoints, match_frame, score,
                                            torso_size)

#: A standing person's 12 body joints (shoulders y=100, hips y=140: torso 40 px), pixels.
BODY = np.array([[110, 100], [90, 100], [112, 120], [88, 120], [113, 138], [87, 138],
                 [106, 140], [94, 140], [106, 165], [94, 165], [106, 190], [94, 190]], float)


#: The same person's 12 joints in 3D, metres, hip-centred, camera axes (y down): arms out, one knee bent forward.
WORLD = np.array([[0.2, -0.5, 0.0], [-0.2, -0.5, 0.0], [0.45, -0.45, 0.05], [-0.3, -0.25, 0.0],
                  [0.7, -0.45, 0.1], [-0.3, 0.0, -0.1], [0.1, 0.0, 0.0], [-0.1, 0.0, 0.0],
                  [0.1, 0.45, -0.2], [-0.1, 0.45, 0.0], [0.1, 0.85, -0.1], [-0.1, 0.9, 0.0]])


def person(track: int, shift=(0.0, 0.0), confident: int = 12, world=None) -> LabelledPerson:
    coco = np.zeros((17, 3), np.float32)
    coco[list(BODY12), :2] = BODY + shift
    coco[list(BODY12), 2] = [1.0] * confident + [0.1] * (12 - confident)
    world33 = np.zeros((33, 3), np.float32)          # all zero: no 3D label, as a COCO file's people
    if world is not None:
        world33[list(BLAZEPOSE_OF_BODY12)] = world
    return LabelledPerson(track, 1.0, np.r_[BODY.min(0) + shift, BODY.max(0) + shift].astype(np.float32), coco,
                          world33, np.zeros((33, 5), np.float32))


def frame(n: int, *people) -> LabelledFrame:
    return LabelledFrame(n, n / 10, None, list(people))


def test_torso_is_shoulders_to_hips():
    assert torso_size(person(1).coco17) == pytest.approx(40.0)


def test_exact_predictions_score_one():
    r = score([frame(0, person(1), person(2, (200, 0)))], [[BODY, BODY + (200, 0)]])
    assert (r.recall, r.precision, r.f1, r.pck) == (1.0, 1.0, 1.0, 1.0) and r.pck_joints == 24


def test_a_prediction_half_a_torso_off_matches_but_misses_pck():
    # every joint 24 px off (0.6 torso): matched (<= 1 torso), no joint within 20 px
    r = score([frame(0, person(1))], [[BODY + (24, 0)]])
    assert r.matched == 1 and r.pck == 0.0
    r = score([frame(0, person(1))], [[BODY + (19, 0)]])
    assert r.pck == 1.0
    r = score([frame(0, person(1))], [[BODY + (41, 0)]])        # beyond one torso: a miss and a false person
    assert (r.recall, r.precision) == (0.0, 0.0)


def test_extra_predictions_cost_precision_and_missed_people_recall():
    r = score([frame(0, person(1), person(2, (200, 0))), frame(1, person(1))],
              [[BODY, BODY + (400, 0)], [BODY]])
    assert r.labelled == 3 and r.matched == 2 and r.predicted == 3
    assert r.recall == pytest.approx(2 / 3) and r.precision == pytest.approx(2 / 3) and r.f1 == pytest.approx(2 / 3)


def test_people_with_few_confident_joints_are_ignored_either_way():
    few = person(2, (200, 0), confident=5)
    r = score([frame(0, person(1), few)], [[BODY, BODY + (200, 0)]])      # found: not a false person
    assert (r.labelled, r.ignored, r.predicted, r.matched) == (1, 1, 1, 1) and r.precision == 1.0
    r = score([frame(0, person(1), few)], [[BODY]])                       # missed: not a miss
    assert r.recall == 1.0
    pairs, ignored = match_frame([BODY + (200, 0)], [few])
    assert pairs == [] and ignored == [0]


def test_jitter_is_the_mean_second_difference_over_matched_triples():
    frames = [frame(t, person(7, (3.0 * t, 0))) for t in range(4)]
    steady = [[BODY + (3.0 * t, 0)] for t in range(4)]
    r = score(frames, steady)
    assert r.jitter_triples == 2 and r.jitter_px == pytest.approx(0.0) and r.label_jitter_px == pytest.approx(0.0)
    shaky = [[BODY + (3.0 * t + (2.0 if t % 2 else 0.0), 0)] for t in range(4)]   # 0, 5, 6, 11: |+-4| px
    assert score(frames, shaky).jitter_px == pytest.approx(4.0)


def test_pck_by_joint_names_the_joints_that_miss():
    off = BODY.copy()
    off[[6, 7]] += (0, 25)                      # both hips 25 px low: beyond half a torso (20 px)
    r = score([frame(0, person(1))], [[off]])
    assert r.pck_by_joint["l_hip"] == 0.0 and r.pck_by_joint["r_hip"] == 0.0 and r.pck_by_joint["l_knee"] == 1.0
    assert r.pck == pytest.approx(10 / 12)


def similar(points: np.ndarray, scale: float = 0.8, angle: float = 0.7, offset=(0.3, -0.2, 4.0)) -> np.ndarray:
    """``points`` scaled, turned about the vertical (y) axis and moved: what PA-MPJPE does not see."""
    c, s = np.cos(angle), np.sin(angle)
    return scale * points @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).T + offset


def test_a_3d_prediction_equal_to_the_label_up_to_a_similarity_scores_zero_and_the_mean_pose_does_not():
    other = WORLD * [1.0, 1.0, -1.0]                 # the second person bends the other way
    frames = [frame(0, person(1, world=WORLD), person(2, (200, 0), world=other))]
    r = score(frames, [[BODY, BODY + (200, 0)]], joints_3d=[[similar(WORLD), similar(other, 1.3, -2.0)]])
    assert r.pa_people == 2 and r.pa_mpjpe_mm == pytest.approx(0.0, abs=1e-3)
    assert r.mean_pose_pa_mpjpe_mm > 10.0 and r.pa_ratio == pytest.approx(0.0, abs=1e-4)
    # predicting the mean pose (hip-centred labels averaged) is the baseline exactly: ratio 1
    mean = (WORLD + other) / 2 - (WORLD + other)[[6, 7]].mean(0) / 2
    r2 = score(frames, [[BODY, BODY + (200, 0)]], joints_3d=[[similar(mean), similar(mean, 1.1, 0.3)]])
    assert r2.pa_mpjpe_mm == pytest.approx(r.mean_pose_pa_mpjpe_mm) and r2.pa_ratio == pytest.approx(1.0)


def test_a_prediction_collapsed_to_a_point_scores_the_labels_mean_distance_from_their_centroid():
    # the best scale for a point is 0: every joint lands on the label's centroid
    r = score([frame(0, person(1, world=WORLD))], [[BODY]], joints_3d=[[np.full((12, 3), 2.0)]])
    expected = 1000 * np.linalg.norm(WORLD - WORLD.mean(0), axis=1).mean()
    assert r.pa_mpjpe_mm == pytest.approx(expected)
    # one person: the mean pose is the label itself
    assert r.mean_pose_pa_mpjpe_mm == pytest.approx(0.0, abs=1e-3)


def test_3d_is_scored_on_the_confident_joints_of_people_with_at_least_six_and_a_3d_label():
    wrong_legs = WORLD.copy()
    wrong_legs[8:] += [0.3, 0.0, 0.2]                 # knees and ankles far off, but they are not confident
    r = score([frame(0, person(1, confident=8, world=WORLD))], [[BODY]], joints_3d=[[wrong_legs]])
    assert r.pa_people == 1 and r.pa_mpjpe_mm == pytest.approx(0.0, abs=1e-3)
    r = score([frame(0, person(1, confident=8, world=WORLD))], [[BODY]], min_joints=5, joints_3d=[[WORLD]])
    assert r.pa_people == 1
    r = score([frame(0, person(1, confident=5, world=WORLD))], [[BODY]], min_joints=5, joints_3d=[[WORLD]])
    assert r.matched == 1 and r.pa_people == 0 and np.isnan(r.pa_mpjpe_mm)   # 5 confident joints: too few
    r = score([frame(0, person(1))], [[BODY]], joints_3d=[[WORLD]])          # no world landmarks (a COCO file)
    assert r.matched == 1 and r.pa_people == 0 and "3D: no person scored" in format_keypoints(r)
    r = score([frame(0, person(1, world=WORLD))], [[BODY]])                   # no 3D predictions: 2D callers
    assert r.pa_people == 0 and r.pck == 1.0


def test_the_3d_line_reports_prediction_mean_pose_and_ratio():
    other = WORLD * [1.0, 1.0, -1.0]
    frames = [frame(0, person(1, world=WORLD), person(2, (200, 0), world=other))]
    r = score(frames, [[BODY, BODY + (200, 0)]], joints_3d=[[WORLD, WORLD]])
    assert r.pa_people == 2 and 0 < r.pa_ratio < 2
    assert (f"3D on 2 people (12 body joints vs the teacher's world landmarks, >= 6 confident): PA-MPJPE "
            f"{r.pa_mpjpe_mm:.1f} mm, mean pose {r.mean_pose_pa_mpjpe_mm:.1f} mm, ratio {r.pa_ratio:.2f}") \
        in format_keypoints(r)


def test_evaluate_keypoints_scores_the_published_bodies_in_3d_on_a_label_directory(tmp_path):
    """The 3D joints of the node's bodies reach the score: rendered people, labelled with their true joints."""
    import json

    import cv2

    from hmr_ros.datasets.clips import COCO_SLOTS
    from hmr_ros.datasets.coco import COCO17
    from hmr_ros.datasets.pseudo_labels import FORMAT, LABELS, MANIFEST
    from hmr_ros.estimator import EstimatorConfig
    from hmr_ros.eval.keypoint_protocol import SMPL_OF_BODY12, evaluate_keypoints
    from hmr_ros.sim.clips import make_clip

    clip = make_clip(num_frames=3, width=160, height=120, num_people=2, seed=1)
    (tmp_path / "images").mkdir()
    rows = []
    for n, f in enumerate(clip.frames):
        cv2.imwrite(str(tmp_path / "images" / f"{n:06d}.jpg"), cv2.cvtColor(f.rgb, cv2.COLOR_RGB2BGR))
        people = []
        for k, p in enumerate(f.people):
            coco = np.zeros((17, 3))
            coco[list(BODY12)] = np.c_[p.joints_2d[[COCO_SLOTS[COCO17[i]] for i in BODY12]], np.ones(12)]
            world = np.zeros((33, 3))
            world[list(BLAZEPOSE_OF_BODY12)] = p.joints[list(SMPL_OF_BODY12)] - p.joints[[1, 2]].mean(0)
            people.append({"id": k, "score": 1.0, "box": p.box.tolist(), "coco17": coco.tolist(),
                           "landmarks": np.zeros((33, 5)).tolist(), "world": world.tolist()})
        rows.append({"frame": n, "stamp": n / clip.fps, "image": f"images/{n:06d}.jpg", "skipped": None,
                     "people": people})
    (tmp_path / LABELS).write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / MANIFEST).write_text(json.dumps({"format": FORMAT, "fps": clip.fps, "width": 160, "height": 120,
                                                 "K": clip.K.tolist(), "holdout_from": 0, "frames": 3}))
    config = EstimatorConfig.from_checkpoint("synthetic", window=1, backend="torch")
    r = evaluate_keypoints(config, tmp_path)
    assert r.frames == 3 and r.labelled == 6 and r.matched >= 3     # the weights see their own rendered people
    assert r.pa_people == r.matched and 0.0 < r.pa_mpjpe_mm < 200.0 and r.mean_pose_pa_mpjpe_mm > 0.0
    assert "3D on" in format_keypoints(r)
