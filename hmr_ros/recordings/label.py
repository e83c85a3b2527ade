"""Pseudo-labelling a recording with the keypoint teacher: ``python -m hmr_ros label INPUT --out DIR``.

    summary = label_recording(source, teacher, Path("labels/"), holdout_from=600, progress=bar, stop=stopped)

Per frame: the teacher looks in its tiles, around last frame's people (their landmark ROIs are read again, so a
person the detector misses for a frame is still followed) and around ``propose(rgb)``'s boxes (SIAM's own
detections); people that are implausible as bodies (:func:`plausible`) or have fewer than ``min_joints`` confident
body joints are dropped; the rest are linked to last frame's by greedy box IoU and written
(``datasets.pseudo_labels``). Resuming (``resume=True``, the default of the command) skips the frames labels.jsonl
already holds, after dropping a torn last line.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from hmr_ros.datasets.pseudo_labels import (COCO_FILE, CONFIDENT, FORMAT, IMAGES, LABELS, MANIFEST, PseudoLabels,
                                            coco_document, person_record, read_lines)
from hmr_ros.recordings.runner import frame_done
from hmr_ros.recordings.sources import Source, SourceFrame
from hmr_ros.teacher.landmarks import COCO_BODY12

#: COCO-17 limbs drawn on the overlay (index pairs).
SKELETON = ((5, 7), (7, 9), (6, 8), (8, 10), (5, 6), (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14),
            (14, 16), (0, 5), (0, 6))


def plausible(person, max_lean_deg: float = 60.0) -> bool:
    """An upright human body: in the world landmarks (metres) a torso (shoulders' to hips' midpoint) of 0.3-0.8 m and
    legs (hip to ankle, mean of both sides) of at least 0.45 m; in the image the shoulders above the hips, the torso
    within ``max_lean_deg`` of vertical. Rejects what the teacher reports in litter, shadows and posters, often with
    a confident pose flag; people lying down are not labelled either (a street or room camera sees people upright).
    """
    w = np.asarray(person.world, np.float64)
    torso = np.linalg.norm((w[11] + w[12]) / 2 - (w[23] + w[24]) / 2)
    legs = (np.linalg.norm(w[23] - w[27]) + np.linalg.norm(w[24] - w[28])) / 2
    xy = np.asarray(person.landmarks, np.float64)[:, :2]
    up = (xy[11] + xy[12]) / 2 - (xy[23] + xy[24]) / 2          # hips -> shoulders, image pixels (y down)
    lean = np.degrees(np.arctan2(abs(up[0]), -up[1]))
    return bool(0.3 <= torso <= 0.8 and legs >= 0.45 and lean <= max_lean_deg)


def keep(person, min_joints: int) -> bool:
    """What ``label`` keeps of the teacher's people: :func:`plausible`, with ``min_joints`` confident body joints."""
    return plausible(person) and int((person.coco17[list(COCO_BODY12), 2] >= CONFIDENT).sum()) >= min_joints


@dataclass
class Linker:
    """Track ids from frame to frame: greedy, closest pair first, on the distance between box centres in units of
    the taller box's height, linking pairs under ``max_distance`` whose heights differ by less than a factor
    ``max_scale``. (Box IoU breaks on thin side views: a walker's box can narrow from 26 to 7 px in one frame.)"""

    max_distance: float = 0.4
    max_scale: float = 1.5
    next_id: int = 1
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    ids: list[int] = field(default_factory=list)

    def link(self, boxes: np.ndarray) -> list[int]:
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        out = [0] * len(boxes)
        if len(boxes) and len(self.ids):
            centre = lambda b: (b[:, :2] + b[:, 2:]) / 2           # noqa: E731
            height = lambda b: np.maximum(b[:, 3] - b[:, 1], 1.0)  # noqa: E731
            h_new, h_old = height(boxes)[:, None], height(self.boxes)[None]
            taller = np.maximum(h_new, h_old)
            cost = np.linalg.norm(centre(boxes)[:, None] - centre(self.boxes)[None], axis=2) / taller
            cost[taller / np.minimum(h_new, h_old) > self.max_scale] = np.inf
            for flat in np.argsort(cost, axis=None):
                i, j = np.unravel_index(flat, cost.shape)
                if not cost[i, j] < self.max_distance:
                    break
                if out[i] == 0 and self.ids[j] not in out:
                    out[i] = self.ids[j]
        for i in range(len(out)):
            if out[i] == 0:
                out[i], self.next_id = self.next_id, self.next_id + 1
        self.boxes, self.ids = boxes, out
        return out


