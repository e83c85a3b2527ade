"""The keypoint protocol's numbers, checked against values worked out by hand on constructed frames."""
import numpy as np
import pytest

from hmr_ros.datasets.pseudo_labels import LabelledFrame, LabelledPerson
from hmr_ros.eval.keypoint_protocol import BODY12, match_frame, score, torso_size

#: A standing person's 12 body joints (shoulders y=100, hips y=140: torso 40 px), pixels.
BODY = np.array([[110, 100], [90, 100], [112, 120], [88, 120], [113, 138], [87, 138],
                 [106, 140], [94, 140], [106, 165], [94, 165], [106, 190], [94, 190]], float)


def person(track: int, shift=(0.0, 0.0), confident: int = 12) -> LabelledPerson:
    coco = np.zeros((17, 3), np.float32)
    coco[list(BODY12), :2] = BODY + shift
    coco[list(BODY12), 2] = [1.0] * confident + [0.1] * (12 - confident)
    return LabelledPerson(track, 1.0, np.r_[BODY.min(0) + shift, BODY.max(0) + shift].astype(np.float32), coco,
                          np.zeros((33, 3), np.float32), np.zeros((33, 5), np.float32))


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
