"""What ``python -m hmr_ros run`` writes: ``smpl.jsonl`` (one line per frame, written as it goes) and ``smpl.npz``
(the same as arrays, written at the end), plus ``overlay.mp4`` (``OverlayVideo``).

Every sink takes ``write(frame, bodies, K)`` per output frame, ``skip(frame, reason)`` per unusable input frame and
``close()`` once; ``close`` leaves a valid file
whenever the run stops (end of input, Ctrl-C, an error), so a partial run is still readable.

Units and frames are those of ``Body``: metres, radians (axis-angle), camera optical frame; boxes in pixels.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from hmr_ros import smpl_human
from hmr_ros.bodies import Body, box_roi
from hmr_ros.palette import people_colors_u8
from hmr_ros.recordings.overlay import draw_overlay
from hmr_ros.recordings.sources import SourceFrame


#: what the recording outputs keep of a person: name -> shape (the SMPL fields as the node's SMPLHuman has them)
PERSON_FIELDS = {"score": (), "box": (4,), **smpl_human.FIELDS}


def body_record(body: Body) -> dict:
    """One person as JSON-ready data: id, score, box [x0, y0, x1, y1] px, betas (10), global_orient (3),
    body_pose (69), translation (3) m, joints (24 x 3) m (``PERSON_FIELDS``, rounded to 1e-6)."""
    record = {"id": body.id, "score": round(float(body.score), 6)}
    for name, shape in PERSON_FIELDS.items():
        if shape:
            record[name] = np.round(np.asarray(getattr(body, name), np.float64).reshape(shape), 6).tolist()
    return record


class JsonLines:
    """``smpl.jsonl``: {"frame", "stamp", "frame_id", "width", "height", "people": [body_record]} per line,
    flushed per frame."""

    def __init__(self, path: Path):
        self.path = path
        self.file = open(path, "w", encoding="utf-8")

    def write(self, frame: SourceFrame, bodies: list[Body], K: np.ndarray | None = None) -> None:
        h, w = frame.rgb.shape[:2]
        line = {"frame": frame.index, "stamp": frame.stamp, "frame_id": frame.frame_id, "width": w, "height": h,
                "people": [body_record(b) for b in bodies]}
        self.file.write(json.dumps(line) + "\n")
        self.file.flush()

    def skip(self, frame: SourceFrame, reason: str) -> None:
        pass  # the run's summary lists skipped frames; a line here would look like a frame with nobody in it

    def close(self) -> None:
        self.file.close()


class ArraysNpz:
    """``smpl.npz``: per frame ``frame`` (F,), ``stamp`` (F,), ``frame_id`` (F,), ``people`` (F,) counts; per person
    (P = sum of people) ``person_frame`` (P,) the frame index, ``id`` (P,), ``score`` (P,), ``box`` (P, 4),
    ``betas`` (P, 10), ``global_orient`` (P, 3), ``body_pose`` (P, 69), ``translation`` (P, 3), ``joints``
    (P, 24, 3). Written on ``close`` (to a temporary name, then renamed)."""

    FIELDS = PERSON_FIELDS

    def __init__(self, path: Path):
        self.path = path
        self.frames: list[tuple[int, float, str, int]] = []
        self.person_frame: list[int] = []
        self.ids: list[str] = []
        self.values: dict[str, list[np.ndarray]] = {k: [] for k in self.FIELDS}

    def write(self, frame: SourceFrame, bodies: list[Body], K: np.ndarray | None = None) -> None:
        self.frames.append((frame.index, frame.stamp, frame.frame_id, len(bodies)))
        for b in bodies:
            self.person_frame.append(frame.index)
            self.ids.append(b.id)
            for k, shape in self.FIELDS.items():
                self.values[k].append(np.asarray(getattr(b, k), dtype=np.float32).reshape(shape))

    def skip(self, frame: SourceFrame, reason: str) -> None:
        pass

    def close(self) -> None:
        arrays = {
            "frame": np.array([f[0] for f in self.frames], dtype=np.int64),
            "stamp": np.array([f[1] for f in self.frames], dtype=np.float64),
            "frame_id": np.array([f[2] for f in self.frames], dtype=str),
            "people": np.array([f[3] for f in self.frames], dtype=np.int64),
            "person_frame": np.array(self.person_frame, dtype=np.int64),
            "id": np.array(self.ids, dtype=str),
        }
        for k, shape in self.FIELDS.items():
            arrays[k] = np.stack(self.values[k]) if self.values[k] else np.zeros((0, *shape), np.float32)
        tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}.npz")
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, self.path)


class OverlayVideo:
    """``overlay.mp4``: one video frame per input frame, at the recording's frame rate (mp4v): the meshes (colour
    per track id, as in RViz), an id and score label per person and the frame number; a skipped frame is a dark
    frame that says why. The video has the first frame's size (even sides); other sizes are resized to it."""

    def __init__(self, path: Path, faces: np.ndarray, fps: float):
        self.path, self.faces, self.fps = path, np.asarray(faces), float(fps)
        self.writer: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None
        self.pending: list[tuple[int, str]] = []  # skipped before the size was known
        self.frames = 0

    def _open(self, w: int, h: int) -> None:
        self.size = (w + w % 2, h + h % 2)  # even sides: most mp4 decoders need them
        self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self.size)
        if not self.writer.isOpened():
            raise OSError(f"OpenCV cannot write {self.path} (mp4v)")
        for index, reason in self.pending:
            self._write_skipped(index, reason)
        self.pending = []

    def skip(self, frame: SourceFrame, reason: str) -> None:
        if self.writer is None:
            self.pending.append((frame.index, reason))
        else:
            self._write_skipped(frame.index, reason)

    def _write_skipped(self, index: int, reason: str) -> None:
        w, h = self.size
        out = np.full((h, w, 3), 40, np.uint8)
        scale = max(0.35, min(0.6, w / 1000.0))
        for row, text in enumerate((f"frame {index} skipped", reason[:90], reason[90:180])):
            cv2.putText(out, text, (8, int(30 * scale / 0.5) * (row + 1)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (255, 255, 255), 1, cv2.LINE_AA)
        self.writer.write(out)
        self.frames += 1

    def write(self, frame: SourceFrame, bodies: list[Body], K: np.ndarray) -> None:
        rgb = frame.rgb
        h, w = rgb.shape[:2]
        if self.writer is None:
            self._open(w, h)
        meshes = [np.asarray(b.vertices)[self.faces].reshape(-1, 3) for b in bodies]
        colors = people_colors_u8([b.id for b in bodies])
        labels = [f"{b.id or '#' + str(i)} {float(b.score):.2f}" for i, b in enumerate(bodies)]
        rois = [box_roi(b.box, w, h) for b in bodies]
        header = [f"frame {frame.index}", f"t {frame.stamp:.3f} s", f"{len(bodies)} people"]
        out, _ = draw_overlay(rgb, K, meshes, colors, labels, rois, [], header)
        if (w, h) != self.size:
            out = cv2.resize(out, self.size, interpolation=cv2.INTER_AREA)
        self.writer.write(cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        if self.writer is None and self.pending:
            self._open(640, 480)  # nothing was usable: still one frame per input frame, each saying why
        if self.writer is not None:
            self.writer.release()
