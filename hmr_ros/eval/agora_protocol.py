"""The AGORA protocol (Patel et al., CVPR 2021) for SMPL bodies: F1, MPJPE, MVE, NMJE, NMVE over the valid people.

- **Matching**, per image, as AGORA's evaluation does it (written here from its documentation and rule):
  - the cost of a (prediction, person) pair is the mean 2D distance over the 24 SMPL joints, predicted joints
    projected with the image's K;
  - pairs are taken greedily, cheapest first. A pair whose keypoint boxes overlap with IoU < 0.1 counts towards the
    loop's false-positive budget. A pair with IoU >= 0.1 whose prediction and person are both still free is
    accepted. An accepted pair whose person is not valid (``isValid``: occlusion outside 0-90 %) sets the person
    aside, and its prediction stays free;
  - the loop stops when every person is taken, or when the accepted predictions plus the budget reach the number of
    predictions;
  - then every free prediction is a false positive (one that found only an occluded person included) and every free
    valid person a miss. Invalid people are never scored.
  - Boxes are the extents of the 2D joints with AGORA's inclusive-pixel areas ((x2 - x1 + 1)(y2 - y1 + 1)).
- **Errors** per matched person, after aligning each skeleton and mesh at its own pelvis, which AGORA takes as the
  midpoint of the two hip joints (SMPL joints 1 and 2):
  - MPJPE: the mean distance over the 24 SMPL joints;
  - MVE: the mean distance over the 6890 vertices;
  - both in millimetres, averaged over the matched people.
- **Detection**: precision TP / (TP + FP), recall TP / (TP + FN), F1 = TP / (TP + (FP + FN) / 2).
- **Normalised errors**: NMJE = MPJPE / F1 and NMVE = MVE / F1, with F1 rounded to two decimals first, as AGORA's
  script does.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hmr_ros.bodies import Body
from hmr_ros.datasets.agora import AgoraImage
from hmr_ros.geometry.projection import project

IOU_THRESHOLD = 0.1
JOINTS = 24
HIPS = (1, 2)


def keypoint_box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of the boxes around two (J, 2) point sets, areas counted in inclusive pixels as AGORA does."""
    (ax0, ay0), (ax1, ay1) = a.min(0), a.max(0)
    (bx0, by0), (bx1, by1) = b.min(0), b.max(0)
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0) + 1) * max(0.0, min(ay1, by1) - max(ay0, by0) + 1)
    union = (ax1 - ax0 + 1) * (ay1 - ay0 + 1) + (bx1 - bx0 + 1) * (by1 - by0 + 1) - inter
    return float(inter / union)


@dataclass
class AgoraMatch:
    pairs: list[tuple[int, int]]   # (prediction, person), valid people only
    false_positives: int
    misses: int


def match_agora(pred2d: list[np.ndarray], gt2d: list[np.ndarray], valid: list[bool],
                iou_threshold: float = IOU_THRESHOLD) -> AgoraMatch:
    """AGORA's greedy matching of predictions to people on (J >= 24, 2) pixel joints (see the module doc)."""
    pairs = [(float(np.linalg.norm(p[:JOINTS] - g[:JOINTS], axis=-1).mean()), i, j)
             for i, p in enumerate(pred2d) for j, g in enumerate(gt2d)]
    pairs.sort(key=lambda c: c[0])
    pred_taken, gt_taken, matched = set(), set(), []
    budget = 0
    for _, i, j in pairs:
        if len(gt_taken) == len(gt2d) or len(pred_taken) + budget >= len(pred2d):
            break
        if keypoint_box_iou(pred2d[i][:JOINTS], gt2d[j][:JOINTS]) < iou_threshold:
            budget += 1
            if not valid[j]:
                gt_taken.add(j)
            continue
        if i in pred_taken or j in gt_taken:
            continue
        gt_taken.add(j)
        if valid[j]:
            pred_taken.add(i)
            matched.append((i, j))
    misses = sum(1 for j in range(len(gt2d)) if valid[j] and j not in {g for _, g in matched})
    return AgoraMatch(matched, len(pred2d) - len(pred_taken), misses)


