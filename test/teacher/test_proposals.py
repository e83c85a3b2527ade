"""Where the teacher looks, and how overlapping finds are merged."""
import math

import numpy as np

from hmr_ros.teacher.proposals import box_iou, box_regions, nms, rotated_square, tile_regions


def test_tiles_cover_the_image_at_every_scale_with_the_last_flush_to_the_border():
    regions = tile_regions(768, 576, sizes=(192, 288), overlap=0.5, whole=True)
    for side in (192, 288):
        tiles = regions[regions[:, 2] == side]
        assert tiles[:, 0].min() == 0 and tiles[:, 1].min() == 0
        assert tiles[:, 0].max() + side == 768 and tiles[:, 1].max() + side == 576
    whole = regions[regions[:, 2] == 768]
    assert len(whole) == 1 and np.allclose(whole[0], (0, -96, 768))


def test_a_tile_larger_than_the_image_is_capped_to_its_short_side():
    regions = tile_regions(300, 200, sizes=(432,), whole=False)
    assert (regions[:, 2] == 200).all() and regions[:, 0].max() + 200 == 300


def test_box_regions_are_squares_around_the_box():
    (x0, y0, side), = box_regions([[100, 100, 120, 200]], margin=1.5, min_side=10)
    assert side == 150 and (x0 + side / 2, y0 + side / 2) == (110, 150)


def test_nms_keeps_the_best_of_overlapping_boxes_and_separate_ones():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], float)
    assert nms(boxes, np.array([0.5, 0.9, 0.1]), iou=0.3) == [1, 2]
    assert np.isclose(box_iou(boxes[:1], boxes[1:2])[0, 0], 81 / 119)


def test_rotated_square_is_upright_for_a_standing_person_and_leans_with_the_body():
    centre, side, rotation = rotated_square((100, 200), (100, 150))
    assert np.allclose(centre, (100, 200)) and side == 2 * 50 * 1.25 and rotation == 0
    _, _, lean = rotated_square((100, 200), (150, 150))     # body axis up and to the image's right
    assert math.isclose(lean, math.pi / 4)
