"""Accuracy on real images against 2D keypoint labels: ``evaluate --dataset keypoints --root DIR``.

DIR is a label directory of ``label`` (teacher-made: its held-out frames, from ``holdout_from`` on) or a COCO
keypoints file (human-made, ``--root person_keypoints.json`` with the images beside it; every image is scored, in
``frame`` order where the images carry one, else by id). Per frame, the node's per-frame path (``Pipeline``) runs
and its people's SMPL joints are projected with the intrinsics it used; the 12 COCO body joints (shoulders,
elbows, wrists, hips, knees, ankles) are compared with the labels':

- **people**: a labelled person *counts* with at least ``min_joints`` (8) confident body joints; people with fewer
  are *ignored* (a prediction matched to one is neither right nor wrong). Predictions and labels are matched one to
  one (Hungarian) on the mean 2D distance of the label's confident body joints divided by the label's torso size
  (shoulders' midpoint to hips' midpoint), a match needing at most ``match_torso`` (1.0) torsos. Recall = matched
  counted labels / counted labels; precision = matched / (predictions not matched to an ignored label); F1.
- **PCK@0.5**: over matched counted people, the share of their confident body joints within half a torso.
- **jitter**: the mean 2D acceleration |p(t-1) - 2 p(t) + p(t+1)| (pixels / frame²) of the predicted body joints
  over a label track matched in three consecutive frames, on joints confident in all three; the labels' own value
  beside it (the teacher shakes too).
- **3D** (label directories: COCO files have no 3D): over matched counted people with at least ``MIN_PA_JOINTS`` (6)
  confident body joints, PA-MPJPE (mm; ``metrics.pa_mpjpe``: scale, rotation, translation fitted on those joints) of
  the predicted SMPL joints at the 12 slots against the teacher's world landmarks of the same joints, averaged over
  the people. Beside it the *mean pose*: the mean of those people's hip-centred 12-joint label skeletons (taken from
  the evaluation set itself, so a slightly optimistic baseline), scored the same way, and the ratio of the two (a
  network that learned 3D poses scores well below 1; the target is 0.75). SMPL's joints and BlazePose's landmarks
  are defined a little differently (SMPL's hips sit inside the pelvis), which adds a floor of a few tens of mm.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from hmr_ros.datasets.clips import COCO_SLOTS
from hmr_ros.datasets.coco import COCO17
from hmr_ros.datasets.pseudo_labels import CONFIDENT, LabelledFrame, LabelledPerson, PseudoLabels
from hmr_ros.teacher.landmarks import COCO17_FROM_BLAZEPOSE, COCO_BODY12

#: The 12 COCO body joints (indices into COCO-17) and the SMPL slot each is read from.
BODY12 = COCO_BODY12
SMPL_OF_BODY12 = tuple(COCO_SLOTS[COCO17[i]] for i in BODY12)
#: The teacher's BlazePose landmark of each of the 12 body joints (its world landmarks are stored as the 33).
BLAZEPOSE_OF_BODY12 = tuple(COCO17_FROM_BLAZEPOSE[i] for i in BODY12)
HIPS12 = (BODY12.index(11), BODY12.index(12))   # the hips among the 12: the root of the label skeletons
MIN_PA_JOINTS = 6
MIN_JOINTS = 8
MATCH_TORSO = 1.0
PCK_TORSO = 0.5


@dataclass
class KeypointResult:
    frames: int = 0
    labelled: int = 0              # counted labels (>= min_joints confident body joints)
    ignored: int = 0
    predicted: int = 0             # predictions not matched to an ignored label
    matched: int = 0
    recall: float = 0.0
    precision: float = 0.0
    f1: float = 0.0
    pck: float = 0.0
    pck_joints: int = 0
    pck_by_joint: dict = field(default_factory=dict)   # COCO name -> PCK@0.5 of that joint
    jitter_px: float = float("nan")
    label_jitter_px: float = float("nan")
    jitter_triples: int = 0
    pa_mpjpe_mm: float = float("nan")            # predicted 12 joints vs the teacher's world landmarks
    mean_pose_pa_mpjpe_mm: float = float("nan")  # the labels' mean pose vs the same landmarks
    pa_ratio: float = float("nan")               # pa_mpjpe_mm / mean_pose_pa_mpjpe_mm (nan: a zero baseline)
    pa_people: int = 0                           # people scored in 3D
    source: str = ""
    notes: list[str] = field(default_factory=list)


def torso_size(coco17: np.ndarray) -> float:
    """Pixels from the shoulders' midpoint to the hips' midpoint (any confidence: the teacher places them anyway)."""
    kp = np.asarray(coco17, np.float64)
    return float(np.linalg.norm(kp[[5, 6], :2].mean(0) - kp[[11, 12], :2].mean(0)))


def body12_2d(joints: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(12, 2) image pixels of a person's (24, 3) SMPL joints (metres, camera frame) in the COCO body-joint slots."""
    from hmr_ros.geometry.projection import project

    return project(np.asarray(joints, np.float64)[list(SMPL_OF_BODY12)], K)


