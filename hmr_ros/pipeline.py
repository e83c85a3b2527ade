"""The whole ROS-free per-frame path: image -> ``Estimator`` -> ``Tracker`` -> ordered bodies of one frame.

    pipe = Pipeline(PipelineConfig(estimator=EstimatorConfig(checkpoint="siam.safetensors"), tracking=TrackerConfig()))
    result = pipe.process(rgb, stamp, K=None, meta=header)   # rgb (H, W, 3) uint8; stamp seconds; K (3, 3) or None
    if result.ready:
        publish(result.bodies, result.meta)                  # the meta given with the frame the bodies belong to

Everything a consumer of frames needs beyond the network lives here, once, so the ROS node, the demo,
``check-backends`` and ``evaluate`` behave the same:
- the output frame: in ``centered`` mode the bodies belong to a frame ``window // 2`` frames back; ``FrameResult``
  carries that frame's stamp, index and the caller's ``meta`` (for ROS the source image header), not the newest;
- temporal resets (stamp backwards, or a gap larger than ``max_gap_s``) reset the tracker too, and are counted
  (``FrameResult.resets``) so callers compare integers, never reason strings;
- tracking (ids, smoothing) and the published order (highest score first).
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hmr_ros.bodies import Body
from hmr_ros.estimator import Estimator, EstimatorConfig, step_many
from hmr_ros.tracking.tracker import Tracker, TrackerConfig


@dataclass(frozen=True)
class PipelineConfig:
    """estimator: the network and body model; tracking: ids and smoothing, or None for raw detections."""

    estimator: EstimatorConfig = field(default_factory=EstimatorConfig)
    tracking: TrackerConfig | None = field(default_factory=TrackerConfig)


@dataclass
class FrameResult:
    """What one ``Pipeline.process`` call produced.

    Attributes:
        ready: False while ``centered`` mode waits for the window to reach its output frame (no bodies yet).
        bodies: people of the output frame, highest score first; ids set when tracking is on.
        stamp: seconds, the stamp of the output frame (the input stamp in ``causal`` mode); None when not ready.
        frame_index: index of the output frame among the frames accepted so far (0-based); -1 when not ready.
        meta: the ``meta`` passed with the output frame (e.g. a ROS header), None when not ready.
        image_size: (width, height) of the output frame in pixels.
        default_intrinsics: the output frame used ``default_intrinsics`` (no or all-zero K).
        resets: temporal resets since the pipeline was built (counter; compare with the previous result).
        reset_reason: why this frame reset the temporal window, or None.
        latency_ms: wall time of this call (decode not included).
    """

    ready: bool
    bodies: list[Body]
    stamp: float | None
    frame_index: int
    meta: Any
    image_size: tuple[int, int]
    default_intrinsics: bool
    resets: int
    reset_reason: str | None
    latency_ms: float


@dataclass
class _Input:
    index: int
    stamp: float
    meta: Any
    image_size: tuple[int, int]
    default_intrinsics: bool


def order_bodies(bodies: list[Body]) -> list[Body]:
    """Highest score first: the order of ``SMPLHumanArray.humans`` and of the mesh marker ids."""
    return sorted(bodies, key=lambda b: -float(b.score))


class Pipeline:
    """Estimator + Tracker behind one call per frame. Raises ValueError on a bad frame, which then leaves no
    trace (no buffer, tracker or counter changes), so the caller can count it and go on."""

    def __init__(self, config: PipelineConfig = PipelineConfig(), estimator: Estimator | None = None):
        self.config = config
        self.estimator = estimator if estimator is not None else Estimator(config.estimator)
        est = self.estimator
        # the tracker re-poses smoothed bodies with the estimator's own body model
        self.tracker = Tracker(config.tracking, body_model=est.body_model) if config.tracking is not None else None
        # centered mode outputs an older frame: remember what came with the frames still in the window
        self._inputs: deque[_Input] = deque(maxlen=est.network.config.window + 2)
        self._accepted = 0

    @property
    def resets(self) -> int:
        return self.estimator.resets

    def reset(self) -> None:
        """Forget all past frames and tracks (a new video, a camera switch). Not counted in ``resets``."""
        self.estimator.reset()
        if self.tracker is not None:
            self.tracker.reset()
        self._inputs.clear()

    def process(self, rgb: np.ndarray, stamp: float, K=None, meta: Any = None) -> FrameResult:
        """Run one frame. rgb: (H, W, 3) uint8 RGB; stamp: seconds; K: (3, 3) intrinsics, None or all zero for
        default intrinsics; meta: anything, handed back with the frame the bodies belong to."""
        t0 = time.perf_counter()
        resets_before = self.estimator.resets
        bodies = self.estimator.step(rgb, stamp, K)  # ValueError: rejected before any state changed
        return self._accepted_frame(bodies, rgb, stamp, meta, resets_before, t0)

    def _accepted_frame(self, bodies: list[Body], rgb: np.ndarray, stamp: float, meta: Any, resets_before: int,
                        t0: float) -> FrameResult:
        est = self.estimator
        h, w = rgb.shape[:2]
        reset_reason = None
        if est.resets != resets_before:
            reset_reason = est.last_reset_reason
            # the tracker would reset on the same stamp event inside update(), but in centered mode it sees older
            # stamps: resetting here keeps the two in step
            if self.tracker is not None:
                self.tracker.reset()
            self._inputs.clear()
        self._inputs.append(_Input(self._accepted, float(stamp), meta, (w, h), est.last_default_intrinsics))
        self._accepted += 1
        out = next((i for i in reversed(self._inputs) if i.stamp == est.output_stamp), None)
        if out is None:  # centered mode before the window holds the output frame
            return FrameResult(False, [], None, -1, None, (w, h), est.last_default_intrinsics, est.resets,
                               reset_reason, 1e3 * (time.perf_counter() - t0))
        if self.tracker is not None:
            bodies = self.tracker.update(bodies, out.stamp)
        return FrameResult(True, order_bodies(bodies), out.stamp, out.index, out.meta, out.image_size,
                           out.default_intrinsics, est.resets, reset_reason, 1e3 * (time.perf_counter() - t0))


def process_many(pipelines: list[Pipeline], frames: list[tuple]) -> list:
    """One frame per pipeline (cameras whose estimators share a network, ``Estimator.sharing``), the frame
    network run once on all of them as a batch. frames: (rgb, stamp, K, meta) each. Returns per pipeline its
    ``FrameResult``, or the ValueError that rejected its frame (that pipeline then stays as it was), or the
    exception that pipeline's own stage raised (``step_many``): the other cameras' results still come back."""
    t0 = time.perf_counter()
    resets = [p.estimator.resets for p in pipelines]
    outs = step_many([p.estimator for p in pipelines], [(rgb, stamp, K) for rgb, stamp, K, _ in frames])
    results: list = []
    for p, out, (rgb, stamp, _, meta), before in zip(pipelines, outs, frames, resets):
        try:
            results.append(out if isinstance(out, Exception) else p._accepted_frame(out, rgb, stamp, meta, before, t0))
        except Exception as exc:  # noqa: BLE001 -- that camera's slot, as step_many does
            results.append(exc)
    return results
