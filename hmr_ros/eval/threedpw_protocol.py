"""The 3DPW test protocol: MPJPE, PA-MPJPE, PVE and Accel of each actor over the test frames whose camera pose is
valid (``campose_valid``), as VIBE, TCMR, GLoT and SIAM report them, for a multi-person method that finds the
people itself.

- Joints: 14 LSP joints through a joint regressor file the user supplies ((14, V) over the body model's vertices,
  e.g. SPIN's ``J_regressor_h36m``/LSP regressor saved as .npy), else the 24 SMPL joints; the report says which.
  Root alignment: the pelvis (SMPL joint 0), or the mid-hip (LSP joints 2 and 3) with 14 joints.
- Ground truth: the actor's camera-frame SMPL (``datasets.threedpw``) posed by the body model, joints and mesh
  through the same regressor as the prediction, so both sides are measured alike.
- Matching: per frame, each actor to the predicted person whose detected centre is nearest its projected pelvis,
  within ``metrics.match_threshold`` of its projected box (``metrics.match_people``); an actor nobody matches is a
  miss, counted and left out of the errors (the papers' single-person methods are given GT crops instead).
- Accel: the second difference over runs of consecutive matched valid frames of one actor, root-aligned (mm/frame²).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from hmr_ros.bodies import Body
from hmr_ros.datasets.threedpw import Frame3DPW
from hmr_ros.eval.metrics import accel_error, match_people, match_threshold, mpjpe, pa_mpjpe, pve
from hmr_ros.geometry.projection import project
from hmr_ros.geometry.rotations_np import rotmat_from_rotvec

LSP_HIPS = (2, 3)  # right hip, left hip in the 14-joint LSP order


@dataclass
class ProtocolReport:
    joints: str                      # "24 SMPL joints" or "14 LSP joints (regressor FILE)"
    mpjpe: float = float("nan")      # mm, means over matched valid actor-frames
    pa_mpjpe: float = float("nan")
    pve: float = float("nan")
    accel: float = float("nan")      # mm/frame^2
    matched: int = 0                 # actor-frames scored
    missed: int = 0                  # valid actor-frames nobody was matched to
    per_frame: dict = field(default_factory=dict)  # name -> list of per actor-frame errors


class ThreeDPWProtocol:
    """Scores predictions sequence by sequence. ``regressor``: (14, V) LSP regressor, or None for 24 SMPL joints."""

    def __init__(self, body_model, regressor: np.ndarray | None = None, regressor_name: str = ""):
        self.body_model = body_model
        self.regressor = None if regressor is None else np.asarray(regressor, np.float64)
        if self.regressor is not None and self.regressor.shape != (14, body_model.num_vertices):
            raise ValueError(f"joint regressor {regressor_name}: shape {self.regressor.shape}, expected "
                             f"(14, {body_model.num_vertices}) for this body model")
        self.joints_name = ("24 SMPL joints" if regressor is None
                            else f"14 LSP joints (regressor {regressor_name or 'given'})")
        self.errors: dict[str, list[float]] = {"mpjpe": [], "pa_mpjpe": [], "pve": [], "accel": []}
        self.matched = self.missed = 0

    def _joints(self, vertices: np.ndarray, smpl_joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(J, 3) evaluation joints and the (3,) root they are aligned at."""
        if self.regressor is None:
            return smpl_joints, smpl_joints[0]
        j = self.regressor @ vertices
        return j, j[list(LSP_HIPS)].mean(axis=0)

    def _gt(self, person) -> tuple[np.ndarray, np.ndarray]:
        """(V, 3) vertices and (24, 3) joints of an actor, camera frame, metres."""
        rot = rotmat_from_rotvec(np.r_[person.global_orient, person.body_pose].reshape(24, 3).astype(np.float64))
        with torch.no_grad():
            out = self.body_model(torch.as_tensor(person.betas, dtype=torch.float32)[None],
                                  torch.as_tensor(rot, dtype=torch.float32)[None])
        t = np.asarray(person.translation, np.float64)
        return out.vertices[0].double().numpy() + t, out.joints[0].double().numpy() + t

    def add_sequence(self, frames: list[Frame3DPW], predictions: list[list[Body]]) -> None:
        """One sequence: its frames and, per frame, the predicted people (any order)."""
        if len(frames) != len(predictions):
            raise ValueError(f"{len(predictions)} prediction lists for {len(frames)} frames")
        tracks: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
        for frame, preds in zip(frames, predictions):
            people = [p for p in frame.people if p.valid]
            if not people:
                continue
            gts = [self._gt(p) for p in people]
            boxes = np.array([np.r_[uv.min(0), uv.max(0)] for uv in (project(v, frame.K) for v, _ in gts)])
            gt_2d = np.array([project(j[0], frame.K) for _, j in gts]).reshape(-1, 1, 2)
            pred_2d = np.array([b.center for b in preds], np.float64).reshape(-1, 1, 2)
            match = np.full(len(people), -1)
            for g, p in match_people(pred_2d, gt_2d, match_threshold(boxes)):
                match[g] = p
            for person, (v_gt, j_gt), m in zip(people, gts, match):
                if m < 0:
                    self.missed += 1
                    continue
                body = preds[int(m)]
                jp, rp = self._joints(np.asarray(body.vertices, np.float64), np.asarray(body.joints, np.float64))
                jg, rg = self._joints(v_gt, j_gt)
                self.errors["mpjpe"].append(float(mpjpe(jp - rp, jg - rg, root_index=None)))
                self.errors["pa_mpjpe"].append(float(pa_mpjpe(jp, jg)))
                self.errors["pve"].append(float(pve(np.asarray(body.vertices, np.float64), v_gt, rp, rg)))
                self.matched += 1
                tracks.setdefault(person.actor, []).append((frame.index, jp - rp, jg - rg))
        for run in _consecutive(tracks):
            pred = np.stack([r[1] for r in run])
            gt = np.stack([r[2] for r in run])
            self.errors["accel"] += accel_error(pred, gt, root_index=None).tolist()

    def report(self) -> ProtocolReport:
        mean = {k: float(np.mean(v)) if v else float("nan") for k, v in self.errors.items()}
        return ProtocolReport(self.joints_name, mean["mpjpe"], mean["pa_mpjpe"], mean["pve"], mean["accel"],
                              self.matched, self.missed, {k: list(v) for k, v in self.errors.items()})


