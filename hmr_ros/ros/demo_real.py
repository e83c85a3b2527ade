"""The demo's second part, real people: frames of OpenCV's street video (vtest.avi, fetched by
``scripts/fetch_media.sh``), the BlazePose teacher's labels for them, and the score of what hmr_node published
against those labels (the keypoint protocol: person recall / precision, PCK@0.5). ROS-free; ``demo.py`` sends the
frames to the node.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from hmr_ros.camera import default_intrinsics
from hmr_ros.datasets.pseudo_labels import LabelledFrame, person_from_record, person_record
from hmr_ros.eval.keypoint_protocol import body12_2d, score
from hmr_ros.eval.photo_protocol import default_media_dir
from hmr_ros.recordings.label import Linker, draw_labels, keep
from hmr_ros.palette import to_u8
from hmr_ros.teacher import BlazePose, TeacherUnavailable

#: The held-out part of vtest.avi (training reads frames 0-599 only, docs/training.md): the demo shows these.
FIRST_FRAME = 600


def default_video() -> Path:
    """Where scripts/fetch_media.sh puts vtest.avi: the hmr_ros cache's media/."""
    return default_media_dir() / "vtest.avi"


def read_frames(path: Path, first: int, count: int) -> list[np.ndarray]:
    """RGB frames first .. first + count - 1 of a video; ValueError naming the fetch script when it is missing."""
    if not Path(path).is_file():
        raise ValueError(f"{path} is missing: fetch it with bash scripts/fetch_media.sh (make demo does)")
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, first)
    frames = []
    for _ in range(count):
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    if not frames:
        raise ValueError(f"{path}: no frame from {first} on")
    return frames


def teacher_labels(frames: list[np.ndarray], first: int, teacher, min_joints: int = 6) -> list[tuple[LabelledFrame,
                                                                                                     list[dict]]]:
    """Per frame the teacher's people as ``label`` keeps them (plausible, ``min_joints`` confident body joints,
    linked over time): the LabelledFrame the protocol scores and the records the overlay draws."""
    linker, rois, out = Linker(), [], []
    for n, rgb in enumerate(frames):
        found = [p for p in teacher(rgb, rois=rois) if keep(p, min_joints)]
        ids = linker.link(np.stack([p.box for p in found]) if found else np.zeros((0, 4)))
        records = [person_record(p, i) for p, i in zip(found, ids)]
        rois = [p.roi for p in found]
        out.append((LabelledFrame(first + n, n / 10.0, None, [person_from_record(r) for r in records]), records))
    return out


