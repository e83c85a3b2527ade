"""Where the teacher looks: square image regions (tiles at several scales, regions around known boxes) and the
box NMS that merges what it finds in overlapping regions.

The BlazePose detector sees one 224 x 224 square and finds people that fill a good part of it; on a 768 x 576
street frame with 60-150 px pedestrians it finds nobody in the whole frame, but most of them in 192-384 px tiles.
So the teacher runs it on every region of :func:`tile_regions` plus a region around every box it is given (SIAM's
detections, last frame's people) and merges the detections by :func:`nms`.
"""
from __future__ import annotations

import math

import numpy as np

#: Tile sides in pixels (each also capped at the image's shorter side) and their overlap: a person up to about half a
#: tile tall lies wholly inside some tile.
TILE_SIZES = (128, 192, 288, 432)
TILE_OVERLAP = 0.5


def tile_regions(width: int, height: int, sizes=TILE_SIZES, overlap: float = TILE_OVERLAP,
                 whole: bool = True) -> np.ndarray:
    """(N, 3) square regions (x0, y0, side) in pixels covering a W x H image at each tile side in ``sizes`` with
    ``overlap`` between neighbours (the last row/column flush with the border), plus, with ``whole``, the square
    around the whole image (centred, reaching past the short side: the detector letterboxes it)."""
    out = []
    for size in sizes:
        side = min(int(size), width, height)
        step = max(1, int(round(side * (1.0 - overlap))))
        xs = _starts(width, side, step)
        ys = _starts(height, side, step)
        out += [(x, y, side) for y in ys for x in xs]
    if whole:
        side = max(width, height)
        out.append(((width - side) / 2, (height - side) / 2, side))
    regions = np.unique(np.asarray(out, np.float64), axis=0)
    return regions


def _starts(length: int, side: int, step: int) -> list[int]:
    starts = list(range(0, max(length - side, 0) + 1, step))
    if starts[-1] != length - side and length > side:
        starts.append(length - side)
    return starts


def box_regions(boxes: np.ndarray, margin: float = 1.6, min_side: float = 96.0) -> np.ndarray:
    """(N, 3) square regions (x0, y0, side) centred on each box (x0, y0, x1, y1), ``margin`` times its longer side
    (the detector wants the person to fill about half of what it sees), at least ``min_side`` pixels."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    side = np.maximum((boxes[:, 2:] - boxes[:, :2]).max(1) * margin, min_side)
    return np.c_[centre - side[:, None] / 2, side]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection over union of boxes a (N, 4) and b (M, 4), x0 y0 x1 y1."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area = lambda x: np.prod(np.clip(x[:, 2:] - x[:, :2], 0, None), axis=1)  # noqa: E731
    union = area(a)[:, None] + area(b)[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices of the boxes kept by greedy non-maximum suppression: best score first, dropping every box that
    overlaps a kept one by more than ``iou``."""
    order = list(np.argsort(-np.asarray(scores, np.float64), kind="stable"))
    overlaps = box_iou(boxes, boxes)
    keep: list[int] = []
    for i in order:
        if all(overlaps[i, j] <= iou for j in keep):
            keep.append(int(i))
    return keep


def rotated_square(centre, toward, scale: float = 1.25) -> tuple[np.ndarray, float, float]:
    """MediaPipe's pose ROI from two alignment points: centred on ``centre`` (the hips' midpoint), side
    ``2 * |toward - centre| * scale``, rotated so that ``toward`` points up in the crop.

    Returns (centre (2,), side, rotation radians; 0 = upright, positive = the person leans to the image's right).
    """
    c, t = np.asarray(centre, np.float64), np.asarray(toward, np.float64)
    d = t - c
    rotation = math.pi / 2 - math.atan2(-d[1], d[0])
    rotation = (rotation + math.pi) % (2 * math.pi) - math.pi
    return c, 2.0 * float(np.hypot(*d)) * scale, rotation