def body12_3d(joints: np.ndarray) -> np.ndarray:
    """(12, 3) metres, camera frame: a person's (24, 3) SMPL joints in the COCO body-joint slots."""
    return np.asarray(joints, np.float64)[list(SMPL_OF_BODY12)]


def label_world12(person: LabelledPerson) -> np.ndarray | None:
    """(12, 3) metres: the teacher's world landmarks at the 12 body joints, hip-centred (the hips' midpoint at 0);
    None when the label has none (a COCO file's people: all zero)."""
    world = np.asarray(person.world, np.float64)[list(BLAZEPOSE_OF_BODY12)]
    if not world.any():
        return None
    return world - world[list(HIPS12)].mean(0)


def pa_against_mean_pose(pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """Mean PA-MPJPE (mm) of the predictions and of the labels' mean pose over ``pairs`` of (12, 3) predicted
    joints, (12, 3) hip-centred label joints (metres) and the (12,) bool confident joints each is scored on."""
    from hmr_ros.eval.metrics import pa_mpjpe

    mean_pose = np.mean([gt for _, gt, _ in pairs], axis=0)
    pred = [float(pa_mpjpe(p[ok], gt[ok])) for p, gt, ok in pairs]
    base = [float(pa_mpjpe(mean_pose[ok], gt[ok])) for _, gt, ok in pairs]
    return float(np.mean(pred)), float(np.mean(base))


def match_frame(predicted: list[np.ndarray], labels: list[LabelledPerson], min_joints: int = MIN_JOINTS,
                match_torso: float = MATCH_TORSO) -> tuple[list[tuple[int, int]], list[int]]:
    """One frame's matching. predicted: (12, 2) per prediction. Returns (pred, label) pairs and the predictions
    matched to ignored labels."""
    from scipy.optimize import linear_sum_assignment

    if not predicted or not labels:
        return [], []
    cost = np.full((len(predicted), len(labels)), np.inf)
    for j, g in enumerate(labels):
        kp = g.coco17[list(BODY12)]
        ok = kp[:, 2] >= CONFIDENT
        if not ok.any():
            continue
        torso = max(torso_size(g.coco17), 1.0)
        for i, p in enumerate(predicted):
            cost[i, j] = float(np.linalg.norm(p[ok] - kp[ok, :2], axis=1).mean()) / torso
    rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e9))
    pairs, ignored = [], []
    for i, j in zip(rows, cols):
        if cost[i, j] <= match_torso:
            (pairs if labels[j].confident() >= min_joints else ignored).append((int(i), int(j)))
    return pairs, [i for i, _ in ignored]


