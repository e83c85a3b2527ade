"""The pose detector's SSD anchors and the decoding of its raw outputs into boxes and alignment keypoints.

``pose_detection.tflite`` (BlazePose detector, 224 x 224 input) predicts, per anchor, a box and 4 keypoints as
offsets in input pixels from the anchor centre, and a logit. The anchors are MediaPipe's SSD layout for this model:
5 layers of strides 8, 16, 32, 32, 32 (feature maps 28, 14, 7, 7, 7), two unit-size anchors per cell, offset 0.5:
28²·2 + 14²·2 + 3·7²·2 = 2,254.

Keypoints of a detection: 0 the hips' midpoint, 1 a point that with 0 spans the whole body (its distance is half
the body's extent, its direction the body's up axis), 2 the shoulders' midpoint, 3 the same for the upper body.
"""
from __future__ import annotations

import numpy as np

INPUT_SIZE = 224
STRIDES = (8, 16, 32, 32, 32)
ANCHORS_PER_CELL = 2


def ssd_anchors(size: int = INPUT_SIZE, strides=STRIDES) -> np.ndarray:
    """(N, 2) anchor centres (x, y) in [0, 1] of the input, in the model's output order (N = 2,254 at 224)."""
    out = []
    for stride in strides:
        cells = -(-size // stride)
        y, x = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        centres = np.stack([x.ravel(), y.ravel()], 1)
        out.append(np.repeat(centres, ANCHORS_PER_CELL, axis=0))
    return np.concatenate(out).astype(np.float32)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, min_score: float,
           size: int = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw detector outputs -> the detections scoring at least ``min_score``.

    Args:
        raw_boxes: (N, 12) per anchor: box centre x, y, width, height, then 4 keypoints (x, y); input pixels,
            centre and keypoints relative to the anchor centre.
        raw_scores: (N,) or (N, 1) logits. anchors: (N, 2) from :func:`ssd_anchors`.
    Returns:
        boxes (M, 4) x0, y0, x1, y1; keypoints (M, 4, 2) x, y; scores (M,) in [0, 1]; all in [0, 1] of the input.
    """
    logits = np.clip(np.asarray(raw_scores, np.float64).reshape(-1), -100.0, 100.0)  # MediaPipe's clipping
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = scores >= min_score
    raw, a = np.asarray(raw_boxes, np.float32)[keep] / size, anchors[keep]
    centre, half = raw[:, :2] + a, raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], 1)
    keypoints = raw[:, 4:12].reshape(-1, 4, 2) + a[:, None]
    return boxes, keypoints, scores[keep]
