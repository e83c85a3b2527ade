"""The demo's rendered clip scored against its ground truth (ROS-free): per frame found / missed / false people and
joint errors, the totals of summary.json and the closing console line."""
from __future__ import annotations

import numpy as np

from hmr_ros.eval.metrics import match_people, match_threshold, mpjpe, root_error
from hmr_ros.geometry.projection import project
from hmr_ros.clips import PersonTruth

#: a true person counts as visible (one the node should find) with at least this fraction of joints in the image
VISIBLE_JOINT_FRACTION = 0.5


def _visible(person: PersonTruth) -> bool:
    inside = person.joints_in_image
    return inside is not None and float(np.mean(inside)) >= VISIBLE_JOINT_FRACTION


def score_frame(pred_joints: list[np.ndarray], truth: list[PersonTruth], K: np.ndarray) -> dict:
    """Match the people published for one frame with its ground truth.

    Matching is ``match_people`` on 2D joints (the published 3D joints projected with the clip's K), admissible
    within ``MATCH_FRACTION`` of the true person's box diagonal. A published person matched to nobody is false; a
    visible true person matched to nobody is missed (an off-image one matched is still found, never missed).

    Args:
        pred_joints: per published person (24, 3) joints, metres, camera optical frame.
        truth: the frame's ground truth.
        K: (3, 3) intrinsics of the clip.
    Returns:
        {"found", "missed", "false", "visible", "matches": [{"person", "track_id", "mpjpe_mm", "root_error_m",
        "depth_error_m"}], "missed_track_ids": [...]} with "person" the index in publishing order.
    """
    pred = np.asarray(pred_joints, np.float64).reshape(-1, 24, 3)
    gt_2d = np.asarray([p.joints_2d for p in truth], np.float64).reshape(-1, 24, 2)
    boxes = np.asarray([p.box for p in truth], np.float64).reshape(-1, 4)
    pairs = match_people(project(pred, K), gt_2d, match_threshold(boxes))
    matches = []
    for g, p in pairs.tolist():
        gt = np.asarray(truth[g].joints, np.float64)
        err = root_error(pred[p, 0], gt[0])
        matches.append({"person": int(p), "track_id": int(truth[g].track_id),
                        "mpjpe_mm": round(float(mpjpe(pred[p], gt)), 1),
                        "root_error_m": round(float(np.linalg.norm(pred[p, 0] - gt[0])), 3),
                        "depth_error_m": round(float(err.depth_m), 3)})
    matched_gt = {int(g) for g in pairs[:, 0]}
    missed = [int(p.track_id) for g, p in enumerate(truth) if g not in matched_gt and _visible(p)]
    return {"found": len(matches), "missed": len(missed), "false": len(pred) - len(matches),
            "visible": sum(_visible(p) for p in truth), "matches": matches, "missed_track_ids": missed}


def totals(frames: list[dict]) -> dict:
    """Totals over the per-frame records of summary.json. A fitted frame: every visible true person was found."""
    errors = [m["mpjpe_mm"] for f in frames for m in f["matches"]]
    roots = [m["root_error_m"] for f in frames for m in f["matches"]]
    latency = [f["latency_s"] for f in frames]
    return {
        "frames": len(frames),
        "fitted_frames": sum(f["missed"] == 0 for f in frames),
        "found": sum(f["found"] for f in frames),
        "missed": sum(f["missed"] for f in frames),
        "false": sum(f["false"] for f in frames),
        "published": sum(f["published"] for f in frames),
        "mpjpe_mm_mean": round(float(np.mean(errors)), 1) if errors else None,
        "root_error_m_mean": round(float(np.mean(roots)), 3) if roots else None,
        "latency_s_mean": round(float(np.mean(latency)), 3) if latency else None,
        "latency_s_max": round(float(np.max(latency)), 3) if latency else None,
    }


def verdict(t: dict) -> str:
    """The closing console line."""
    err = f"MPJPE {t['mpjpe_mm_mean']:.0f} mm" if t["mpjpe_mm_mean"] is not None else "MPJPE n/a (nobody matched)"
    return (f"[demo] {t['fitted_frames']}/{t['frames']} frames: every visible person has a fitted mesh; "
            f"{t['missed']} misses, {t['false']} false; {err}")