def score(frames: list[LabelledFrame], predictions: list[list[np.ndarray]], min_joints: int = MIN_JOINTS,
          match_torso: float = MATCH_TORSO, joints_3d: list[list[np.ndarray]] | None = None) -> KeypointResult:
    """The metrics of the module docstring from labelled frames and each frame's predicted (12, 2) joints (pixels);
    ``joints_3d``, the same predictions' (12, 3) joints (metres, camera frame: ``body12_3d``), adds the 3D numbers."""
    r = KeypointResult(frames=len(frames))
    pa_pairs = []
    hits, joints = np.zeros(12), np.zeros(12)
    tracks: dict[int, dict[int, tuple[np.ndarray, LabelledPerson]]] = {}
    for n, (frame, preds) in enumerate(zip(frames, predictions)):
        pairs, ignored = match_frame(preds, frame.people, min_joints, match_torso)
        counted = [g for g in frame.people if g.confident() >= min_joints]
        r.labelled += len(counted)
        r.ignored += len(frame.people) - len(counted)
        r.predicted += len(preds) - len(ignored)
        r.matched += len(pairs)
        for i, j in pairs:
            g = frame.people[j]
            kp = g.coco17[list(BODY12)]
            ok = kp[:, 2] >= CONFIDENT
            d = np.linalg.norm(preds[i] - kp[:, :2], axis=1)
            hits += ok & (d <= PCK_TORSO * max(torso_size(g.coco17), 1.0))
            joints += ok
            tracks.setdefault(g.id, {})[frame.frame] = (preds[i], g)
            world = label_world12(g) if joints_3d is not None else None
            if world is not None and ok.sum() >= MIN_PA_JOINTS:
                pa_pairs.append((np.asarray(joints_3d[n][i], np.float64), world, ok))
    r.recall = r.matched / r.labelled if r.labelled else 0.0
    r.precision = r.matched / r.predicted if r.predicted else 0.0
    r.f1 = 2 * r.recall * r.precision / (r.recall + r.precision) if r.recall + r.precision else 0.0
    r.pck, r.pck_joints = (float(hits.sum() / joints.sum()) if joints.sum() else 0.0), int(joints.sum())
    r.pck_by_joint = {COCO17[j]: round(float(h / n), 3) for j, h, n in zip(BODY12, hits, joints) if n}
    acc_p, acc_g = [], []
    for by_frame in tracks.values():
        for t in by_frame:
            if t - 1 in by_frame and t + 1 in by_frame:
                (p0, g0), (p1, g1), (p2, g2) = by_frame[t - 1], by_frame[t], by_frame[t + 1]
                ok = np.min([g.coco17[list(BODY12), 2] for g in (g0, g1, g2)], axis=0) >= CONFIDENT
                if ok.any():
                    acc_p.append(np.linalg.norm((p0 - 2 * p1 + p2)[ok], axis=1).mean())
                    kp = [g.coco17[list(BODY12), :2] for g in (g0, g1, g2)]
                    acc_g.append(np.linalg.norm((kp[0] - 2 * kp[1] + kp[2])[ok], axis=1).mean())
    if pa_pairs:
        r.pa_mpjpe_mm, r.mean_pose_pa_mpjpe_mm = pa_against_mean_pose(pa_pairs)
        # one person (or identical ones) makes the mean pose the label itself: no baseline to divide by
        base = r.mean_pose_pa_mpjpe_mm
        r.pa_ratio, r.pa_people = (r.pa_mpjpe_mm / base if base > 1e-3 else float("nan")), len(pa_pairs)
    r.jitter_triples = len(acc_p)
    if acc_p:
        r.jitter_px, r.label_jitter_px = float(np.mean(acc_p)), float(np.mean(acc_g))
    return r


@dataclass
class _Frame:
    frame: LabelledFrame
    K: np.ndarray


