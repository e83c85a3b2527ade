"""A dataset sequence's images through the node's per-frame path, for the real-data protocols."""
from __future__ import annotations

import cv2


def predict_frames(pipeline, frames, fps: float, dataset: str) -> list[list]:
    """Per frame (anything with ``image_path``, ``index`` and ``K``) the people ``pipeline`` outputs for it ([] while
    centered mode's window fills). ``pipeline`` is reset first: a sequence starts a new stream. ValueError names a
    missing or unreadable image."""
    pipeline.reset()
    out = []
    for frame in frames:
        bgr = cv2.imread(str(frame.image_path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{dataset} image {frame.image_path} is missing or unreadable")
        result = pipeline.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), frame.index / fps, frame.K)
        out.append(result.bodies if result.ready else [])
    return out