def hip_aligned(points: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """``points`` relative to the midpoint of the hips of ``joints`` (24, 3)."""
    return points - (joints[HIPS[0]] + joints[HIPS[1]]) / 2.0


@dataclass
class AgoraReport:
    joints: str = f"{JOINTS} SMPL joints"
    vertices: str = "all 6890 SMPL vertices"
    people: int = 0            # valid people (the denominator of recall)
    matched: int = 0
    misses: int = 0
    false_positives: int = 0
    precision: float = float("nan")
    recall: float = float("nan")
    f1: float = float("nan")
    mpjpe: float = float("nan")   # mm
    mve: float = float("nan")     # mm
    nmje: float = float("nan")    # mm
    nmve: float = float("nan")    # mm
    per_person: list[dict] = field(default_factory=list)


class AgoraProtocol:
    def __init__(self):
        self.joint_errors: list[float] = []
        self.vertex_errors: list[float] = []
        self.people = self.misses = self.false_positives = 0
        self.per_person: list[dict] = []
        self.mesh_mismatch: tuple[int, int] | None = None

    def add_image(self, image: AgoraImage, predictions: list[Body]) -> None:
        joints = [np.asarray(b.joints, np.float64)[:JOINTS] for b in predictions]
        # AGORA's matching re-checks the occlusion range on top of isValid (which already means 0-90 %)
        valid = [p.valid and 0.0 <= p.occlusion <= 90.0 for p in image.people]
        match = match_agora([project(j, image.K) for j in joints], [p.joints2d for p in image.people], valid)
        self.people += sum(valid)
        self.misses += match.misses
        self.false_positives += match.false_positives
        for i, j in match.pairs:
            person, pred = image.people[j], joints[i]
            gt_joints = np.asarray(person.joints3d, np.float64)
            mpjpe = np.linalg.norm(hip_aligned(pred, pred) - hip_aligned(gt_joints, gt_joints), axis=-1).mean()
            verts = np.asarray(predictions[i].vertices, np.float64)
            if len(verts) == len(person.vertices):
                mve = np.linalg.norm(hip_aligned(verts, pred) - hip_aligned(np.asarray(person.vertices, np.float64),
                                                                             gt_joints), axis=-1).mean()
            else:  # another mesh (the procedural body): its vertices do not correspond to SMPL's
                mve, self.mesh_mismatch = float("nan"), (len(verts), len(person.vertices))
            self.joint_errors.append(1e3 * float(mpjpe))
            self.vertex_errors.append(1e3 * float(mve))
            self.per_person.append({"image": image.image_path.name, "person": j, "mpjpe_mm": 1e3 * float(mpjpe),
                                    "mve_mm": 1e3 * float(mve), "occlusion": person.occlusion, "kid": person.kid})

    def report(self) -> AgoraReport:
        tp = len(self.joint_errors)
        r = AgoraReport(people=self.people, matched=tp, misses=self.misses, false_positives=self.false_positives,
                        per_person=self.per_person)
        if self.mesh_mismatch:
            r.vertices = (f"no MVE: the body model has {self.mesh_mismatch[0]} vertices, AGORA's SMPL "
                          f"{self.mesh_mismatch[1]} (pass --body-model with the SMPL .npz)")
        if tp:
            r.precision = tp / (tp + self.false_positives)
            r.recall = tp / (tp + self.misses)
            r.f1 = tp / (tp + 0.5 * (self.false_positives + self.misses))
            r.mpjpe = float(np.mean(self.joint_errors))
            r.mve = float("nan") if self.mesh_mismatch else float(np.mean(self.vertex_errors))
            f1 = round(r.f1, 2)
            r.nmje, r.nmve = (r.mpjpe / f1, r.mve / f1) if f1 > 0 else (float("inf"), float("inf"))
        elif self.people or self.false_positives:
            r.precision = r.recall = r.f1 = 0.0
        return r


def format_agora(r: AgoraReport) -> str:
    return (f"AGORA ({r.joints}, {r.vertices}; {r.people} valid people, {r.matched} matched, {r.misses} missed, "
            f"{r.false_positives} false positives): F1 {r.f1:.3f} (precision {r.precision:.3f}, recall "
            f"{r.recall:.3f}) | MPJPE {r.mpjpe:.1f} mm | MVE {r.mve:.1f} mm | NMJE {r.nmje:.1f} mm | "
            f"NMVE {r.nmve:.1f} mm")


def evaluate_agora(config, root, images, width: int = 1280, height: int = 720, tracking=None,
                   progress=lambda line: None, trust_pickles: bool = False) -> AgoraReport:
    """Score every image of every converted table (``*.npz``) under ``root``, its images under ``images``: each
    image goes through the node's per-frame path as a still clip (the window filled with it), and the output frame's
    people are scored. With ``trust_pickles``, AGORA's own pickled tables in ``root`` are converted first (into a
    temporary folder; ``convert-agora`` keeps them)."""
    import tempfile
    from pathlib import Path

    from hmr_ros.datasets.agora import AgoraTable
    from hmr_ros.datasets.agora_convert import convert_table
    from hmr_ros.eval.image_frames import predict_still
    from hmr_ros.pipeline import Pipeline, PipelineConfig

    tables = sorted(Path(root).glob("*.npz"))
    pickles = sorted(Path(root).glob("*.pkl"))
    if not tables and pickles and trust_pickles:
        scratch = tempfile.TemporaryDirectory(prefix="hmr_ros_agora_")
        tables = [convert_table(p, scratch.name, trust=True) for p in pickles]
        progress(f"converted {len(tables)} pickled AGORA tables")
    if not tables:
        raise ValueError(f"no converted AGORA tables (*.npz) in {root}: write them with python -m hmr_ros "
                         "convert-agora" + (", or pass --trust-pickles to convert AGORA's pickles there on the way"
                                            if pickles else ""))
    pipeline = Pipeline(PipelineConfig(config, tracking))
    protocol = AgoraProtocol()
    for n, path in enumerate(tables, 1):
        table_images = AgoraTable(path, images, width, height).images()
        for image in table_images:
            protocol.add_image(image, predict_still(pipeline, image, config.network.window, "AGORA"))
        progress(f"[{n}/{len(tables)}] {path.name}: {len(table_images)} images")
    return protocol.report()