def keypoint_frames(root: str | Path) -> tuple[list[_Frame], float, str]:
    """The frames to score: a label directory's held-out frames, or every image of a COCO keypoints file."""
    from hmr_ros.camera import default_intrinsics

    root = Path(root)
    if root.is_dir():
        labels = PseudoLabels(root)
        frames = labels.heldout_frames
        if not frames:
            raise ValueError(f"{root}: no held-out frame (holdout_from {labels.holdout_from}); label with "
                             "--holdout-from to keep a tail for evaluation")
        K = labels.K if labels.K is not None else default_intrinsics(labels.manifest["width"],
                                                                      labels.manifest["height"])
        return [_Frame(f, K) for f in frames], labels.fps, f"{root} (held-out frames {frames[0].frame}-" \
                                                            f"{frames[-1].frame}, labels by {labels.teacher})"
    from hmr_ros.datasets.json_file import load_json_object

    doc = load_json_object(root, "COCO keypoints")
    try:
        images = sorted(doc["images"], key=lambda im: (im.get("frame", im["id"]), im["id"]))
        people: dict[int, list[LabelledPerson]] = {int(im["id"]): [] for im in images}
        for n, ann in enumerate(doc["annotations"]):
            kp = np.asarray(ann["keypoints"], np.float32).reshape(17, 3)
            conf = np.where(kp[:, 2] >= 2, 1.0, np.where(kp[:, 2] >= 1, CONFIDENT, 0.0)).astype(np.float32)
            x, y, w, h = (float(v) for v in ann["bbox"])
            people[int(ann["image_id"])].append(LabelledPerson(
                int(ann.get("track_id", -n - 1)), 1.0, np.array([x, y, x + w, y + h], np.float32),
                np.c_[kp[:, :2], conf], np.zeros((33, 3), np.float32), np.zeros((33, 5), np.float32)))
        out = [_Frame(LabelledFrame(int(im.get("frame", k)), float(im.get("frame", k)), root.parent / im["file_name"],
                                    people[int(im["id"])]), default_intrinsics(int(im["width"]), int(im["height"])))
               for k, im in enumerate(images)]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{root}: not a COCO keypoints file (images with id, file_name, width, height; "
                         "annotations with image_id, bbox, 17 x 3 keypoints)") from None
    return out, 30.0, f"{root} ({len(out)} images)"


def evaluate_keypoints(config, root, tracking=None, progress=None, min_joints: int = MIN_JOINTS) -> KeypointResult:
    """Run the node's per-frame path over the frames of ``root`` (see ``keypoint_frames``) and score them."""
    from hmr_ros.pipeline import Pipeline, PipelineConfig

    frames, fps, source = keypoint_frames(root)
    pipeline = Pipeline(PipelineConfig(config, tracking))
    predictions, joints_3d = [], []
    for n, f in enumerate(frames):
        bgr = cv2.imread(str(f.frame.image), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"image {f.frame.image} is missing or unreadable")
        if n and f.frame.frame != frames[n - 1].frame.frame + 1:
            pipeline.reset()  # a gap: a new stream, as the node does on a jump
        result = pipeline.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), f.frame.frame / fps, f.K)
        bodies = result.bodies if result.ready else []
        predictions.append([body12_2d(b.joints, f.K) for b in bodies])
        joints_3d.append([body12_3d(b.joints) for b in bodies])
        if progress is not None and (n + 1) % 25 == 0:
            progress(f"{n + 1}/{len(frames)} frames")
    result = score([f.frame for f in frames], predictions, min_joints, joints_3d=joints_3d)
    result.source = source
    return result


def format_keypoints(r: KeypointResult) -> str:
    return "\n".join([
        f"keypoint protocol on {r.source}: {r.frames} frames, {r.labelled} labelled people (>= {MIN_JOINTS} confident "
        f"body joints), {r.ignored} ignored",
        "| recall | precision | F1 | PCK@0.5 | jitter (px/frame²) | labels' jitter | predictions | matched |",
        "|---|---|---|---|---|---|---|---|",
        f"| {r.recall:.3f} | {r.precision:.3f} | {r.f1:.3f} | {r.pck:.3f} | {r.jitter_px:.2f} | "
        f"{r.label_jitter_px:.2f} | {r.predicted} | {r.matched} |",
        "PCK@0.5 by joint: " + ", ".join(f"{name} {v:.2f}" for name, v in r.pck_by_joint.items()),
        f"3D on {r.pa_people} people (12 body joints vs the teacher's world landmarks, >= {MIN_PA_JOINTS} confident): "
        f"PA-MPJPE {r.pa_mpjpe_mm:.1f} mm, mean pose {r.mean_pose_pa_mpjpe_mm:.1f} mm, ratio {r.pa_ratio:.2f} "
        "(target <= 0.75)" if r.pa_people else
        "3D: no person scored (COCO files have no world landmarks; a label directory's matched people need "
        f">= {MIN_PA_JOINTS} confident body joints)"])


def result_json(r: KeypointResult) -> str:
    return json.dumps(asdict(r), indent=1)