@dataclass
class LabelSummary:
    frames: int = 0           # labelled in this run
    resumed: int = 0          # already in labels.jsonl
    people: int = 0           # written in this run
    dropped: int = 0          # teacher people dropped as implausible or with too few confident joints
    skipped: list[tuple[int, str]] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0


def draw_labels(rgb: np.ndarray, people: list[dict], header: str) -> np.ndarray:
    """The frame with each person's COCO skeleton (confident joints), box and track id; BGR for a video."""
    from hmr_ros.palette import people_colors_u8

    out = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    colors = people_colors_u8([str(p["id"]) for p in people])
    for p, rgb_colour in zip(people, colors):
        colour = tuple(int(c) for c in rgb_colour[::-1])
        kp = np.asarray(p["coco17"], np.float64)
        for a, b in SKELETON:
            if kp[a, 2] >= CONFIDENT and kp[b, 2] >= CONFIDENT:
                cv2.line(out, tuple(np.round(kp[a, :2]).astype(int)), tuple(np.round(kp[b, :2]).astype(int)),
                         colour, 2, cv2.LINE_AA)
        x0, y0, x1, y1 = (int(round(v)) for v in p["box"])
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, 1)
        cv2.putText(out, f"{p['id']} {p['score']:.2f}", (x0, max(10, y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour,
                    1, cv2.LINE_AA)
    cv2.putText(out, header, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _manifest(source: Source, teacher, holdout_from: int, first: SourceFrame, min_joints: int) -> dict:
    h, w = first.rgb.shape[:2]
    return {"format": FORMAT, "source": source.description,
            "teacher": {"name": teacher.name, "version": teacher.version, "tiles": list(teacher.tile_sizes),
                        "min_detection": teacher.min_detection, "min_pose": teacher.min_pose,
                        "min_joints": min_joints},
            "fps": float(getattr(source, "fps", None) or 0.0) or None, "width": w, "height": h,
            "K": None if first.K is None else np.asarray(first.K).tolist(), "holdout_from": int(holdout_from),
            "frames": source.frame_count, "complete": False}


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def label_recording(source: Source, teacher, out: Path, holdout_from: int, *, min_joints: int = 6,
                    propose: Callable[[np.ndarray], np.ndarray] | None = None, overlay: bool = True,
                    resume: bool = True, max_frames: int | None = None,
                    progress: Callable[[LabelSummary, int | None], None] | None = None,
                    stop: Callable[[], bool] = lambda: False) -> LabelSummary:
    """Label every frame of ``source`` into ``out`` (see the module docstring). Frames before ``max_frames``
    only, when given. Returns what was done; the directory is valid whenever this returns or is interrupted."""
    out = Path(out)
    (out / IMAGES).mkdir(parents=True, exist_ok=True)
    labels_path = out / LABELS
    done: dict[int, dict] = {}
    if resume and (out / MANIFEST).is_file():
        rows, end = read_lines(labels_path)
        with open(labels_path, "r+b") as f:  # drop a torn last line: it is labelled again below
            f.truncate(end)
        done = {int(r["frame"]): r for r in rows}
    else:
        labels_path.unlink(missing_ok=True)
    summary = LabelSummary(resumed=len(done))
    linker = Linker()
    last = max(done.values(), key=lambda r: r["frame"]) if done else None
    if last is not None:  # continue the tracks where the earlier run stopped
        linker.boxes = np.asarray([p["box"] for p in last["people"]], np.float64).reshape(-1, 4)
        linker.ids = [int(p["id"]) for p in last["people"]]
        linker.next_id = 1 + max([int(p["id"]) for r in done.values() for p in r["people"]], default=0)
    rois: list[tuple] = []
    manifest = json.loads((out / MANIFEST).read_text()) if done else None
    if manifest is not None:  # one directory, one labelling: a resumed run must not mix teachers or splits
        asked = {"teacher": teacher.name, "tiles": list(teacher.tile_sizes), "holdout_from": int(holdout_from),
                 "min_joints": min_joints}
        had = {"teacher": manifest["teacher"]["name"], "tiles": manifest["teacher"].get("tiles"),
               "holdout_from": manifest.get("holdout_from"), "min_joints": manifest["teacher"].get("min_joints")}
        changed = [f"{k} {had[k]} -> {asked[k]}" for k in asked if had[k] != asked[k]]
        if changed:
            raise ValueError(f"{out} holds a labelling with other settings ({', '.join(changed)}): run with the "
                             "same settings to resume it, or --restart to label again")
    video = None
    t0 = time.monotonic()
    with open(labels_path, "a") as lines:
        for frame in source:
            if max_frames is not None and frame.index >= max_frames:
                break
            if frame.index in done:
                continue
            if manifest is None and frame.rgb is not None:
                manifest = _manifest(source, teacher, holdout_from, frame, min_joints)
                _write_json(out / MANIFEST, manifest)
            record = {"frame": frame.index, "stamp": frame.stamp, "image": None, "skipped": frame.error, "people": []}
            if frame.error is None:
                boxes = propose(frame.rgb) if propose is not None else None
                found = teacher(frame.rgb, boxes=boxes, rois=rois)
                kept = [p for p in found if keep(p, min_joints)]
                summary.dropped += len(found) - len(kept)
                ids = linker.link(np.stack([p.box for p in kept]) if kept else np.zeros((0, 4)))
                record["people"] = [person_record(p, i) for p, i in zip(kept, ids)]
                rois = [p.roi for p in kept]
                name = f"{IMAGES}/{frame.index:06d}.jpg"
                cv2.imwrite(str(out / name), cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
                record["image"] = name
                summary.people += len(kept)
                if overlay:
                    if video is None:
                        h, w = frame.rgb.shape[:2]
                        mode = "a" if done else "w"  # an earlier run's video is replaced: it covers fewer frames
                        video = cv2.VideoWriter(str(out / f".overlay_{mode}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"),
                                                float(manifest.get("fps") or 10.0), (w + w % 2, h + h % 2))
                    img = draw_labels(frame.rgb, record["people"], f"frame {frame.index}  {len(kept)} people  "
                                                                    f"{teacher.name}")
                    video.write(cv2.copyMakeBorder(img, 0, img.shape[0] % 2, 0, img.shape[1] % 2,
                                                   cv2.BORDER_CONSTANT))
            else:
                summary.skipped.append((frame.index, frame.error))
                rois = []
            lines.write(json.dumps(record) + "\n")
            lines.flush()
            summary.frames += 1
            if frame_done(summary, t0, source.frame_count, progress, stop):
                break
    if video is not None:
        video.release()
    summary.seconds = time.monotonic() - t0
    if manifest is None:
        raise ValueError(f"{source.description}: no usable frame to label")
    if not summary.interrupted:
        finish(out, manifest, resumed=bool(done), overlay=overlay)
    return summary


def finish(out: Path, manifest: dict, resumed: bool = False, overlay: bool = True) -> None:
    """Mark the directory complete, write coco.json and, with ``overlay``, the whole overlay video (from the labels,
    so a resumed run's video covers every frame too)."""
    manifest["complete"] = True
    _write_json(out / MANIFEST, manifest)
    labels = PseudoLabels(out)
    _write_json(out / COCO_FILE, coco_document(labels))
    partial = out / ".overlay_w.mp4"
    if not overlay:
        return
    if resumed or not partial.is_file():
        write_overlay(labels, out / "overlay.mp4")
        for name in (".overlay_a.mp4", ".overlay_w.mp4"):
            (out / name).unlink(missing_ok=True)
    else:
        os.replace(partial, out / "overlay.mp4")


def write_overlay(labels: PseudoLabels, path: Path) -> None:
    """overlay.mp4 drawn from a label directory's images and labels."""
    rows, _ = read_lines(labels.root / LABELS)
    video = None
    for row in rows:
        if row.get("image") is None:
            continue
        bgr = cv2.imread(str(labels.root / row["image"]))
        img = draw_labels(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), row["people"],
                          f"frame {row['frame']}  {len(row['people'])} people  {labels.manifest['teacher']['name']}")
        if video is None:
            h, w = img.shape[:2]
            video = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), labels.fps or 10.0,
                                    (w + w % 2, h + h % 2))
        video.write(cv2.copyMakeBorder(img, 0, img.shape[0] % 2, 0, img.shape[1] % 2, cv2.BORDER_CONSTANT))
    if video is not None:
        video.release()
