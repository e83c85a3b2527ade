"""The synthetic benchmark: fixed clips, the runtime path, matched metrics and two baselines.

:func:`evaluate_checkpoint` renders every clip of a split with :func:`hmr_ros.sim.clips.make_clip`, feeds its frames
one by one through :class:`hmr_ros.pipeline.Pipeline` (the per-frame path of the ROS node, tracking off by default
so the network's own outputs are scored), matches the bodies of each output frame to the ground truth with
:func:`hmr_ros.eval.metrics.match_people` and aggregates the metrics of :mod:`hmr_ros.eval.metrics` overall, per
number of people in the clip and per motion type.

Three methods are scored on the same frames:

- ``network``: the bodies the pipeline returns.
- ``mean_pose_pred_centre``: every network body replaced by the network's mean body (rest pose, zero betas, the
  root turned upright facing the camera: ``hmr_ros.model.smpl_head.mean_pose_6d``) with its pelvis placed at the
  predicted pelvis. It reuses the network's matches, so detection counts are the network's and the pose numbers
  compare on identical person-frames: the gap to ``network`` is what the pose/shape regression is worth.
- ``mean_pose_gt_centre``: the same mean body at every true pelvis (a detection and depth oracle), matched like the
  network. Root error is 0 by construction; MPJPE/PVE are those of a constant pose.

Seeds and clips: :mod:`hmr_ros.eval.splits` (no benchmark clip is ever a training clip; the ``varied`` splits use
each person-frame's motion label for the per-motion breakdown, and accel tracks follow ``track_id``).
"""
from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from hmr_ros.bodies import Body
from hmr_ros.geometry.projection import project
from hmr_ros.estimator import EstimatorConfig
from hmr_ros.eval import metrics as M
from hmr_ros.geometry.rotations import rot6d_to_rotmat
from hmr_ros.model.smpl_head import mean_pose_6d
from hmr_ros.eval.splits import SPLITS, ClipSpec, as_rendered, render_clip, shard_clips
from hmr_ros.smpl.body_model import BodyModel, load_body_model

__all__ = ["METHODS", "evaluate_checkpoint", "format_report"]


METHODS = ("network", "mean_pose_pred_centre", "mean_pose_gt_centre")


# ----------------------------------------------------------------------------------------------------------
# The runtime path
# ----------------------------------------------------------------------------------------------------------
Runner = Callable[[np.ndarray, float, np.ndarray], "tuple[float | None, list[Body]]"]


def _runtime(config: EstimatorConfig, tracking: bool) -> tuple[Runner, Callable[[], None], str]:
    """The node's per-frame path as ``(step, reset, backend description)``: ``step(rgb, stamp, K) -> (stamp of the
    frame the bodies belong to, or None while there is none yet; bodies)``."""
    from hmr_ros.pipeline import Pipeline, PipelineConfig
    from hmr_ros.tracking.tracker import TrackerConfig

    pipe = Pipeline(PipelineConfig(estimator=config, tracking=TrackerConfig() if tracking else None))

    def step(rgb, stamp, K):
        result = pipe.process(rgb, stamp, K)
        return (result.stamp if result.ready else None), result.bodies

    return step, pipe.reset, pipe.estimator.backend.describe()


