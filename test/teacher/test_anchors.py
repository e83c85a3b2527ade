"""The detector's anchors and decoding, against the layout MediaPipe documents for pose_detection.tflite."""
import numpy as np

from hmr_ros.teacher.anchors import decode, ssd_anchors


def test_2254_anchors_in_model_order():
    a = ssd_anchors()
    assert a.shape == (2254, 2)
    # first layer: 28 x 28 cells of stride 8, two anchors per cell, row-major
    assert np.allclose(a[0], a[1]) and np.allclose(a[0], (0.5 / 28, 0.5 / 28))
    assert np.allclose(a[2], (1.5 / 28, 0.5 / 28))
    # the last three layers share the 7 x 7 grid
    assert np.allclose(a[-1], (6.5 / 7, 6.5 / 7))
    assert ((a > 0) & (a < 1)).all()


def test_decode_offsets_boxes_and_keypoints_from_their_anchor():
    anchors = ssd_anchors()
    raw = np.zeros((2254, 12), np.float32)
    logits = np.full(2254, -10.0, np.float32)
    i = 100
    raw[i, :4] = (22.4, -11.2, 44.8, 89.6)       # +0.1, -0.05 in x, y; 0.2 x 0.4 of the input
    raw[i, 4:6] = (0.0, 0.0)                     # hips' midpoint on the anchor
    raw[i, 6:8] = (0.0, -44.8)                   # body point 0.2 above
    logits[i] = 3.0
    boxes, keypoints, scores = decode(raw, logits, anchors, min_score=0.5)
    assert len(scores) == 1 and np.isclose(scores[0], 1 / (1 + np.exp(-3.0)))
    cx, cy = anchors[i] + (0.1, -0.05)
    assert np.allclose(boxes[0], (cx - 0.1, cy - 0.2, cx + 0.1, cy + 0.2), atol=1e-6)
    assert np.allclose(keypoints[0, 0], anchors[i]) and np.allclose(keypoints[0, 1], anchors[i] + (0, -0.2))


def test_scores_below_the_threshold_and_huge_logits_are_safe():
    anchors = ssd_anchors()
    logits = np.full(2254, 1e6, np.float32)   # clipped as MediaPipe clips, no overflow
    logits[:10] = -1e6
    _, _, scores = decode(np.zeros((2254, 12)), logits, anchors, min_score=0.5)
    assert len(scores) == 2244 and np.isfinite(scores).all()
