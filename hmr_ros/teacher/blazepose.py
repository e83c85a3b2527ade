"""BlazePose GHUM (Google, Apache-2.0) as a multi-person keypoint teacher, run by LiteRT on the CPU.

    teacher = BlazePose(landmark="heavy")                  # model files from scripts/fetch_teacher.sh
    people = teacher(rgb, boxes=siam_boxes)                # list[TeacherPerson], image pixels / metres

Per image: the detector runs on every proposal region (``proposals.tile_regions`` and a region around each given
box), detections are merged by NMS, each one's rotated ROI goes through the landmark model, and people whose pose
flag is low or whose landmarks duplicate a better person are dropped. No heatmap refinement of the landmarks
(MediaPipe's optional last step) and no smoothing: the teacher answers per image.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from hmr_ros.teacher import anchors as ssd
from hmr_ros.teacher.landmarks import COCO17_FROM_BLAZEPOSE
from hmr_ros.teacher.movenet_people import one_per_proposal
from hmr_ros.teacher.proposals import box_iou, box_regions, nms, rotated_square, tile_regions, TILE_SIZES

LANDMARK_MODELS = ("lite", "full", "heavy")
DETECTOR_FILE = "pose_detection.tflite"
FETCH_COMMAND = "bash scripts/fetch_teacher.sh"
#: The release the model files come from (the mediapipe wheel / npm package scripts/fetch_teacher.sh takes).
VERSION = "mediapipe 0.10.21 / @mediapipe/pose 0.5.1675469404"
LANDMARK_INPUT = 256
#: A landmark (x, y) counts as confident above this visibility × presence: the same cut the labels and the
#: protocol use for "confident body joints".
CONFIDENT = 0.5


def default_model_dir() -> Path:
    """``$HMR_ROS_TEACHER_DIR``, else ``$XDG_CACHE_HOME/hmr_ros/teacher`` (``~/.cache/hmr_ros/teacher``)."""
    if os.environ.get("HMR_ROS_TEACHER_DIR"):
        return Path(os.environ["HMR_ROS_TEACHER_DIR"])
    from hmr_ros.backends.engine_cache import default_cache_dir

    return default_cache_dir() / "teacher"


class TeacherUnavailable(FileNotFoundError):
    """The model files or the LiteRT runtime are missing; the message names the command that fixes it."""


@dataclass
class MaskSummary:
    """The landmark model's person mask, summarised: ``area`` pixels of the image with probability > 0.5,
    ``box`` (4,) x0 y0 x1 y1 of those pixels, ``mean`` probability inside that box."""

    area: float
    box: np.ndarray
    mean: float


@dataclass
class TeacherPerson:
    """One person as the teacher sees them.

    landmarks (33, 3): x, y image pixels and z (depth relative to the hips, in the same pixel scale as x);
    visibility, presence (33,) in [0, 1]; world (33, 3) metres, hip-centred, in the camera's axes (x right, y down,
    z away from the camera: the crop rotation undone); score: the landmark model's pose flag in [0, 1];
    detection: the detector's score of the ROI; box (4,) x0 y0 x1 y1 of the confident landmarks (pixels);
    mask: the person mask summary (None when the model gives none).
    """

    landmarks: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    world: np.ndarray
    score: float
    detection: float
    box: np.ndarray
    mask: MaskSummary | None = None
    roi: tuple = field(default=(), repr=False)  # (centre (2,), side, rotation): where the landmarks were read

    @property
    def confidence(self) -> np.ndarray:
        """(33,) visibility × presence: how much a landmark's position can be trusted."""
        return self.visibility * self.presence

    @property
    def coco17(self) -> np.ndarray:
        """(17, 3) COCO keypoints: x, y pixels and confidence (``datasets.coco.COCO17`` order)."""
        idx = list(COCO17_FROM_BLAZEPOSE)
        return np.c_[self.landmarks[idx, :2], self.confidence[idx]].astype(np.float32)


def _interpreter(path: Path, threads: int):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise TeacherUnavailable("the teacher needs the LiteRT runtime: pip install 'ai-edge-litert>=1.2' "
                                 "(or pip install .[teacher] in this repository)") from None
    try:
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise ValueError(f"teacher model {path} is not a usable .tflite file ({e}); fetch it again: "
                         f"{FETCH_COMMAND}") from None
    return interpreter


def _outputs_by_size(interpreter) -> dict[int, int]:
    """Output tensor index by element count: the landmark outputs differ in size (195, 1, 65536, 159744, 117)."""
    return {int(np.prod(d["shape"])): d["index"] for d in interpreter.get_output_details()}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


