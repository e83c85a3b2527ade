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


def predict_still(pipeline, image, window: int, dataset: str, fps: float = 30.0) -> list:
    """The people ``pipeline`` outputs for a single image (``image_path``, ``K``) seen as a still clip: the image
    fills the whole window, as image datasets are trained (``datasets.clips``' pseudo-clips). ``pipeline`` is reset
    first."""
    pipeline.reset()
    bgr = cv2.imread(str(image.image_path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"{dataset} image {image.image_path} is missing or unreadable")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    result = None
    for t in range(window):
        result = pipeline.process(rgb, t / fps, image.K)
    return result.bodies if result is not None and result.ready else []
