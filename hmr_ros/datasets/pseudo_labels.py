"""Pseudo-labels of a real recording: what ``python -m hmr_ros label`` writes and the training and evaluation read.

    DIR/manifest.json   {"format": "hmr_ros.pseudo_labels/1", "source", "teacher": {"name", "version", ...},
                         "fps", "width", "height", "K" (3x3 or null: then the default intrinsics apply),
                         "holdout_from" (first held-out frame: never train on it), "frames", "complete"}
    DIR/images/000123.jpg   each labelled frame as the teacher saw it (JPEG q95): training never re-reads the input
    DIR/labels.jsonl    one line per frame, in recording order:
        {"frame": 123, "stamp": 12.3, "image": "images/000123.jpg", "skipped": null | "why", "people": [
           {"id": 7,                    track id, stable over the recording (greedy box IoU, frame to frame)
            "score": 0.98,              the landmark model's pose flag
            "detection": 0.91,          the detector's score of the person's ROI (0: followed from the last frame)
            "box": [x0, y0, x1, y1],    the confident landmarks' box, image pixels
            "coco17": [[x, y, c] x 17], COCO keypoint order (datasets.coco.COCO17); c = visibility x presence
            "landmarks": [[x, y, z, visibility, presence] x 33],   BlazePose's 33, image pixels (z: the x scale)
            "world": [[x, y, z] x 33],  metres, hip-centred, camera axes (x right, y down, z away)
            "mask": {"area": px, "box": [x0, y0, x1, y1], "mean": p}}, ...]}
    DIR/coco.json       the same people as COCO keypoints (images, annotations with keypoints x, y, v and
                        "track_id"; v = 2 where c >= 0.5, else 1), for COCO tools
    DIR/overlay.mp4     the labels drawn on the frames, to inspect them

Lines are appended one complete frame at a time and flushed, so an interrupted run leaves a valid prefix (at most one
torn last line, which ``label`` drops when it resumes; :class:`PseudoLabels` refuses it with the command to finish).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT = "hmr_ros.pseudo_labels/1"
MANIFEST, LABELS, COCO_FILE, IMAGES = "manifest.json", "labels.jsonl", "coco.json", "images"
#: A keypoint with confidence (visibility x presence) at least this is "confident": the training uses it, the
#: keypoint protocol counts it.
CONFIDENT = 0.5


@dataclass
class LabelledPerson:
    """id: track id; score: pose flag; box (4,) pixels; coco17 (17, 3) x, y pixels, confidence;
    world (33, 3) metres, hip-centred, camera axes; landmarks (33, 5) x, y, z, visibility, presence."""

    id: int
    score: float
    box: np.ndarray
    coco17: np.ndarray
    world: np.ndarray
    landmarks: np.ndarray

    def confident(self, joints=range(5, 17)) -> int:
        """How many of ``joints`` (COCO-17 indices; default the 12 body joints) are confident."""
        return int((self.coco17[list(joints), 2] >= CONFIDENT).sum())


@dataclass
class LabelledFrame:
    frame: int
    stamp: float
    image: Path | None
    people: list[LabelledPerson]
    skipped: str | None = None


def person_record(person, track_id: int) -> dict:
    """A ``teacher.TeacherPerson`` as one labels.jsonl person (rounded: 0.01 px, 1 mm, 1e-3)."""
    r = lambda a, n: np.round(np.asarray(a, np.float64), n).tolist()  # noqa: E731
    mask = person.mask
    return {"id": int(track_id), "score": round(float(person.score), 4), "detection": round(float(person.detection), 4),
            "box": r(person.box, 2), "coco17": r(person.coco17, 3),
            "landmarks": r(np.c_[person.landmarks, person.visibility, person.presence], 3),
            "world": r(person.world, 4),
            "mask": None if mask is None else {"area": round(mask.area, 1), "box": r(mask.box, 1),
                                               "mean": round(mask.mean, 3)}}


def person_from_record(d: dict) -> LabelledPerson:
    return LabelledPerson(int(d["id"]), float(d["score"]), np.asarray(d["box"], np.float32).reshape(4),
                          np.asarray(d["coco17"], np.float32).reshape(17, 3),
                          np.asarray(d["world"], np.float32).reshape(33, 3),
                          np.asarray(d["landmarks"], np.float32).reshape(33, 5))


def read_lines(path: Path) -> tuple[list[dict], int]:
    """The complete lines of a labels.jsonl and the byte offset where they end (a torn last line lies beyond)."""
    rows, end = [], 0
    if not path.is_file():
        return rows, 0
    data = path.read_bytes()
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
        end += len(line)
    return rows, end


class PseudoLabels:
    """A label directory, read whole. ``frames`` in recording order; ``train_frames`` / ``heldout_frames`` split
    at ``holdout_from``. Raises ValueError naming the directory and the command to fix it when it is not one, or
    is torn (an interrupted ``label`` run)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        manifest_path = self.root / MANIFEST
        hint = f"run 'python -m hmr_ros label INPUT --out {self.root}' (again) to make or finish it"
        if not manifest_path.is_file():
            raise ValueError(f"{self.root} is not a label directory (no {MANIFEST}): {hint}")
        try:
            self.manifest = json.loads(manifest_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ValueError(f"{manifest_path} is not valid JSON: {hint}") from None
        if self.manifest.get("format") != FORMAT:
            raise ValueError(f"{manifest_path}: format {self.manifest.get('format')!r}, expected {FORMAT!r}")
        labels = self.root / LABELS
        rows, end = read_lines(labels)
        size = labels.stat().st_size if labels.is_file() else 0
        if end != size:
            raise ValueError(f"{labels} is torn after {len(rows)} frames (an interrupted label run): {hint}")
        self.frames: list[LabelledFrame] = []
        for n, row in enumerate(rows):
            try:
                image = self.root / row["image"] if row.get("image") else None
                people = [person_from_record(p) for p in row.get("people") or []]
                frame = LabelledFrame(int(row["frame"]), float(row["stamp"]), image, people, row.get("skipped"))
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"{labels}: line {n + 1} is not a label record (frame, stamp, image, people)") \
                    from None
            if frame.skipped is None and (image is None or not image.is_file()):
                raise ValueError(f"{labels}: frame {frame.frame}'s image {row.get('image')} is missing: {hint}")
            self.frames.append(frame)
        if not self.frames:
            raise ValueError(f"{self.root} holds no labelled frame yet: {hint}")
        self.holdout_from = int(self.manifest.get("holdout_from", 1 << 62))
        self.fps = float(self.manifest.get("fps") or 30.0)
        self.K = None if self.manifest.get("K") is None else np.asarray(self.manifest["K"], np.float64).reshape(3, 3)

    @property
    def teacher(self) -> str:
        t = self.manifest.get("teacher", {})
        return f"{t.get('name', '?')} ({t.get('version', '?')})"

    @property
    def train_frames(self) -> list[LabelledFrame]:
        return [f for f in self.frames if f.frame < self.holdout_from and f.skipped is None]

    @property
    def heldout_frames(self) -> list[LabelledFrame]:
        return [f for f in self.frames if f.frame >= self.holdout_from and f.skipped is None]


def coco_document(labels: PseudoLabels) -> dict:
    """The labels as a COCO keypoints document (one image per labelled frame, ``track_id`` and ``frame`` kept)."""
    from hmr_ros.datasets.coco import COCO17

    images, annotations = [], []
    width, height = labels.manifest.get("width"), labels.manifest.get("height")
    for f in labels.frames:
        if f.skipped is not None:
            continue
        images.append({"id": f.frame, "file_name": str(f.image.relative_to(labels.root)), "width": width,
                       "height": height, "frame": f.frame})
        for p in f.people:
            kp = np.c_[p.coco17[:, :2], np.where(p.coco17[:, 2] >= CONFIDENT, 2, 1)]
            x0, y0, x1, y1 = (float(v) for v in p.box)
            annotations.append({"id": len(annotations) + 1, "image_id": f.frame, "category_id": 1,
                                "keypoints": np.round(kp, 2).ravel().tolist(),
                                "num_keypoints": int((p.coco17[:, 2] >= CONFIDENT).sum()),
                                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0,
                                "track_id": p.id, "score": p.score})
    return {"info": {"description": f"hmr_ros pseudo-labels by {labels.teacher}"}, "images": images,
            "annotations": annotations,
            "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17)}]}
