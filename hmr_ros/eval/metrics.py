"""Human-mesh-recovery metrics: pure numpy, no torch, no I/O.

Units: inputs in metres (3D) or pixels (2D); errors in millimetres unless a name says otherwise. Joints follow
the SMPL order with the pelvis (joint 0) as the root. Definitions follow the video-HMR literature (HMMR, VIBE,
TCMR, STAF, GLoT evaluate 3DPW this way) and, for multi-person detection, AGORA:

- MPJPE: mean Euclidean joint error after subtracting each skeleton's own pelvis (root alignment).
- PA-MPJPE: MPJPE after the similarity transform (scale, rotation, translation) that best maps the prediction
  onto the truth in the least-squares sense (Umeyama 1991), a proper rotation (no reflection).
- PVE: mean Euclidean vertex error after subtracting each mesh's own pelvis *joint* (same alignment as MPJPE).
- Accel: mean over joints of ``|| a_pred - a_gt ||`` where ``a[t] = x[t-1] - 2 x[t] + x[t+1]`` is the second
  finite difference of the root-aligned joints between consecutive frames. With ``fps=None`` this is mm/frame^2,
  the convention of HMMR/VIBE/TCMR code (which their papers print as "mm/s^2"); with ``fps`` it is divided by
  ``dt^2 = 1/fps^2``, i.e. multiplied by ``fps^2``, giving true mm/s^2.
- Root error: the camera-frame pelvis error split into depth ``|dz|`` and lateral ``||(dx, dy)||`` (metres); depth
  also as a percentage of the true pelvis distance from the camera ``||root_gt||``.
- Matching: optimal one-to-one assignment (Hungarian) on the mean 2D distance of projected joints, a pair being
  admissible only below ``MATCH_FRACTION`` times the diagonal of the true person's 2D box (scale-free: the same
  tolerance for a near and a far person).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = [
    "MATCH_FRACTION", "mpjpe", "procrustes_align", "pa_mpjpe", "pve", "accel_error", "RootError", "root_error",
    "match_threshold", "match_people", "DetectionScores", "detection_scores",
]

#: A prediction matches a true person when its mean 2D joint distance is at most this fraction of the diagonal
#: of the person's 2D box (the projected-vertex extent). A standing adult's box diagonal is ~1.8 m, so 0.3 admits
#: ~0.5 m of mean joint offset: lenient enough for a poor pose on the right person, tight enough that a prediction
#: on a neighbour one body-width away is not counted as this person.
MATCH_FRACTION = 0.3

_MM = 1000.0


def _root_align(x: np.ndarray, root: np.ndarray | None) -> np.ndarray:
    return x if root is None else x - root[..., None, :]


def mpjpe(pred: np.ndarray, gt: np.ndarray, root_index: int | None = 0) -> np.ndarray:
    """Mean per-joint position error.

    Args:
        pred, gt: (..., J, 3) joints, metres.
        root_index: joint subtracted from each skeleton before comparing (0 = pelvis); None = no alignment
            (camera-frame error).
    Returns:
        (...) mm, mean over the J joints.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if root_index is not None:
        pred = pred - pred[..., root_index:root_index + 1, :]
        gt = gt - gt[..., root_index:root_index + 1, :]
    return _MM * np.linalg.norm(pred - gt, axis=-1).mean(axis=-1)


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The similarity transform of ``pred`` closest to ``gt``: argmin over s > 0, R in SO(3), t of
    ``sum_j || s R pred_j + t - gt_j ||^2`` (Umeyama), applied to ``pred``.

    The rotation is proper (det R = +1): when the best orthogonal map would be a reflection, the singular
    direction with the smallest singular value is flipped, so a mirrored pose is not "explained away".

    Args:
        pred, gt: (..., J, 3), J >= 3 points.
    Returns:
        (..., J, 3) aligned ``pred``, in ``gt``'s frame and units.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    mu_p, mu_g = pred.mean(axis=-2, keepdims=True), gt.mean(axis=-2, keepdims=True)
    p, g = pred - mu_p, gt - mu_g
    cov = np.swapaxes(g, -1, -2) @ p                       # (..., 3, 3) = sum_j g_j p_j^T
    U, S, Vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(U @ Vt))
    d = np.where(d == 0, 1.0, d)
    D = np.ones(S.shape)
    D[..., -1] = d
    R = (U * D[..., None, :]) @ Vt                         # U diag(D) V^T
    var_p = (p ** 2).sum(axis=(-1, -2))
    scale = (S * D).sum(axis=-1) / np.where(var_p > 0, var_p, 1.0)
    return scale[..., None, None] * (p @ np.swapaxes(R, -1, -2)) + mu_g


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Procrustes-aligned MPJPE: (..., J, 3) metres -> (...) mm after :func:`procrustes_align`."""
    gt = np.asarray(gt, np.float64)
    return _MM * np.linalg.norm(procrustes_align(pred, gt) - gt, axis=-1).mean(axis=-1)


def pve(pred_vertices: np.ndarray, gt_vertices: np.ndarray, pred_root: np.ndarray | None = None,
        gt_root: np.ndarray | None = None) -> np.ndarray:
    """Per-vertex error.

    Args:
        pred_vertices, gt_vertices: (..., V, 3) metres, the same mesh topology.
        pred_root, gt_root: (..., 3) the pelvis joint of each mesh, subtracted from its vertices (root alignment,
            as the papers evaluate PVE); None = no alignment.
    Returns:
        (...) mm, mean over the V vertices.
    """
    pred = _root_align(np.asarray(pred_vertices, np.float64), None if pred_root is None else np.asarray(pred_root))
    gt = _root_align(np.asarray(gt_vertices, np.float64), None if gt_root is None else np.asarray(gt_root))
    return _MM * np.linalg.norm(pred - gt, axis=-1).mean(axis=-1)


def accel_error(pred: np.ndarray, gt: np.ndarray, fps: float | None = None, root_index: int | None = 0) -> np.ndarray:
    """Acceleration error over consecutive frames of one matched track.

    ``a[t] = x[t-1] - 2 x[t] + x[t+1]`` (second finite difference, per frame); the error of frame t is the mean
    over joints of ``|| a_pred[t] - a_gt[t] ||``.

    Args:
        pred, gt: (T, J, 3) joints of T consecutive frames, metres.
        fps: None -> mm/frame^2 (the HMMR/VIBE/TCMR convention, printed as "mm/s^2" in the papers); a frame
            rate -> true mm/s^2 (the per-frame value times fps^2), comparable across frame rates.
        root_index: joint subtracted per frame before differencing (0 = pelvis, as VIBE/TCMR evaluate); None =
            camera-frame joints (root jitter included).
    Returns:
        (T - 2,) errors for the middle frames 1..T-2 (empty when T < 3).
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if root_index is not None:
        pred = pred - pred[:, root_index:root_index + 1]
        gt = gt - gt[:, root_index:root_index + 1]
    if len(pred) < 3:
        return np.zeros(0)
    acc_p = pred[:-2] - 2 * pred[1:-1] + pred[2:]
    acc_g = gt[:-2] - 2 * gt[1:-1] + gt[2:]
    err = _MM * np.linalg.norm(acc_p - acc_g, axis=-1).mean(axis=-1)
    return err if fps is None else err * float(fps) ** 2


