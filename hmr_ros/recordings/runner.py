"""A recording through the same ROS-free per-frame path as the node (``Pipeline``: Estimator + Tracker), into sinks.

    summary = run_recording(source, pipeline, sinks, camera=None, progress=print_bar, stop=lambda: interrupted)

Per frame: the intrinsics are the recording's own (a bag's CameraInfo), else ``camera`` (a calibration YAML, by the
node's size policy: ``camera_messages.Calibration.K_for``), else the documented default
(``hmr_ros.camera.default_intrinsics``). What the source and the calibration note (a CameraInfo ignored, scaled,
for another size) is counted by kind in ``RunSummary.notes``. A frame the source
could not decode, or that the pipeline rejects (NaN intrinsics, an empty image, ...), is recorded in
``RunSummary.skipped`` with its reason and handed to the sinks' ``skip`` (the overlay shows it), never fatal.
``stop()`` is asked between frames, so Ctrl-C finishes the current frame; the caller closes the sinks.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from hmr_ros.bodies import Body
from hmr_ros.camera import resolve_intrinsics
from hmr_ros.pipeline import Pipeline
from hmr_ros.camera_messages import Calibration, Note
from hmr_ros.recordings.sources import Source, SourceFrame


class Sink(Protocol):
    def write(self, frame: SourceFrame, bodies: list[Body], K: np.ndarray) -> None: ...
    def skip(self, frame: SourceFrame, reason: str) -> None: ...
    def close(self) -> None: ...


@dataclass
class RunSummary:
    """frames: read from the recording; processed: through the network; written: output frames (fewer than
    processed in ``centered`` mode, whose last window // 2 frames never become an output frame); skipped:
    (index, reason) of each unusable frame; people: bodies written; resets: temporal resets (stamps jumping
    back or gaps); notes: kind -> [frames, first message] of the notes; interrupted: stopped by ``stop()``;
    seconds: wall time."""

    frames: int = 0
    processed: int = 0
    written: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    people: int = 0
    resets: int = 0
    notes: dict[str, list] = field(default_factory=dict)
    interrupted: bool = False
    seconds: float = 0.0


#: the source's notes that announce default intrinsics: untrue for a frame a calibration file gives K to
_DEFAULT_K_NOTES = frozenset({"no_camera_info", "camera_info_size_mismatch", "uncalibrated_camera"})


def frame_intrinsics(frame: SourceFrame, camera: Calibration | None) -> tuple[np.ndarray | None, tuple[Note, ...]]:
    """(K: the recording's for this frame, else the calibration file's for this image size, else None; the notes
    that hold for the frame: its own, less those announcing default intrinsics when the file gave K, plus the
    file's)."""
    if frame.K is not None or camera is None:
        return frame.K, frame.notes
    h, w = frame.rgb.shape[:2]
    K, note = camera.K_for(w, h)
    notes = frame.notes if K is None else tuple(n for n in frame.notes if n.kind not in _DEFAULT_K_NOTES)
    return K, notes + ((note,) if note else ())


def count_notes(summary: "RunSummary", notes) -> None:
    for note in notes:
        summary.notes.setdefault(note.kind, [0, note.message])[0] += 1


def run_recording(source: Source, pipeline: Pipeline, sinks: list[Sink], camera: Calibration | None = None,
                  progress: Callable[[RunSummary, int | None], None] | None = None,
                  stop: Callable[[], bool] = lambda: False) -> RunSummary:
    """Process every frame of ``source``; see the module docstring."""
    summary = RunSummary()
    t0 = time.monotonic()
    for frame in source:
        summary.frames += 1
        reason = frame.error
        if reason is not None:
            count_notes(summary, frame.notes)
        else:
            try:
                K, notes = frame_intrinsics(frame, camera)
                count_notes(summary, notes)
                used_K, _ = resolve_intrinsics(K, frame.rgb.shape[1], frame.rgb.shape[0])
                result = pipeline.process(frame.rgb, frame.stamp, K=K, meta=(frame, used_K))
            except ValueError as e:  # the core's one-line reasons: bad intrinsics, image size, stamp
                reason = str(e)
        if reason is not None:
            summary.skipped.append((frame.index, reason))
            for sink in sinks:
                sink.skip(frame, reason)
        else:
            summary.processed += 1
            summary.resets = result.resets
            if result.ready:
                out_frame, out_K = result.meta
                for sink in sinks:
                    sink.write(out_frame, result.bodies, out_K)
                summary.written += 1
                summary.people += len(result.bodies)
        if frame_done(summary, t0, source.frame_count, progress, stop):
            break
    summary.seconds = time.monotonic() - t0
    return summary


def frame_done(summary, t0: float, total: int | None, progress, stop: Callable[[], bool]) -> bool:
    """After each frame of a recording loop: update ``summary.seconds``, report ``progress(summary, total)``, and
    say whether to stop (``stop()`` asked between frames, so Ctrl-C finishes the current one; then
    ``summary.interrupted``)."""
    summary.seconds = time.monotonic() - t0
    if progress is not None:
        progress(summary, total)
    if stop():
        summary.interrupted = True
    return summary.interrupted
