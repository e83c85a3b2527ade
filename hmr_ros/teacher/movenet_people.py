"""Where the teacher (version 2) looks first: the people MoveNet MultiPose finds in the whole frame, at any size and
count, from which BlazePose reads each person's landmarks on a crop around them.

Tiles made the first teacher find small people, but a close person fills several tiles, and each tile's partial
view came back as another person (one portrait: four people). MoveNet sees the whole frame at once, so one body is
one proposal; ``one_per_proposal`` keeps at most one teacher person per proposal. Tiles remain the fallback for a
frame in which MoveNet finds nobody (people too small for it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hmr_ros.camera import letterbox
from hmr_ros.model.backbones.movenet import INPUT_SCALE, MoveNet
from hmr_ros.model.backbones.movenet_decode import decode
from hmr_ros.pretrained import movenet_model
from hmr_ros.teacher.proposals import box_iou


@dataclass
class Proposals:
    """People MoveNet found in one image: boxes (N, 4) x0 y0 x1 y1 and keypoints (N, 17, 3) x, y, score in image
    pixels, scores (N,) MoveNet's person score; best first."""

    boxes: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray


class MoveNetPeople:
    """MoveNet MultiPose on a whole image -> ``Proposals``.

    ``input_size``: the letterbox side (a multiple of 32; 384 sees people down to ~40 px in a 640 px frame);
    ``max_people``: K; ``min_score``: MoveNet person score to keep; ``model_json``: the TF.js model (default: the
    cache that scripts/fetch_backbone.sh fills, sha256-checked).
    """

    def __init__(self, input_size: int = 384, max_people: int = 16, min_score: float = 0.2, model_json=None):
        if input_size % 32 or input_size < 64:
            raise ValueError(f"MoveNet proposals: input_size must be a multiple of 32 >= 64, got {input_size}")
        self.input_size, self.max_people, self.min_score = int(input_size), int(max_people), float(min_score)
        self.net = MoveNet().eval()
        self.net.load_pretrained(model_json or movenet_model())
        self.name = f"movenet-multipose@{self.input_size}"

    def __call__(self, rgb: np.ndarray) -> Proposals:
        square, lb = letterbox(np.ascontiguousarray(rgb), self.input_size)
        x = torch.from_numpy(square).permute(2, 0, 1)[None].float() * INPUT_SCALE - 1.0
        with torch.inference_mode():
            _, heads = self.net(x)
            people = decode(heads, self.max_people)
        keep = (people.scores[0] >= self.min_score).numpy()
        boxes = people.boxes[0].numpy()[keep].reshape(-1, 2, 2)
        kp = people.keypoints[0].numpy()[keep]
        boxes = lb.to_image(boxes.reshape(-1, 2)).reshape(-1, 4)
        kp_xy = lb.to_image(kp.reshape(-1, 2)).reshape(-1, 17, 2)
        kscore = people.keypoint_scores[0].numpy()[keep]
        return Proposals(boxes.astype(np.float64), np.concatenate([kp_xy, kscore[..., None]], -1).astype(np.float64),
                         people.scores[0].numpy()[keep].astype(np.float64))


def one_per_proposal(people: list, proposals: Proposals, min_iou: float = 0.3) -> list:
    """Of the teacher's ``people`` (best first, each with a ``box``), keep the best one matched to each proposal box
    (IoU >= ``min_iou``, the proposal it overlaps most) and drop those matched to none: one body, one label."""
    if not people or not len(proposals.boxes):
        return []
    iou = box_iou(np.stack([p.box for p in people]), proposals.boxes)
    taken: set[int] = set()
    kept = []
    for i, person in enumerate(people):
        j = int(iou[i].argmax())
        if iou[i, j] >= min_iou and j not in taken:
            taken.add(j)
            kept.append(person)
    return kept
