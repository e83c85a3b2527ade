"""Overlay images: meshes, labels, missed-person boxes and a header drawn over a frame.

Each mesh is blended in the colour of its marker (so the overlay and RViz agree) and outlined with its own
silhouette; labels, "missed" boxes and the header lines are placed clear of each other so all stay readable. Used by
the demo (:mod:`hmr_ros.ros.demo`, ``overlay/frame_NNNN.png``) and by ``python -m hmr_ros run`` (``overlay.mp4``).
"""
from __future__ import annotations

import cv2
import numpy as np

from hmr_ros.render.meshes import render_meshes

__all__ = ["MESH_ALPHA", "draw_overlay", "ink"]

MESH_ALPHA = 0.55  # lighter than RViz's 0.8: the rendered person under the mesh stays visible, so a bad fit shows


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, fg, bg,
          taken: list[tuple[int, int, int, int]] | None = None) -> tuple[int, int, int, int]:
    """Text on a filled box whose top-left corner is ``org`` (clamped into the image); moved down past the boxes
    in ``taken`` (and added to it), so the labels of people with overlapping ROIs stay readable. Returns the box
    (x0, y0, x1, y1), end exclusive."""
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, 1
    (w, h), base = cv2.getTextSize(text, font, scale, thick)
    H, W = img.shape[:2]
    bw, bh = w + 4, h + base + 4
    x = int(min(max(org[0], 0), max(W - bw, 0)))
    y = int(min(max(org[1], 0), max(H - bh, 0)))
    for _ in range(len(taken or ())):
        hit = [t for t in taken if x < t[2] and t[0] < x + bw and y < t[3] and t[1] < y + bh]
        if not hit:
            break
        y = max(t[3] for t in hit)
    if taken is not None:
        taken.append((x, y, x + bw, y + bh))
    cv2.rectangle(img, (x, y), (x + bw - 1, y + bh - 1), tuple(int(c) for c in bg), -1)
    cv2.putText(img, text, (x + 2, y + h + 2), font, scale, tuple(int(c) for c in fg), thick, cv2.LINE_AA)
    return (x, y, x + bw, y + bh)


def _wrap(parts: list[str], width: int, scale: float, sep: str = "  ") -> list[str]:
    """``parts`` joined greedily into lines no wider than ``width`` pixels (a part never splits)."""
    lines: list[str] = []
    for part in parts:
        joined = f"{lines[-1]}{sep}{part}" if lines else part
        if lines and cv2.getTextSize(joined, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] + 4 <= width:
            lines[-1] = joined
        else:
            lines.append(part)
    return lines


def ink(rgb) -> tuple[int, int, int]:
    """Black or white, whichever reads better on ``rgb``."""
    r, g, b = rgb
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 140 else (255, 255, 255)


def draw_overlay(frame_rgb: np.ndarray, K: np.ndarray, meshes: list[np.ndarray], colors: list[tuple[int, int, int]],
                 labels: list[str], rois: list[tuple[int, int, int, int]], missed_boxes: list[np.ndarray],
                 header: list[str]) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """The overlay of one frame (RGB uint8) and where each person's label went (x0, y0, x1, y1 pixels, end
    exclusive).

    Args:
        frame_rgb: (H, W, 3) the frame the network saw.
        K: (3, 3) intrinsics.
        meshes: per published person the TRIANGLE_LIST points of its marker, (3n, 3) metres.
        colors: per person the marker colour, RGB 0-255.
        labels: per person the label text; rois: per person (x, y, width, height) pixels.
        missed_boxes: (4,) x0, y0, x1, y1 boxes of the true people nobody was matched to.
        header: the parts of the header, joined into as few lines as fit the width.
    """
    out = np.array(frame_rgb)  # drawn on below: never the caller's (or a read-only message's) buffer
    if meshes:
        faces = np.arange(len(meshes[0])).reshape(-1, 3)
        out = render_meshes(frame_rgb, meshes, faces, K, colors=colors, alpha=MESH_ALPHA)
        blank = np.zeros_like(frame_rgb)
        for mesh, color in zip(meshes, colors):
            # the silhouette of this mesh alone, so a mesh behind another keeps its whole outline
            silhouette = render_meshes(blank, [mesh], faces, K, colors=[(255, 255, 255)], alpha=1.0)[..., 0] > 0
            contours, _ = cv2.findContours(silhouette.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(out, contours, -1, tuple(int(c) for c in color), 2, cv2.LINE_8)
    out = np.ascontiguousarray(out)
    scale = max(0.3, min(0.5, out.shape[1] / 900.0))
    for box in missed_boxes:
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 255, 255), 1)
    for color, (x, y, w, h) in zip(colors, rois):
        cv2.rectangle(out, (x, y), (x + max(w - 1, 0), y + max(h - 1, 0)), tuple(int(c) for c in color), 1)
    # text last, each box placed clear of the earlier ones: nothing drawn afterwards hides a label
    taken: list[tuple[int, int, int, int]] = []
    for line in _wrap(header, out.shape[1], scale):
        _text(out, line, (0, 0), scale, (255, 255, 255), (0, 0, 0), taken)  # stacks below the line before
    for box in missed_boxes:
        _text(out, "missed", (int(round(float(box[0]))), int(round(float(box[3]))) + 1), scale, (0, 0, 0),
              (255, 255, 255), taken)
    label_boxes = []
    for color, label, (x, y, w, h) in zip(colors, labels, rois):
        (_, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        label_boxes.append(_text(out, label, (x, y - th - base - 4), scale, ink(color), color, taken))
    return out, label_boxes