@dataclass
class RootError:
    """Camera-frame pelvis error, each (...) array: depth_m = |dz|, lateral_m = ||(dx, dy)||, both metres;
    depth_pct = 100 |dz| / ||root_gt|| (percent of the true distance from the camera centre)."""

    depth_m: np.ndarray
    lateral_m: np.ndarray
    depth_pct: np.ndarray


def root_error(pred_root: np.ndarray, gt_root: np.ndarray) -> RootError:
    """(..., 3) predicted and true pelvis positions (metres, camera optical frame, z forward) -> :class:`RootError`."""
    pred_root, gt_root = np.asarray(pred_root, np.float64), np.asarray(gt_root, np.float64)
    d = pred_root - gt_root
    depth = np.abs(d[..., 2])
    return RootError(depth_m=depth, lateral_m=np.linalg.norm(d[..., :2], axis=-1),
                     depth_pct=100.0 * depth / np.linalg.norm(gt_root, axis=-1))


def match_threshold(gt_boxes: np.ndarray, fraction: float = MATCH_FRACTION) -> np.ndarray:
    """(G, 4) true 2D boxes x0, y0, x1, y1 (pixels) -> (G,) largest admissible mean joint distance, pixels."""
    gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
    return fraction * np.hypot(gt_boxes[:, 2] - gt_boxes[:, 0], gt_boxes[:, 3] - gt_boxes[:, 1])


def match_people(pred_2d: np.ndarray, gt_2d: np.ndarray, max_distance: np.ndarray) -> np.ndarray:
    """One-to-one matching of predictions to true people on projected joints.

    Cost = mean over joints of the 2D distance (pixels). Inadmissible pairs (cost > ``max_distance`` of that
    true person) are excluded *before* the Hungarian assignment, so an inadmissible pair never blocks an
    admissible one; among admissible pairs the total cost is minimal.

    Args:
        pred_2d: (P, J, 2) predicted joints, pixels. gt_2d: (G, J, 2) true joints, pixels.
        max_distance: (G,) pixels, see :func:`match_threshold`.
    Returns:
        (M, 2) int rows (gt index, pred index), sorted by gt index; M <= min(P, G).
    """
    pred_2d, gt_2d = np.asarray(pred_2d, np.float64), np.asarray(gt_2d, np.float64)
    if len(pred_2d) == 0 or len(gt_2d) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    cost = np.linalg.norm(gt_2d[:, None] - pred_2d[None], axis=-1).mean(axis=-1)       # (G, P)
    ok = cost <= np.asarray(max_distance, np.float64)[:, None]
    # A cost above the sum of all admissible ones makes the solver prefer more admissible pairs over cheaper ones.
    big = cost[ok].sum() + 1.0
    rows, cols = linear_sum_assignment(np.where(ok, cost, big))
    keep = ok[rows, cols]
    return np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64)


@dataclass
class DetectionScores:
    """Counts and scores over person-frames. precision = tp / (tp + fp), recall = tp / (tp + fn), f1 their harmonic
    mean. An empty denominator means nothing could go wrong: precision is 1 with no predictions, recall is 1 with
    no true people; f1 is 0 when precision + recall = 0."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float


def detection_scores(tp: int, fp: int, fn: int) -> DetectionScores:
    """True positives (matched pairs), false positives (unmatched predictions), false negatives (unmatched truth)."""
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return DetectionScores(int(tp), int(fp), int(fn), float(precision), float(recall), float(f1))
