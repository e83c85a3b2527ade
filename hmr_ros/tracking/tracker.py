"""Persistent identities and temporal smoothing for the bodies of consecutive frames.

``Tracker.update(bodies, stamp)`` associates each frame's detections with the live tracks by an optimal
assignment (``scipy.optimize.linear_sum_assignment``) on a cost that mixes 2D box IoU, 3D root distance,
appearance-token cosine similarity and pose similarity, gated by a root-distance radius
(:mod:`hmr_ros.tracking.association`). Tracks go
tentative -> confirmed (after ``min_hits`` consecutive hits) -> lost (while unseen, up to
``max_lost_frames``) -> deleted. A lost track is predicted with a constant-velocity model of its root and
takes its id back when a detection reappears near the prediction.

Association uses the raw detections only, so identities are the same with smoothing on or off. Smoothing
(per track): One-Euro on the translation, One-Euro on SO(3) on the 24 joint rotations, running mean of the
betas. Joints and vertices are re-posed with the body model when one is given; otherwise they are shifted
by the translation change only (the rotation smoothing is then not reflected in them; see docs/tracking.md).

The per-frame path is numpy only: each detection's 24 rotations are turned into quaternions once per frame
and shared by the association cost, the track state and the rotation filter. torch is imported only to
re-pose with a body model.

Identity is a property of the tracker, not of the network: the estimator's frame buffer keeps K detection
slots per frame ordered by score, and its temporal attention (SIA) attends over all people and frames, so
it needs no identity. The tracker adds persistent identity after the fact.
"""
from __future__ import annotations

import dataclasses
import enum
import string
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from hmr_ros.bodies import Body
from hmr_ros.geometry.rotations_np import rotmat_from_rotvec, rotvec_from_quat
from hmr_ros.smpl.kinematic_tree import NUM_JOINTS
from hmr_ros.tracking.association import INFEASIBLE, association_cost, joint_quats, normalize
from hmr_ros.tracking.one_euro import OneEuroFilter, SO3OneEuroFilter

ID_LENGTH = 5
_RECENT_IDS = 4096  # ids of deleted tracks not handed out again soon, so a listener never sees an id reused


