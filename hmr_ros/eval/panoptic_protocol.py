"""The CMU Panoptic protocol of SIAM's Table 2 (as ROMP/BEV/CRMH report it): MPJPE per activity — Haggling, Mafia,
Ultimatum, Pizza — of every reconstructed person seen by one HD camera, root-aligned at the pelvis.

- Joints: a regressor file the user supplies, (19, V) from the body model's vertices to Panoptic's COCO-19 order (the
  faithful way), else the 14 joints SMPL and COCO-19 share by name (neck, pelvis, shoulders, elbows, wrists, hips,
  knees, ankles), whose definitions differ by a few centimetres between the two skeletons; the report says which.
  Only joints with a Panoptic confidence above ``MIN_CONFIDENCE`` count.
- Matching: per frame, each person to the predicted person whose detected centre is nearest the projection of their
  pelvis, within 0.3 × the diagonal of their projected joints' box (``metrics.match_people``); unmatched people are
  misses, counted and not scored.
- Activity: from the sequence name (``160422_haggling1`` -> haggling).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hmr_ros.bodies import Body
from hmr_ros.datasets.panoptic import COCO19, SMPL_SLOTS, PanopticFrame
from hmr_ros.eval.metrics import match_people, match_threshold, mpjpe

ACTIVITIES = ("haggling", "mafia", "ultimatum", "pizza")
MIN_CONFIDENCE = 0.1
PELVIS = COCO19.index("pelvis")
SHARED = SMPL_SLOTS  # COCO-19 joint -> SMPL joint slot (datasets.panoptic)


def activity(sequence: str) -> str | None:
    """"haggling" for 160422_haggling1, None for a sequence of none of the four activities."""
    name = sequence.lower()
    return next((a for a in ACTIVITIES if a in name), None)


@dataclass
class PanopticReport:
    joints: str
    mpjpe: dict[str, float] = field(default_factory=dict)   # activity -> mm, and "mean" over the activities
    matched: dict[str, int] = field(default_factory=dict)
    missed: dict[str, int] = field(default_factory=dict)


class PanopticProtocol:
    def __init__(self, regressor: np.ndarray | None = None, regressor_name: str = ""):
        self.regressor = None if regressor is None else np.asarray(regressor, np.float64)
        if self.regressor is not None and self.regressor.shape[0] != len(COCO19):
            raise ValueError(f"joint regressor {regressor_name}: shape {self.regressor.shape}, expected (19, V) "
                             "onto Panoptic's COCO-19 joints")
        self.joints_name = ("14 joints shared by SMPL and COCO-19" if regressor is None
                            else f"COCO-19 joints (regressor {regressor_name or 'given'})")
        self.errors: dict[str, list[float]] = {a: [] for a in ACTIVITIES}
        self.missed = {a: 0 for a in ACTIVITIES}

    def _predicted(self, body: Body) -> tuple[np.ndarray, np.ndarray]:
        """(19, 3) predicted joints in COCO-19 order (NaN where unknown) and which of them exist."""
        out = np.full((len(COCO19), 3), np.nan)
        if self.regressor is not None:
            if self.regressor.shape[1] != len(body.vertices):
                raise ValueError(f"joint regressor: {self.regressor.shape[1]} vertices, the body model has "
                                 f"{len(body.vertices)}")
            out[:] = self.regressor @ np.asarray(body.vertices, np.float64)
        else:
            for c, s in SHARED.items():
                out[COCO19.index(c)] = np.asarray(body.joints, np.float64)[s]
        return out, ~np.isnan(out[:, 0])

    def add_sequence(self, sequence: str, frames: list[PanopticFrame], predictions: list[list[Body]]) -> None:
        act = activity(sequence)
        if act is None:
            raise ValueError(f"Panoptic sequence {sequence}: not one of the activities {', '.join(ACTIVITIES)}")
        for frame, preds in zip(frames, predictions):
            people = [p for p in frame.people if p.confidence[PELVIS] > MIN_CONFIDENCE]
            if not people:
                continue
            seen = [p.keypoints2d[p.confidence > MIN_CONFIDENCE] for p in people]
            boxes = np.array([np.r_[uv.min(0), uv.max(0)] for uv in seen])
            gt_2d = np.array([p.keypoints2d[PELVIS] for p in people], np.float64).reshape(-1, 1, 2)
            pred_2d = np.array([b.center for b in preds], np.float64).reshape(-1, 1, 2)
            match = np.full(len(people), -1)
            for g, p in match_people(pred_2d, gt_2d, match_threshold(boxes)):
                match[g] = p
            for person, m in zip(people, match):
                if m < 0:
                    self.missed[act] += 1
                    continue
                pred, known = self._predicted(preds[int(m)])
                use = known & (person.confidence > MIN_CONFIDENCE)
                gt = np.asarray(person.joints, np.float64)
                self.errors[act].append(float(mpjpe((pred - pred[PELVIS])[use][None], (gt - gt[PELVIS])[use][None],
                                                    root_index=None)[0]))

    def report(self) -> PanopticReport:
        r = PanopticReport(self.joints_name)
        for a in ACTIVITIES:
            r.mpjpe[a] = float(np.mean(self.errors[a])) if self.errors[a] else float("nan")
            r.matched[a], r.missed[a] = len(self.errors[a]), self.missed[a]
        scored = [r.mpjpe[a] for a in ACTIVITIES if self.errors[a]]
        r.mpjpe["mean"] = float(np.mean(scored)) if scored else float("nan")
        return r


def format_panoptic(r: PanopticReport) -> str:
    cells = " | ".join(f"{a} {r.mpjpe[a]:.1f} mm ({r.matched[a]} matched, {r.missed[a]} missed)" for a in ACTIVITIES)
    return f"CMU Panoptic MPJPE ({r.joints}): {cells} | mean {r.mpjpe['mean']:.1f} mm"


def evaluate_panoptic(config, root, camera: str = "00_16", regressor: str | None = None, tracking=None,
                      progress=lambda line: None) -> PanopticReport:
    """Run the node's per-frame path (``Pipeline``) over every sequence folder under ``root`` whose name is one of
    the four activities, as seen by HD camera ``camera`` (images at 29.97 Hz, not undistorted: the network sees
    what the camera saw), and score it."""
    from pathlib import Path

    from hmr_ros.datasets.panoptic import PanopticSequence
    from hmr_ros.eval.image_frames import predict_frames
    from hmr_ros.pipeline import Pipeline, PipelineConfig

    folders = sorted(f for f in Path(root).iterdir() if f.is_dir() and activity(f.name)
                     and (f / f"calibration_{f.name}.json").is_file())
    if not folders:
        raise ValueError(f"no Panoptic sequence of the activities {', '.join(ACTIVITIES)} under {root} (expected "
                         "<root>/<sequence>/calibration_<sequence>.json)")
    pipeline = Pipeline(PipelineConfig(config, tracking))
    reg = np.load(regressor, allow_pickle=False) if regressor else None
    protocol = PanopticProtocol(reg, str(regressor or ""))
    for n, folder in enumerate(folders, 1):
        frames = PanopticSequence(folder, camera).frames()
        predictions = predict_frames(pipeline, frames, 29.97, "Panoptic")
        protocol.add_sequence(folder.name, frames, predictions)
        progress(f"[{n}/{len(folders)}] {folder.name}: {len(frames)} frames")
    return protocol.report()
