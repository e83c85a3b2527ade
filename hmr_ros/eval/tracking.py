"""Tracking metrics on the synthetic scenarios of :mod:`hmr_ros.eval.tracking_scenarios`.

:func:`evaluate` scores a tracker's outputs: CLEAR-MOT style ID switches against the ground-truth identity, plus id
transfers (one output id on two people), MOTA, MPJPE (mm, root-relative and camera frame) and the acceleration
error (VIBE/TCMR convention: mean over joints of the norm of the difference of second finite differences of the
camera-frame joints, in mm per frame^2, which the literature labels "mm/s^2"). :func:`run_scenario` feeds simulated
detections through a :class:`~hmr_ros.tracking.tracker.Tracker` and scores it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from hmr_ros.bodies import Body
from hmr_ros.eval.tracking_scenarios import (
    Detection,
    DetectorNoise,
    KinematicSkeleton,
    Scenario,
    simulate_detections,
)
from hmr_ros.tracking.tracker import Tracker, TrackerConfig


# ----------------------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------------------
@dataclass
class TrackingMetrics:
    """Scores of one tracker run on one scenario."""

    id_switches: int  # CLEAR-MOT: a person's matched output id differs from the one matched before
    id_transfers: int  # an output id matched to a different person than before
    # Of those, the ones after a gap of at most ``short_gap_frames`` frames without a match (0 = a swap
    # while visible): the target is none of them.
    id_switches_short_gap: int
    id_transfers_short_gap: int
    false_negatives: int
    false_positives: int
    num_truth: int  # in-view person-frames
    mota: float
    mpjpe_mm: float  # root-relative
    mpjpe_cam_mm: float  # camera frame, no alignment
    accel_error_mm: float  # mm/frame^2, camera-frame joints (VIBE/TCMR convention)
    num_accel_triples: int


def evaluate(scen: Scenario, outputs: list[list[Body]], match_distance_m: float = 0.5,
             short_gap_frames: int = 10) -> TrackingMetrics:
    """Score tracker ``outputs`` (per frame) against the scenario's ground truth.

    Per frame, output bodies are matched to in-view people by optimal assignment on root distance
    (at most ``match_distance_m``). An id switch (or transfer) is "short-gap" when the person (or id) was
    matched at most ``short_gap_frames`` frames before. Accel is computed on every run of three
    consecutive frames in which a person is matched to the same output id.
    """
    last_id: dict[int, tuple[str, int]] = {}  # person -> (id, frame)
    last_truth: dict[str, tuple[int, int]] = {}  # id -> (person, frame)
    idsw = transfers = idsw_short = transfers_short = fn = fp = n_truth = 0
    errs, errs_cam = [], []
    matched: list[dict[int, tuple[str, np.ndarray]]] = []
    for t, bodies in enumerate(outputs):
        truth_idx = [i for i in range(len(scen.people)) if scen.in_view[i, t]]
        n_truth += len(truth_idx)
        pairs: dict[int, tuple[str, np.ndarray]] = {}
        if truth_idx and bodies:
            gt_roots = np.stack([scen.people[i].joints[t, 0] for i in truth_idx])
            pr_roots = np.stack([b.joints[0] for b in bodies])
            dist = np.linalg.norm(gt_roots[:, None] - pr_roots[None], axis=-1)
            rows, cols = linear_sum_assignment(dist)
            for r, c in zip(rows, cols):
                if dist[r, c] <= match_distance_m:
                    pairs[truth_idx[r]] = (bodies[c].id, np.asarray(bodies[c].joints, dtype=np.float64))
        fn += len(truth_idx) - len(pairs)
        fp += len(bodies) - len(pairs)
        for i, (tid, joints) in pairs.items():
            if i in last_id and last_id[i][0] != tid:
                idsw += 1
                idsw_short += int(t - last_id[i][1] - 1 <= short_gap_frames)
            if tid in last_truth and last_truth[tid][0] != i:
                transfers += 1
                transfers_short += int(t - last_truth[tid][1] - 1 <= short_gap_frames)
            last_id[i], last_truth[tid] = (tid, t), (i, t)
            gt = scen.people[i].joints[t]
            errs_cam.append(np.linalg.norm(joints - gt, axis=-1).mean())
            errs.append(np.linalg.norm((joints - joints[:1]) - (gt - gt[:1]), axis=-1).mean())
        matched.append(pairs)
    accel = []
    for t in range(1, len(outputs) - 1):
        for i, (tid, j1) in matched[t].items():
            prev, nxt = matched[t - 1].get(i), matched[t + 1].get(i)
            if prev is None or nxt is None or prev[0] != tid or nxt[0] != tid:
                continue
            gt = scen.people[i].joints
            acc_pred = nxt[1] - 2.0 * j1 + prev[1]
            acc_gt = gt[t + 1] - 2.0 * gt[t] + gt[t - 1]
            accel.append(np.linalg.norm(acc_pred - acc_gt, axis=-1).mean())
    return TrackingMetrics(
        id_switches=idsw, id_transfers=transfers, id_switches_short_gap=idsw_short,
        id_transfers_short_gap=transfers_short, false_negatives=fn, false_positives=fp, num_truth=n_truth,
        mota=1.0 - (fn + fp + idsw) / max(n_truth, 1),
        mpjpe_mm=1000.0 * float(np.mean(errs)) if errs else float("nan"),
        mpjpe_cam_mm=1000.0 * float(np.mean(errs_cam)) if errs_cam else float("nan"),
        accel_error_mm=1000.0 * float(np.mean(accel)) if accel else float("nan"),
        num_accel_triples=len(accel),
    )


@dataclass
class ScenarioResult:
    """Raw (tracking only) and smoothed runs of the same tracker settings on the same detections."""

    name: str
    num_frames: int
    num_people: int
    longest_occlusion: int
    raw: TrackingMetrics
    smoothed: TrackingMetrics
    same_ids: bool  # association gave the same ids with and without smoothing

    @property
    def accel_reduction(self) -> float:
        return 1.0 - self.smoothed.accel_error_mm / self.raw.accel_error_mm

    @property
    def mpjpe_change(self) -> float:
        return self.smoothed.mpjpe_mm / self.raw.mpjpe_mm - 1.0

    @property
    def mpjpe_cam_change(self) -> float:
        return self.smoothed.mpjpe_cam_mm / self.raw.mpjpe_cam_mm - 1.0


def run_tracker(scen: Scenario, detections: list[list[Detection]], config: TrackerConfig,
                body_model: torch.nn.Module | None) -> list[list[Body]]:
    """Feed the detections frame by frame; returns the tracker output per frame."""
    tracker = Tracker(config, body_model=body_model)
    return [tracker.update([d.body for d in dets], float(stamp)) for dets, stamp in zip(detections, scen.stamps)]


def run_scenario(scen: Scenario, config: TrackerConfig | None = None, noise: DetectorNoise | None = None,
                 seed: int = 0) -> ScenarioResult:
    """Simulate the detector, run the tracker with smoothing off and on, score both."""
    config = config if config is not None else TrackerConfig(seed=seed)
    noise = noise if noise is not None else DetectorNoise()
    detections = simulate_detections(scen, noise, seed)
    skeleton = KinematicSkeleton()
    raw_cfg = TrackerConfig(**{**config.__dict__, "smoothing": False})
    smooth_cfg = TrackerConfig(**{**config.__dict__, "smoothing": True})
    raw_out = run_tracker(scen, detections, raw_cfg, skeleton)
    smooth_out = run_tracker(scen, detections, smooth_cfg, skeleton)
    same = all(sorted(b.id for b in r) == sorted(b.id for b in s) for r, s in zip(raw_out, smooth_out))
    return ScenarioResult(scen.name, scen.num_frames, len(scen.people), scen.longest_occlusion(),
                          evaluate(scen, raw_out), evaluate(scen, smooth_out), same)


def format_table(results: list[ScenarioResult]) -> str:
    """Markdown table of the results."""
    head = ("| scenario | frames | people | longest occlusion (frames) | ID switches (after gaps <= 10 frames) "
            "| id transfers (after gaps <= 10 frames) | MOTA "
            "| MPJPE mm raw -> smoothed | camera-frame MPJPE mm raw -> smoothed "
            "| Accel mm/frame^2 raw -> smoothed | Accel reduction |")
    sep = "|" + "---|" * 11
    rows = [head, sep]
    for r in results:
        rows.append(
            f"| {r.name} | {r.num_frames} | {r.num_people} | {r.longest_occlusion} "
            f"| {r.smoothed.id_switches} ({r.smoothed.id_switches_short_gap}) "
            f"| {r.smoothed.id_transfers} ({r.smoothed.id_transfers_short_gap}) | {r.smoothed.mota:.3f} "
            f"| {r.raw.mpjpe_mm:.1f} -> {r.smoothed.mpjpe_mm:.1f} ({100 * r.mpjpe_change:+.1f} %) "
            f"| {r.raw.mpjpe_cam_mm:.1f} -> {r.smoothed.mpjpe_cam_mm:.1f} ({100 * r.mpjpe_cam_change:+.1f} %) "
            f"| {r.raw.accel_error_mm:.1f} -> {r.smoothed.accel_error_mm:.1f} | {100 * r.accel_reduction:.0f} % |"
        )
    return "\n".join(rows)