class BlazePose:
    """Detector + landmark model. ``landmark``: "full" (default), "heavy" (best, ~4x slower) or "lite".

    ``tile_sizes``: proposal tiles (pixels); ``min_detection``: detector score to keep a region's detection;
    ``min_pose``: pose flag to keep a person; ``threads``: LiteRT threads per model; ``proposer``: a whole-image
    person finder (``movenet_people.MoveNetPeople``, teacher version 2): the detector then looks around its people
    only, at most one person is kept per proposal, and the tiles are the fallback for a frame where it finds nobody.
    """

    def __init__(self, model_dir: str | os.PathLike | None = None, landmark: str = "full", threads: int = 1,
                 tile_sizes=TILE_SIZES, min_detection: float = 0.5, min_pose: float = 0.5,
                 detection_iou: float = 0.3, person_iou: float = 0.5, proposer=None):
        if landmark not in LANDMARK_MODELS:
            raise ValueError(f"teacher landmark model must be one of {LANDMARK_MODELS}, got {landmark!r}")
        folder = Path(model_dir) if model_dir is not None else default_model_dir()
        files = [folder / DETECTOR_FILE, folder / f"pose_landmark_{landmark}.tflite"]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise TeacherUnavailable(f"BlazePose model files missing in {folder}: {', '.join(missing)}; fetch them "
                                     f"with: {FETCH_COMMAND}")
        self.proposer = proposer
        self.name = f"blazepose-{landmark}" + (f"+{proposer.name}" if proposer is not None else "")
        self.version = VERSION
        self.tile_sizes = tuple(tile_sizes)
        self.min_detection, self.min_pose = float(min_detection), float(min_pose)
        self.detection_iou, self.person_iou = float(detection_iou), float(person_iou)
        self._detector = _interpreter(files[0], threads)
        self._landmark = _interpreter(files[1], threads)
        self._anchors = ssd.ssd_anchors()
        det_out = {int(np.prod(d["shape"])): d["index"] for d in self._detector.get_output_details()}
        self._det_boxes, self._det_scores = det_out[len(self._anchors) * 12], det_out[len(self._anchors)]
        out = _outputs_by_size(self._landmark)
        try:
            self._lm, self._flag, self._mask, self._world = out[195], out[1], out[256 * 256], out[117]
        except KeyError:
            raise ValueError(f"teacher model {files[1]} has unexpected outputs {sorted(out)}: is it a BlazePose "
                             f"GHUM landmark model? Fetch it again: {FETCH_COMMAND}") from None

    # -- detector ------------------------------------------------------------------------------------------------
    def detect(self, rgb: np.ndarray, regions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Run the detector in every square region (N, 3) x0, y0, side of ``rgb`` (H, W, 3) uint8.

        Returns boxes (M, 4) and alignment keypoints (M, 4, 2) in image pixels, scores (M,), merged by NMS.
        """
        boxes, keypoints, scores = [], [], []
        size = ssd.INPUT_SIZE
        for x0, y0, side in np.asarray(regions, np.float64).reshape(-1, 3):
            s = size / side
            M = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float32)
            crop = cv2.warpAffine(rgb, M, (size, size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
            self._detector.set_tensor(self._detector.get_input_details()[0]["index"],
                                      (crop.astype(np.float32) / 127.5 - 1.0)[None])
            self._detector.invoke()
            b, k, sc = ssd.decode(self._detector.get_tensor(self._det_boxes)[0],
                                  self._detector.get_tensor(self._det_scores)[0], self._anchors, self.min_detection)
            if len(sc):
                boxes.append(b * side + (x0, y0, x0, y0))
                keypoints.append(k * side + (x0, y0))
                scores.append(sc)
        if not scores:
            return np.zeros((0, 4)), np.zeros((0, 4, 2)), np.zeros(0)
        boxes, keypoints, scores = np.concatenate(boxes), np.concatenate(keypoints), np.concatenate(scores)
        keep = nms(boxes, scores, self.detection_iou)
        return boxes[keep], keypoints[keep], scores[keep]

    # -- landmarks -----------------------------------------------------------------------------------------------
    def landmarks(self, rgb: np.ndarray, centre, side: float, rotation: float,
                  detection: float = 1.0) -> TeacherPerson:
        """The landmark model on the rotated square ROI (centre (2,) pixels, side pixels, rotation radians)."""
        n = LANDMARK_INPUT
        c, r = np.cos(rotation), np.sin(rotation)
        A = (side / n) * np.array([[c, -r], [r, c]])          # crop pixels -> image pixels, about the centre
        b = np.asarray(centre, np.float64) - A @ np.array([n / 2, n / 2])
        crop = cv2.warpAffine(rgb, np.c_[A, b], (n, n), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        self._landmark.set_tensor(self._landmark.get_input_details()[0]["index"],
                                  (crop.astype(np.float32) / 255.0)[None])
        self._landmark.invoke()
        raw = self._landmark.get_tensor(self._lm).reshape(39, 5)[:33].astype(np.float64)
        flag = float(self._landmark.get_tensor(self._flag).reshape(()))
        world = self._landmark.get_tensor(self._world).reshape(39, 3)[:33].astype(np.float64)
        xy = raw[:, :2] @ A.T + b
        z = raw[:, 2] * side / n
        world[:, :2] = world[:, :2] @ np.array([[c, -r], [r, c]]).T
        visibility, presence = _sigmoid(raw[:, 3]), _sigmoid(raw[:, 4])
        confident = visibility * presence > CONFIDENT
        pts = xy[confident] if confident.sum() >= 2 else xy
        box = np.r_[pts.min(0), pts.max(0)]
        mask = self._mask_summary(A, b, rgb.shape[1], rgb.shape[0])
        return TeacherPerson(np.c_[xy, z].astype(np.float32), visibility.astype(np.float32),
                             presence.astype(np.float32), world.astype(np.float32),
                             flag if 0.0 <= flag <= 1.0 else float(_sigmoid(flag)), float(detection),
                             box.astype(np.float32), mask, (np.asarray(centre, np.float64), float(side),
                                                            float(rotation)))

    def _mask_summary(self, A: np.ndarray, b: np.ndarray, width: int, height: int) -> MaskSummary:
        prob = self._landmark.get_tensor(self._mask).reshape(LANDMARK_INPUT, LANDMARK_INPUT).astype(np.float32)
        if prob.min() < 0.0 or prob.max() > 1.0:
            prob = _sigmoid(prob)
        ys, xs = np.nonzero(prob > 0.5)
        if len(xs) == 0:
            return MaskSummary(0.0, np.zeros(4, np.float32), 0.0)
        pixel_area = abs(np.linalg.det(A))
        pts = np.c_[xs + 0.5, ys + 0.5] @ A.T + b
        lo = np.clip(pts.min(0), 0, (width, height))
        hi = np.clip(pts.max(0), 0, (width, height))
        return MaskSummary(float(len(xs) * pixel_area), np.r_[lo, hi].astype(np.float32),
                           float(prob[ys.min():ys.max() + 1, xs.min():xs.max() + 1].mean()))

    # -- the whole image ----------------------------------------------------------------------------------------
    def __call__(self, rgb: np.ndarray, boxes=None, rois=()) -> list[TeacherPerson]:
        """Every person in ``rgb`` (H, W, 3) uint8 RGB.

        ``boxes`` (N, 4) x0 y0 x1 y1 pixels: more places to look (SIAM's detections); ``rois``: (centre, side,
        rotation) landmark ROIs to read directly (last frame's people: a person the detector misses in this frame
        is still followed). Returns the people with pose flag ≥ ``min_pose``, duplicates merged, best first.
        """
        rgb = np.ascontiguousarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 16:
            raise ValueError(f"teacher: expected an (H, W, 3) uint8 RGB image of at least 16 px, got {rgb.dtype} "
                             f"{rgb.shape}")
        height, width = rgb.shape[:2]
        found = self.proposer(rgb) if self.proposer is not None else None
        if found is not None and len(found.boxes):
            regions = box_regions(found.boxes)
        else:
            regions = tile_regions(width, height, self.tile_sizes)
        if boxes is not None and len(boxes):
            regions = np.r_[regions, box_regions(boxes)]
        _, keypoints, scores = self.detect(rgb, regions)
        candidates = [(rotated_square(kp[0], kp[1]), float(sc)) for kp, sc in zip(keypoints, scores)]
        candidates += [(tuple(roi), 0.0) for roi in rois]
        people = []
        for (centre, side, rotation), score in candidates:
            if side < 8:
                continue
            person = self.landmarks(rgb, centre, side, rotation, score)
            if person.score >= self.min_pose:
                people.append(person)
        people = merge_people(people, self.person_iou)
        return one_per_proposal(people, found) if found is not None and len(found.boxes) else people


def merge_people(people: list[TeacherPerson], iou: float, same_body: float = 0.15) -> list[TeacherPerson]:
    """Best first (pose flag × mean confidence), drop a person who duplicates a kept one: landmark boxes overlapping
    by more than ``iou``, or body landmarks (shoulders to ankles) a mean of under ``same_body`` × the kept one's
    box height apart (two ROIs on one body give slightly different boxes but the same joints)."""
    if not people:
        return []
    quality = np.array([p.score * float(p.confidence.mean()) for p in people])
    boxes = np.stack([p.box for p in people])
    overlap = box_iou(boxes, boxes)
    body = list(range(11, 17)) + list(range(23, 29))
    kept: list[int] = []
    for i in np.argsort(-quality, kind="stable"):
        duplicate = False
        for j in kept:
            height = max(float(boxes[j, 3] - boxes[j, 1]), 1.0)
            apart = np.linalg.norm(people[i].landmarks[body, :2] - people[j].landmarks[body, :2], axis=1).mean()
            if overlap[i, j] > iou or apart < same_body * height:
                duplicate = True
                break
        if not duplicate:
            kept.append(int(i))
    return [people[i] for i in kept]
