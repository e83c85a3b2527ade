"""Teacher version 2: MoveNet proposes the people of the whole frame, BlazePose reads each one's landmarks, and one
body gives one label. The first teacher's tiles labelled one close person several times (messi5.jpg: ten people);
on the same real photos version 2 labels each person once."""
import numpy as np
import pytest

from hmr_ros.teacher import BlazePose
from hmr_ros.teacher.movenet_people import MoveNetPeople, Proposals, one_per_proposal
from hmr_ros.recordings.label import keep
from hmr_ros.pretrained import FETCH_BACKBONE, movenet_dir

from real_data import VTEST, need, teacher_dir

import cv2


def photo(name):
    bgr = cv2.imread(str(need(VTEST.with_name(name), "bash scripts/fetch_media.sh")))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def proposer():
    need(movenet_dir() / "movenet-multipose.json", FETCH_BACKBONE)
    return MoveNetPeople(384)


@pytest.fixture(scope="module")
def teacher(proposer):
    return BlazePose(teacher_dir(), "full", proposer=proposer)


@pytest.mark.parametrize("name,people", [("messi5.jpg", 1), ("basketball2.png", 2)])
def test_each_person_of_a_photo_is_labelled_once(teacher, name, people):
    found = [p for p in teacher(photo(name)) if keep(p, 6)]
    assert len(found) == people
    assert teacher.name == "blazepose-full+movenet-multipose@384"


def test_proposals_are_in_image_pixels(proposer):
    rgb = photo("messi5.jpg")                                 # 548 x 342: the footballer spans most of it
    found = proposer(rgb)
    assert len(found.scores) >= 1 and found.scores[0] > 0.5
    x0, y0, x1, y1 = found.boxes[0]
    assert 0 <= x0 < 150 and 0 <= y0 < 120 and 380 < x1 <= 548 and 280 < y1 <= 342
    assert found.keypoints.shape[1:] == (17, 3)


class _Person:
    def __init__(self, box):
        self.box = np.asarray(box, np.float64)


def test_one_label_per_proposal_the_best_first_and_none_without_a_proposal():
    proposals = Proposals(np.array([[0, 0, 100, 200], [300, 0, 400, 200]], np.float64), np.zeros((2, 17, 3)),
                          np.array([0.9, 0.8]))
    best, second, other, nowhere = (_Person([5, 5, 100, 195]), _Person([0, 20, 90, 200]),
                                    _Person([300, 10, 390, 200]), _Person([600, 0, 700, 200]))
    assert one_per_proposal([best, second, other, nowhere], proposals) == [best, other]
    assert one_per_proposal([], proposals) == []