@dataclass
class TrackerConfig:
    """All tracker and smoother parameters (units in the names or the comments).

    Association
        iou_weight: weight of ``1 - IoU`` of the predicted and detected 2D boxes (pixels).
        root_weight: weight of ``root distance / gate radius`` (3D root = joints[0], metres).
        token_weight: weight of ``(1 - cosine similarity) / 2`` of the appearance tokens; dropped for a
            pair when either token is None.
        pose_weight: weight of the mean geodesic angle of the 23 body-pose rotations over
            ``pose_distance_scale_rad`` (clipped at 1).
        pose_distance_scale_rad: angle (rad) at which the pose term saturates.
        orientation_weight: weight of the geodesic angle between the global orientations over pi (a
            person who left walking one way is not the one who enters walking the other way).
        max_root_distance_m: base gate radius (m) around the predicted root.
        gate_depth_fraction: a depth (camera z) difference up to this fraction of the predicted root's depth is
            not counted in the root distance: a monocular depth error grows with distance and lies along the
            viewing ray (the bundled weights: ~13 % of it, frame to frame), so counting it in full broke the
            tracks of people 5 m away (9 of 24 demo frames fully fitted instead of 13).
        gate_growth_m_per_s: the gate radius grows by this much per second since the track was last seen
            (covers the growing uncertainty of the constant-velocity prediction; +2.5 cm after one frame at
            30 Hz, +33 cm after 10 frames).
        max_cost: a pair whose combined cost (in [0, 1]) exceeds this is not associated.
        velocity_window: number of most recent observations of a track fitted (least squares) for the
            constant-velocity prediction of its root (m/s) and box centre (px/s).
    Life cycle
        min_hits: consecutive hits that confirm a tentative track (a tentative track that misses once is
            deleted).
        max_lost_frames: frames a confirmed track may stay unseen before it is deleted (default 15).
        output_tentative: also return the bodies of tentative tracks (their ids may still vanish).
        seed: seed of the random generator of the ids (None: from the OS).
        max_gap_s: a forward stamp jump larger than this (s) resets the tracker, as it resets the
            estimator's frame buffer (``EstimatorConfig.max_gap_s``); a backwards jump always resets.
    Smoothing
        smoothing: smooth translation, rotations and betas per track; False passes parameters through.
        one_euro_min_cutoff_hz / one_euro_beta: translation filter; beta in Hz per m/s (= 1/m).
        rotation_min_cutoff_hz / rotation_beta: joint rotation filter; beta in Hz per rad/s (= 1/rad).
        one_euro_d_cutoff_hz: cutoff (Hz) of the speed estimate of both filters.
        betas_max_count: the betas are a running mean over at most this many observations (then an
            exponential average with that horizon), so a wrong early estimate fades out.
    """

    iou_weight: float = 1.0
    root_weight: float = 2.0
    token_weight: float = 1.0
    pose_weight: float = 0.5
    pose_distance_scale_rad: float = 0.5
    orientation_weight: float = 1.0
    max_root_distance_m: float = 0.6
    gate_depth_fraction: float = 0.15
    gate_growth_m_per_s: float = 0.75
    max_cost: float = 0.6
    velocity_window: int = 8
    min_hits: int = 3
    max_lost_frames: int = 15
    output_tentative: bool = False
    seed: int | None = None
    max_gap_s: float = 1.0
    smoothing: bool = True
    one_euro_min_cutoff_hz: float = 1.0
    one_euro_beta: float = 2.0
    rotation_min_cutoff_hz: float = 1.0
    rotation_beta: float = 2.0
    one_euro_d_cutoff_hz: float = 1.0
    betas_max_count: int = 100

    def __post_init__(self) -> None:
        for name in ("iou_weight", "root_weight", "token_weight", "pose_weight", "orientation_weight",
                     "gate_growth_m_per_s", "gate_depth_fraction"):
            if getattr(self, name) < 0.0:
                raise ValueError(f"TrackerConfig.{name} must be >= 0, got {getattr(self, name)}")
        if self.iou_weight + self.root_weight + self.pose_weight + self.orientation_weight <= 0.0:
            raise ValueError("TrackerConfig: iou, root, pose and orientation weights must not all be 0")
        for name in ("max_root_distance_m", "pose_distance_scale_rad", "max_gap_s", "one_euro_min_cutoff_hz",
                     "rotation_min_cutoff_hz", "one_euro_d_cutoff_hz"):
            if getattr(self, name) <= 0.0:
                raise ValueError(f"TrackerConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.one_euro_beta < 0.0 or self.rotation_beta < 0.0:
            raise ValueError("TrackerConfig: one_euro_beta and rotation_beta must be >= 0")
        if not 0.0 < self.max_cost <= 1.0:
            raise ValueError(f"TrackerConfig.max_cost must be in (0, 1], got {self.max_cost}")
        if self.min_hits < 1 or self.max_lost_frames < 0 or self.velocity_window < 2 or self.betas_max_count < 1:
            raise ValueError(
                "TrackerConfig: expected min_hits >= 1, max_lost_frames >= 0, velocity_window >= 2, "
                f"betas_max_count >= 1; got {self.min_hits}, {self.max_lost_frames}, "
                f"{self.velocity_window}, {self.betas_max_count}"
            )


class TrackState(enum.Enum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    LOST = "lost"


def random_track_id(rng: np.random.Generator, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A REP-155 style id: ``ID_LENGTH`` random lowercase ASCII letters, not in ``taken``."""
    letters = np.array(list(string.ascii_lowercase))
    while True:
        candidate = "".join(rng.choice(letters, size=ID_LENGTH))
        if candidate not in taken:
            return candidate


def _fit_velocity(stamps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Least-squares slope of ``values`` (n, D) over ``stamps`` (n,) seconds -> (D,) units per second."""
    if len(stamps) < 2:
        return np.zeros(values.shape[1])
    t = stamps - stamps.mean()
    denom = float(np.sum(t * t))
    if denom <= 0.0:
        return np.zeros(values.shape[1])
    return (t[:, None] * (values - values.mean(axis=0))).sum(axis=0) / denom


# ----------------------------------------------------------------------------------------------------------
# Tracks
# ----------------------------------------------------------------------------------------------------------
class _Track:
    """Association state (raw observations) and smoothing state of one person."""

    def __init__(self, track_id: str, body: Body, quats: np.ndarray, stamp: float, config: TrackerConfig) -> None:
        self.id = track_id
        self.state = TrackState.TENTATIVE
        self.hits = 0
        self.lost_frames = 0
        self.history: deque[tuple[float, np.ndarray, np.ndarray]] = deque(maxlen=config.velocity_window)
        self.token: np.ndarray | None = None
        self.translation_filter = OneEuroFilter(
            config.one_euro_min_cutoff_hz, config.one_euro_beta, config.one_euro_d_cutoff_hz
        )
        self.rotation_filter = SO3OneEuroFilter(
            config.rotation_min_cutoff_hz, config.rotation_beta, config.one_euro_d_cutoff_hz
        )
        self.betas_mean: np.ndarray | None = None
        self.betas_count = 0
        self.observe(body, quats, stamp)

    def observe(self, body: Body, quats: np.ndarray, stamp: float) -> None:
        """Take a raw detection; ``quats`` (24, 4) are its rotations as from :func:`joint_quats`."""
        root = np.asarray(body.joints[0], dtype=np.float64)
        box = np.asarray(body.box, dtype=np.float64)
        self.history.append((float(stamp), root, box))
        self.last_stamp = float(stamp)
        self.box = box
        self.root = root
        self.orient_quat = quats[0]
        self.pose_quat = quats[1:]
        if body.token is not None:
            tok = np.asarray(body.token, dtype=np.float64)
            tok = tok / max(float(np.linalg.norm(tok)), 1e-12)
            # Slow average of the appearance: one odd frame should not overwrite it.
            self.token = tok if self.token is None else normalize(0.8 * self.token + 0.2 * tok)
        stamps = np.array([h[0] for h in self.history])
        self.root_velocity = _fit_velocity(stamps, np.stack([h[1] for h in self.history]))
        centers = np.stack([0.5 * (h[2][:2] + h[2][2:]) for h in self.history])
        self.center_velocity = _fit_velocity(stamps, centers)

    def predicted_root(self, stamp: float) -> np.ndarray:
        return self.root + self.root_velocity * (stamp - self.last_stamp)

    def predicted_box(self, stamp: float) -> np.ndarray:
        shift = self.center_velocity * (stamp - self.last_stamp)
        return self.box + np.concatenate([shift, shift])


class Tracker:
    """Gives each person a persistent id and smooths their parameters over time.

    Args:
        config: the parameters; ``TrackerConfig()`` for the defaults.
        body_model: optional ``hmr_ros.smpl.body_model.BodyModel`` (or any callable
            ``(betas (N, 10) torch, rotmats (N, 24, 3, 3) torch) -> out`` with ``out.vertices (N, V, 3)``
            and ``out.joints (N, 24, 3)`` in the model frame). With it, smoothed bodies get joints and
            vertices re-posed from the smoothed parameters; without it they are only shifted by the
            translation change.
    """

    def __init__(self, config: TrackerConfig | None = None, body_model: Any = None) -> None:
        self.config = config if config is not None else TrackerConfig()
        self.body_model = body_model
        self._rng = np.random.default_rng(self.config.seed)
        self._tracks: list[_Track] = []
        self._recent_ids: deque[str] = deque(maxlen=_RECENT_IDS)
        self._last_stamp: float | None = None

    # -- public -------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Delete all tracks (their ids are not reused soon). The id generator keeps its state."""
        self._recent_ids.extend(t.id for t in self._tracks)
        self._tracks = []
        self._last_stamp = None

    @property
    def tracks(self) -> list[tuple[str, TrackState]]:
        """(id, state) of every live track, for diagnostics."""
        return [(t.id, t.state) for t in self._tracks]

    def update(self, bodies: list[Body], stamp: float) -> list[Body]:
        """Associate one frame's detections, update the tracks, return the tracked (smoothed) bodies.

        Args:
            bodies: the detections of one frame, in any order.
            stamp: time of the frame in seconds. A stamp earlier than the previous one (bag loop, clock
                jump) or more than ``max_gap_s`` after it resets the tracker, as the estimator resets its
                frame buffer.
        Returns:
            One new Body per detection that belongs to a confirmed track (and to a tentative one when
            ``output_tentative``), in input order, with ``id`` set; the input bodies are not modified.
        """
        stamp = float(stamp)
        if self._last_stamp is not None and not 0.0 <= stamp - self._last_stamp <= self.config.max_gap_s:
            self.reset()
        self._last_stamp = stamp
        for b in bodies:
            _check_body(b)
        quats = joint_quats(bodies)

        matches, unmatched_tracks, unmatched_dets = self._associate(bodies, quats, stamp)

        assigned: dict[int, _Track] = {}
        for ti, di in matches:
            track = self._tracks[ti]
            track.observe(bodies[di], quats[di], stamp)
            track.hits += 1
            track.lost_frames = 0
            if track.state == TrackState.LOST or (track.state == TrackState.TENTATIVE
                                                  and track.hits >= self.config.min_hits):
                track.state = TrackState.CONFIRMED
            assigned[di] = track

        survivors = []
        for ti, track in enumerate(self._tracks):
            if ti in unmatched_tracks:
                if track.state == TrackState.TENTATIVE:
                    self._recent_ids.append(track.id)
                    continue
                track.state = TrackState.LOST
                track.lost_frames += 1
                if track.lost_frames > self.config.max_lost_frames:
                    self._recent_ids.append(track.id)
                    continue
            survivors.append(track)
        self._tracks = survivors

        for di in unmatched_dets:
            track = _Track(self._new_id(), bodies[di], quats[di], stamp, self.config)
            track.hits = 1
            if track.hits >= self.config.min_hits:
                track.state = TrackState.CONFIRMED
            self._tracks.append(track)
            assigned[di] = track

        out_idx = [
            di for di in range(len(bodies))
            if assigned[di].state == TrackState.CONFIRMED
            or (self.config.output_tentative and assigned[di].state == TrackState.TENTATIVE)
        ]
        # Every track is filtered on every hit (tentative ones too), so it is warm when it is confirmed.
        smoothed = {di: self._smooth(assigned[di], bodies[di], quats[di], stamp) for di in range(len(bodies))}
        return self._finish([smoothed[di] for di in out_idx])

    # -- association --------------------------------------------------------------------------------------
    def _associate(self, bodies: list[Body], quats: np.ndarray,
                   stamp: float) -> tuple[list[tuple[int, int]], set[int], list[int]]:
        n_t, n_d = len(self._tracks), len(bodies)
        if n_t == 0 or n_d == 0:
            return [], set(range(n_t)), list(range(n_d))
        cost = self.cost_matrix(bodies, stamp, quats)
        rows, cols = linear_sum_assignment(cost)
        matches = [(int(r), int(c)) for r, c in zip(rows, cols) if cost[r, c] < INFEASIBLE]
        matched_t = {m[0] for m in matches}
        matched_d = {m[1] for m in matches}
        return matches, set(range(n_t)) - matched_t, [d for d in range(n_d) if d not in matched_d]

    def cost_matrix(self, bodies: list[Body], stamp: float, quats: np.ndarray | None = None) -> np.ndarray:
        """(tracks, detections) association cost in [0, 1]; infeasible pairs (gated out) are ``1e6``
        (:func:`hmr_ros.tracking.association.association_cost`).

        ``quats``: the detections' (N, 24, 4) :func:`joint_quats`, when the caller already has them.
        """
        if quats is None:
            quats = joint_quats(bodies)
        return association_cost(self._tracks, bodies, quats, stamp, self.config)

    def _new_id(self) -> str:
        taken = {t.id for t in self._tracks} | set(self._recent_ids)
        return random_track_id(self._rng, taken)

    # -- smoothing ----------------------------------------------------------------------------------------
    def _smooth(self, track: _Track, body: Body, quats: np.ndarray, stamp: float) -> Body:
        if not self.config.smoothing:
            return dataclasses.replace(body, id=track.id)
        translation = np.asarray(body.translation, dtype=np.float64)
        t_hat = track.translation_filter(translation, stamp)
        r_hat = rotvec_from_quat(track.rotation_filter.filter_quat(quats, stamp))
        betas = np.asarray(body.betas, dtype=np.float64)
        track.betas_count = min(track.betas_count + 1, self.config.betas_max_count)
        track.betas_mean = betas.copy() if track.betas_mean is None else (
            track.betas_mean + (betas - track.betas_mean) / track.betas_count)
        shift = (t_hat - translation).astype(np.float32)
        return dataclasses.replace(
            body,
            id=track.id,
            translation=t_hat.astype(np.float32),
            global_orient=r_hat[0].astype(np.float32),
            body_pose=r_hat[1:].reshape(-1).astype(np.float32),
            betas=track.betas_mean.astype(np.float32),
            # Without a body model: rigid shift only (approximation documented in docs/tracking.md).
            joints=(np.asarray(body.joints, dtype=np.float32) + shift),
            vertices=(np.asarray(body.vertices, dtype=np.float32) + shift),
        )

    def _finish(self, bodies: list[Body]) -> list[Body]:
        """Re-pose joints and vertices from the smoothed parameters with the body model, batched."""
        if not bodies or self.body_model is None or not self.config.smoothing:
            return bodies
        import torch  # only needed with a body model; keeps the tracker importable and fast without torch

        rotvecs = np.stack([np.concatenate([b.global_orient.reshape(1, 3), b.body_pose.reshape(-1, 3)])
                            for b in bodies])
        rotmats = rotmat_from_rotvec(rotvecs)  # (N, 24, 3, 3)
        betas = np.stack([b.betas for b in bodies])
        # The estimator's body model may live on the GPU: feed it on its own device.
        buffers = list(self.body_model.buffers()) if isinstance(self.body_model, torch.nn.Module) else []
        device = buffers[0].device if buffers else torch.device("cpu")
        with torch.no_grad():
            out = self.body_model(torch.as_tensor(betas, dtype=torch.float32, device=device),
                                  torch.as_tensor(rotmats, dtype=torch.float32, device=device))
        joints = out.joints.detach().cpu().numpy()
        vertices = out.vertices.detach().cpu().numpy()
        return [
            dataclasses.replace(b, joints=(joints[i] + b.translation).astype(np.float32),
                                vertices=(vertices[i] + b.translation).astype(np.float32))
            for i, b in enumerate(bodies)
        ]


def _check_body(body: Body) -> None:
    if np.shape(body.joints)[-2:] != (NUM_JOINTS, 3) or np.shape(body.box) != (4,):
        raise ValueError(
            f"Tracker expected Body.joints (24, 3) and Body.box (4,), got {np.shape(body.joints)} and "
            f"{np.shape(body.box)}"
        )
    if np.size(body.body_pose) != 3 * (NUM_JOINTS - 1) or np.size(body.global_orient) != 3:
        raise ValueError(
            f"Tracker expected Body.body_pose (69,) and Body.global_orient (3,), got "
            f"{np.shape(body.body_pose)} and {np.shape(body.global_orient)}"
        )