def _consecutive(tracks: dict[int, list]) -> list[list]:
    """Each actor's matched frames cut into runs of consecutive image indices."""
    runs = []
    for items in tracks.values():
        run = [items[0]]
        for prev, cur in zip(items, items[1:]):
            if cur[0] == prev[0] + 1:
                run.append(cur)
            else:
                runs.append(run)
                run = [cur]
        runs.append(run)
    return runs


def evaluate_3dpw(config, root, split: str = "test", regressor: str | None = None, tracking=None,
                  progress=lambda line: None) -> ProtocolReport:
    """Run the node's per-frame path (``Pipeline``, ``config`` an ``EstimatorConfig``) over every sequence of a 3DPW
    split (images at 30 Hz, the sequence's K) and score it. The body model of ``config`` poses the ground truth too:
    give it the SMPL file 3DPW was fitted with."""
    from hmr_ros.datasets.threedpw import ThreeDPW
    from hmr_ros.eval.image_frames import predict_frames
    from hmr_ros.pipeline import Pipeline, PipelineConfig

    pipeline = Pipeline(PipelineConfig(config, tracking))
    data = ThreeDPW(root, split, pipeline.estimator.body_model)
    reg = np.load(regressor, allow_pickle=False) if regressor else None
    protocol = ThreeDPWProtocol(pipeline.estimator.body_model, reg, str(regressor or ""))
    for n, name in enumerate(data.sequences, 1):
        frames = data.frames(name)
        predictions = predict_frames(pipeline, frames, 30.0, "3DPW")
        protocol.add_sequence(frames, predictions)
        progress(f"[{n}/{len(data.sequences)}] {name}: {len(frames)} frames, {protocol.matched} actor-frames "
                 f"matched, {protocol.missed} missed so far")
    return protocol.report()


def format_protocol(report: ProtocolReport) -> str:
    return (f"3DPW ({report.joints}): MPJPE {report.mpjpe:.1f} mm, PA-MPJPE {report.pa_mpjpe:.1f} mm, "
            f"PVE {report.pve:.1f} mm, Accel {report.accel:.1f} mm/frame^2 over {report.matched} matched valid "
            f"actor-frames ({report.missed} missed: no predicted person near the actor)")