# ----------------------------------------------------------------------------------------------------------
# Scoring
# ----------------------------------------------------------------------------------------------------------
@dataclass
class _MeanBody:
    """The network's mean body in the model frame: joints (24, 3), vertices (V, 3), metres, pelvis at joints[0]."""

    joints: np.ndarray
    vertices: np.ndarray

    @classmethod
    def of(cls, body_model: BodyModel) -> "_MeanBody":
        rotmats = rot6d_to_rotmat(mean_pose_6d())[None].float()
        with torch.no_grad():
            out = body_model(torch.zeros(1, body_model.num_betas), rotmats)
        return cls(out.joints[0].double().numpy(), out.vertices[0].double().numpy())

    def at(self, pelvis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(3,) camera-frame pelvis -> (joints (24, 3), vertices (V, 3)) with that pelvis."""
        shift = np.asarray(pelvis, np.float64) - self.joints[0]
        return self.joints + shift, self.vertices + shift


@dataclass
class _Pose:
    """One estimate of one person in one frame (metres, camera frame)."""

    joints: np.ndarray
    vertices: np.ndarray


@dataclass
class _Truth:
    joints: np.ndarray
    vertices: np.ndarray
    motion: str
    track_id: int


class _Scores:
    """Per-method accumulator of matched person-frame errors, detection counts and tracks (for accel)."""

    PER_MATCH = ("mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "root_depth_m", "root_lateral_m", "root_depth_pct")

    def __init__(self):
        self.matches: list[dict] = []          # one row per matched person-frame
        self.frames: list[dict] = []           # one row per (clip, frame): tp / fp / fn
        self.misses: list[dict] = []           # one row per unmatched true person-frame (recall per motion)
        # (clip, track id) -> {frame: (pred joints, gt joints, motion label)}
        self.tracks: dict[tuple[str, int], dict[int, tuple[np.ndarray, np.ndarray, str]]] = defaultdict(dict)
        self.track_info: dict[tuple[str, int], dict] = {}

    def add_frame(self, clip: ClipSpec, t: int, truth: list[_Truth], preds: list[_Pose], pairs: np.ndarray) -> None:
        self.frames.append(dict(people=clip.num_people, tp=len(pairs), fp=len(preds) - len(pairs),
                                fn=len(truth) - len(pairs)))
        matched = set(int(g) for g in pairs[:, 0])
        for g, person in enumerate(truth):
            if g not in matched:
                self.misses.append(dict(people=clip.num_people, motion=person.motion))
        for g, p in pairs:
            gt, pr = truth[g], preds[p]
            root = M.root_error(pr.joints[0], gt.joints[0])
            self.matches.append(dict(
                people=clip.num_people, motion=gt.motion,
                mpjpe_mm=float(M.mpjpe(pr.joints, gt.joints)),
                pa_mpjpe_mm=float(M.pa_mpjpe(pr.joints, gt.joints)),
                pve_mm=float(M.pve(pr.vertices, gt.vertices, pr.joints[0], gt.joints[0])),
                root_depth_m=float(root.depth_m), root_lateral_m=float(root.lateral_m),
                root_depth_pct=float(root.depth_pct)))
            key = (clip.name, gt.track_id)
            self.tracks[key][t] = (pr.joints, gt.joints, gt.motion)
            self.track_info[key] = dict(people=clip.num_people, fps=clip.fps)

    def accel_rows(self) -> list[dict]:
        """Accel of every run of >= 3 consecutive frames in which a true person stayed matched."""
        rows = []
        for key, frames in self.tracks.items():
            info = self.track_info[key]
            ts = sorted(frames)
            runs, run = [], [ts[0]]
            for a, b in zip(ts, ts[1:]):
                if b == a + 1:
                    run.append(b)
                else:
                    runs.append(run)
                    run = [b]
            runs.append(run)
            for run in runs:
                if len(run) < 3:
                    continue
                pred = np.stack([frames[t][0] for t in run])
                gt = np.stack([frames[t][1] for t in run])
                per_frame = M.accel_error(pred, gt)
                cam = M.accel_error(pred, gt, root_index=None)
                # accel_error scores the middle frames run[1:-1]; a person's motion can change within the run
                for t, a, c in zip(run[1:-1], per_frame, cam):
                    rows.append(dict(people=info["people"], motion=frames[t][2], accel_mm_per_frame2=float(a),
                                     accel_mm_per_s2=float(a) * info["fps"] ** 2, accel_cam_mm_per_frame2=float(c)))
        return rows

    def summary(self, select: Callable[[dict], bool], with_precision: bool, accel: list[dict]) -> dict:
        out: dict = {}
        frames = [f for f in self.frames if select(f)]
        if with_precision:
            d = M.detection_scores(sum(f["tp"] for f in frames), sum(f["fp"] for f in frames),
                                   sum(f["fn"] for f in frames))
            out["detection"] = dataclasses.asdict(d)
        else:
            # Unmatched predictions belong to no true person, so no motion type: only recall is defined.
            tp = sum(1 for m in self.matches if select(m))
            fn = sum(1 for m in self.misses if select(m))
            out["detection"] = dict(tp=tp, fp=None, fn=fn, precision=None,
                                    recall=tp / (tp + fn) if tp + fn else 1.0, f1=None)
        rows = [m for m in self.matches if select(m)]
        out["matched"] = len(rows)
        for k in self.PER_MATCH:
            out[k] = float(np.mean([r[k] for r in rows])) if rows else None
        acc = [r for r in accel if select(r)]
        out["accel_frames"] = len(acc)
        for k in ("accel_mm_per_frame2", "accel_mm_per_s2", "accel_cam_mm_per_frame2"):
            out[k] = float(np.mean([r[k] for r in acc])) if acc else None
        return out

    def report(self) -> dict:
        counts = sorted({f["people"] for f in self.frames})
        motions = sorted({m["motion"] for m in self.matches + self.misses})
        accel = self.accel_rows()
        return {
            "all": self.summary(lambda r: True, True, accel),
            "by_people": {str(n): self.summary(lambda r, n=n: r["people"] == n, True, accel) for n in counts},
            "by_motion": {m: self.summary(lambda r, m=m: r.get("motion") == m, False, accel) for m in motions},
        }


def _truth(person, index: int) -> _Truth:
    """The ground truth of the person listed at ``index``; the track is ``track_id`` where the clip sets it (the
    same person in every frame), else the list position (make_clip lists the same people in every frame)."""
    track = index if getattr(person, "track_id", None) is None else int(person.track_id)
    return _Truth(np.asarray(person.joints, np.float64), np.asarray(person.vertices, np.float64),
                  str(getattr(person, "motion", None) or "walk"), track)


def _match(preds: list[_Pose], truth: list[_Truth], K: np.ndarray) -> np.ndarray:
    if not preds or not truth:
        return np.zeros((0, 2), dtype=np.int64)
    gt_2d = project(np.stack([p.joints for p in truth]), K)
    boxes = []
    for p in truth:
        uv = project(p.vertices, K)
        boxes.append([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])
    return M.match_people(project(np.stack([p.joints for p in preds]), K), gt_2d, M.match_threshold(np.array(boxes)))


def evaluate_checkpoint(config: EstimatorConfig, split: str = "bench", window: int | None = None,
                        tracking: bool = False, progress: Callable[[str], None] | None = None,
                        shards: str | Path | None = None) -> dict:
    """Score ``config``'s network on every clip of ``split`` through the runtime path.

    Args:
        config: the estimator to evaluate (its ``checkpoint`` None = untrained weights).
        split: a key of :data:`SPLITS`.
        shards: with a varied split, read the clips of this ``bench`` shard directory (``render-shards --split
            bench``, every clip's seed checked) instead of rendering the split's clips; ``split`` only names the
            report.
        window: temporal window T, overriding ``config.network.window`` (None = keep).
        tracking: run the node's tracker (ids, smoothing) after the network; off scores the network's raw output.
        progress: called with one line per clip.
    Returns:
        A JSON-ready dict: the settings, ``methods[name]`` for each of :data:`METHODS` with ``all``,
        ``by_people[str(n)]`` and ``by_motion[label]``, each holding ``detection`` (tp, fp, fn, precision, recall,
        f1), ``matched`` (person-frames), ``mpjpe_mm``, ``pa_mpjpe_mm``, ``pve_mm``, ``root_depth_m``,
        ``root_lateral_m``, ``root_depth_pct``, ``accel_frames``, ``accel_mm_per_frame2`` (papers' convention),
        ``accel_mm_per_s2`` and ``accel_cam_mm_per_frame2`` (camera-frame joints). A metric with nothing to
        average is None.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLITS)}")
    if shards is not None and not split.startswith("varied"):
        raise ValueError(f"shards: the {split!r} split is make_clip clips; shard directories hold varied clips "
                         "(use a varied split)")
    if window is not None:
        config = dataclasses.replace(config, network=dataclasses.replace(config.network, window=int(window)))
    step, reset, backend = _runtime(config, tracking)
    # The ground truth uses the estimator's body model so predicted and true meshes share a topology (PVE).
    body_model = load_body_model(config.body_model, allow_pickle=config.allow_pickle)
    mean = _MeanBody.of(body_model)
    scores = {m: _Scores() for m in METHODS}
    t_start, t_net, n_frames, n_truth = time.perf_counter(), 0.0, 0, 0
    if shards is not None:
        clips = shard_clips(shards, body_model)
    else:
        clips = ((as_rendered(spec, clip), clip) for spec in SPLITS[split] for clip in [render_clip(spec, body_model)])
    specs = []
    for spec, clip in clips:
        specs.append(spec)
        reset()
        index = {frame.stamp: t for t, frame in enumerate(clip.frames)}
        for frame in clip.frames:
            t0 = time.perf_counter()
            out_stamp, bodies = step(frame.rgb, frame.stamp, clip.K)
            t_net += time.perf_counter() - t0
            if out_stamp is None:
                continue
            t = index[out_stamp]
            truth = [_truth(p, k) for k, p in enumerate(clip.frames[t].people)]
            n_frames, n_truth = n_frames + 1, n_truth + len(truth)
            preds = [_Pose(np.asarray(b.joints, np.float64), np.asarray(b.vertices, np.float64)) for b in bodies]
            pairs = _match(preds, truth, clip.K)
            scores["network"].add_frame(spec, t, truth, preds, pairs)
            scores["mean_pose_pred_centre"].add_frame(spec, t, truth, [_Pose(*mean.at(p.joints[0])) for p in preds],
                                                      pairs)
            oracle = [_Pose(*mean.at(p.joints[0])) for p in truth]
            scores["mean_pose_gt_centre"].add_frame(spec, t, truth, oracle, _match(oracle, truth, clip.K))
        if progress is not None:
            progress(f"{spec.name}: {spec.num_people} people, {spec.num_frames} frames {spec.width}x{spec.height} "
                     f"@ {spec.fps:g} fps")
    net = config.network
    return {
        "split": split,
        "shards": None if shards is None else str(shards),
        "checkpoint": config.checkpoint,
        "untrained": not config.checkpoint,
        "network": dataclasses.asdict(net),
        "tracking": tracking,
        "backend": backend,
        "body_model": config.body_model,
        "match_fraction": M.MATCH_FRACTION,
        "clips": [dataclasses.asdict(s) for s in specs],
        "frames": n_frames,
        "person_frames": n_truth,
        "seconds": time.perf_counter() - t_start,
        "runtime_ms_per_frame": 1e3 * t_net / max(1, sum(s.num_frames for s in specs)),
        "methods": {m: s.report() for m, s in scores.items()},
    }


# ----------------------------------------------------------------------------------------------------------
# Table
# ----------------------------------------------------------------------------------------------------------
_COLUMNS = (  # (header, key, format)
    ("P", "precision", "{:.3f}"), ("R", "recall", "{:.3f}"), ("F1", "f1", "{:.3f}"),
    ("MPJPE", "mpjpe_mm", "{:.1f}"), ("PA-MPJPE", "pa_mpjpe_mm", "{:.1f}"), ("PVE", "pve_mm", "{:.1f}"),
    ("Accel", "accel_mm_per_frame2", "{:.1f}"), ("Accel/s2", "accel_mm_per_s2", "{:.0f}"),
    ("depth", "root_depth_m", "{:.3f}"), ("depth%", "root_depth_pct", "{:.1f}"), ("lateral", "root_lateral_m", "{:.3f}"),
)
_SHORT = {"network": "network", "mean_pose_pred_centre": "mean@pred", "mean_pose_gt_centre": "mean@GT"}


def _cells(summary: dict) -> list[str]:
    cells = []
    for _, key, fmt in _COLUMNS:
        v = summary["detection"][key] if key in ("precision", "recall", "f1") else summary[key]
        cells.append("-" if v is None else fmt.format(v))
    return cells


def format_report(report: dict) -> str:
    """A readable table of :func:`evaluate_checkpoint`'s result."""
    net = report["network"]
    lines = [
        f"split {report['split']}: {len(report['clips'])} clips, {report['frames']} frames, "
        f"{report['person_frames']} person-frames; SIAM-{net['width']} input {net['input_size']}, window "
        f"{net['window']}, K {net['max_people']}, {net['mode']}; "
        f"{'UNTRAINED (random weights)' if report['untrained'] else report['checkpoint']}"
        f"{', tracking on' if report['tracking'] else ''}; {report['backend']}",
        "P/R/F1: matches on the mean 2D joint distance <= "
        f"{report['match_fraction']:g} x true box diagonal. MPJPE/PA-MPJPE/PVE mm (pelvis-aligned / Procrustes);",
        "Accel mm/frame^2 (papers' convention), Accel/s2 true mm/s^2; depth/lateral m (pelvis, camera frame), "
        "depth% of the true distance.",
    ]
    header = ["method", "group", *[h for h, _, _ in _COLUMNS]]
    rows = []
    for method, groups in report["methods"].items():
        rows.append([_SHORT.get(method, method), "all", *_cells(groups["all"])])
    for method, groups in report["methods"].items():
        for n, s in groups["by_people"].items():
            rows.append([_SHORT.get(method, method), f"{n} people", *_cells(s)])
        for m, s in groups["by_motion"].items():
            rows.append([_SHORT.get(method, method), m, *_cells(s)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    lines += ["", fmt(header), fmt(["-" * w for w in widths])]
    n_methods = len(report["methods"])
    for i, r in enumerate(rows):
        if i == n_methods:
            lines.append("")
        lines.append(fmt(r))
    lines.append("")
    lines.append(f"{report['seconds']:.1f} s; runtime path {report['runtime_ms_per_frame']:.0f} ms/frame")
    return "\n".join(lines)