def intrinsics(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return default_intrinsics(w, h)


def overlay(rgb: np.ndarray, K: np.ndarray, meshes, colors, labels, rois, records: list[dict],
            header: list[str]) -> np.ndarray:
    """The published meshes (RViz colours) over the frame, the teacher's skeletons on top; BGR."""
    from hmr_ros.recordings.overlay import draw_overlay

    drawn, _ = draw_overlay(rgb, K, meshes, colors, labels, rois, [], header)
    return draw_labels(drawn, records, "")


def published(msg, by_index: dict) -> tuple[list, list, list, list]:
    """What ``overlay`` draws of a received SMPLHumanArray and its mesh markers by person index: meshes (V, 3)
    metres, RViz colours, "id score" labels and ROIs (x, y, w, h) of the people whose marker arrived."""
    meshes, colors, labels, rois = [], [], [], []
    for k, h in enumerate(msg.humans):
        mk = by_index.get(k)
        if mk is not None:
            meshes.append(np.array([[p.x, p.y, p.z] for p in mk.points], np.float64))
            colors.append(to_u8((mk.color.r, mk.color.g, mk.color.b)))
            labels.append(f"{h.id or '#' + str(k)} {h.score:.2f}")
            rois.append((int(h.roi.x_offset), int(h.roi.y_offset), int(h.roi.width), int(h.roi.height)))
    return meshes, colors, labels, rois


def summarise(labelled: list[LabelledFrame], predictions: list[list[np.ndarray]]) -> dict:
    r = score(labelled, predictions)
    return {"frames": r.frames, "teacher_people": r.labelled, "ignored": r.ignored, "published": r.predicted,
            "matched": r.matched, "recall": round(r.recall, 3), "precision": round(r.precision, 3),
            "f1": round(r.f1, 3), "pck": round(r.pck, 3)}


def play_real(exchange, camera_info, out: Path, weights: str, frames: list[np.ndarray], first: int,
              video: Path) -> dict:
    """Send ``frames`` (frame ``first`` on of ``video``) to the node, label them with the teacher, score and draw.
    ``exchange(rgb, CameraInfo, stamp, what) -> (message, markers by index, latency)`` and ``camera_info(K, w, h)``
    come from ``demo.main``."""
    try:
        teacher = BlazePose(landmark="full")
    except TeacherUnavailable as e:
        raise ValueError(str(e)) from None
    print(f"[demo] real people: {len(frames)} frames of {video.name} from frame {first}; labelling them with "
          f"{teacher.name} to score the node against", flush=True)
    labelled = teacher_labels(frames, first, teacher)
    (out / "real" / "overlay").mkdir(parents=True, exist_ok=True)
    for old in (out / "real" / "overlay").glob("frame_*.png"):
        old.unlink()
    K = intrinsics(frames[0])
    info = camera_info(K, frames[0].shape[1], frames[0].shape[0])
    predictions = []
    for n, (rgb, (label, records)) in enumerate(zip(frames, labelled)):
        stamp = (2_000_000 + n // 10, (n % 10) * 100_000_000)   # 10 fps, after a gap: the node starts a new stream
        msg, by_index, latency = exchange(rgb, info, stamp, f"real frame {first + n}")
        joints = [np.array([[p.x, p.y, p.z] for p in h.joints], np.float64) for h in msg.humans]
        predictions.append([body12_2d(j, K) for j in joints])
        meshes, colors, labels, rois = published(msg, by_index)
        header = [f"vtest.avi frame {first + n}", weights, f"{len(msg.humans)} published, {len(label.people)} "
                  f"labelled by the teacher (skeletons)"]
        img = overlay(rgb, K, meshes, colors, labels, rois, records, header)
        cv2.imwrite(str(out / "real" / "overlay" / f"frame_{first + n:04d}.png"), img)
        print(f"[demo] real frame {first + n}: {len(msg.humans)} published, {len(label.people)} labelled, "
              f"{latency:.2f} s", flush=True)
    return {"video": str(video), "first": first, "weights": weights,
            **summarise([lab for lab, _ in labelled], predictions)}


def play_photos(exchange, camera_info, out: Path, weights: str, boxes_file: Path, repeats: int = 9) -> dict:
    """Send each photo of ``boxes_file`` (``eval.photo_protocol``'s format: the opencv-doc photos with hand-drawn
    boxes) to the node ``repeats`` times as a still clip, score the people of the last answer against the drawn
    boxes and draw them (``real/photos/NAME.png``: meshes, the drawn boxes in white)."""
    from hmr_ros.eval.photo_protocol import clip_boxes, read_photo_boxes, score_photo, total

    photos, _ = read_photo_boxes(boxes_file)
    folder = out / "real" / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    scores = []
    for n, photo in enumerate(photos):
        rgb = cv2.cvtColor(cv2.imread(str(photo.image)), cv2.COLOR_BGR2RGB)
        K = intrinsics(rgb)
        info = camera_info(K, rgb.shape[1], rgb.shape[0])
        for t in range(repeats):   # a still clip after a gap: a new stream whose window and tracks fill with it
            msg, by_index, latency = exchange(rgb, info, (3_000_000 + 100 * n + t // 10, (t % 10) * 100_000_000),
                                              f"{photo.image.name} ({t + 1}/{repeats})")
        boxes = clip_boxes([(h.roi.x_offset, h.roi.y_offset, h.roi.x_offset + h.roi.width,
                             h.roi.y_offset + h.roi.height) for h in msg.humans], rgb.shape[1], rgb.shape[0])
        s = score_photo(boxes, photo.people, photo.ignore, photo.image.name)
        scores.append(s)
        meshes, colors, labels, rois = published(msg, by_index)
        header = [photo.image.name, weights, f"{s.found}/{s.people} found, {s.false} false (white: drawn by hand)"]
        img = overlay(rgb, K, meshes, colors, labels, rois, [], header)
        for x0, y0, x1, y1 in photo.people.astype(int):
            cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), (255, 255, 255), 1)
        cv2.imwrite(str(folder / f"{photo.image.stem}.png"), img)
        print(f"[demo] {photo.image.name}: {len(msg.humans)} published, {s.found} of {s.people} found, {s.false} "
              f"false, {latency:.2f} s", flush=True)
    r = total(scores, str(boxes_file))
    return {"photos": len(scores), "people": r.people, "found": r.found, "false": r.false,
            "recall": round(r.recall, 3), "precision": round(r.precision, 3)}
