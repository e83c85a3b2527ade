"""Counters of the node's pipeline and the /diagnostics status built from them.

``PipelineStats`` is updated from the subscription callbacks and the inference worker (thread-safe) and
turned into a ``Report`` (level, one-line reasons, key/values) once per diagnostics period; ``to_msg``
makes the ``diagnostic_msgs/DiagnosticArray``. Only ``to_msg`` needs ROS.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

OK, WARN, ERROR, STALE = 0, 1, 2, 3  # diagnostic_msgs/DiagnosticStatus levels
STATUS_NAME = "hmr_node: human mesh recovery"
HARDWARE_ID = "hmr_ros"


@dataclass
class Report:
    level: int
    message: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StaticInfo:
    """What does not change while the node runs."""

    backend: str         # the backend in use, ``Backend.describe()``: e.g. "torch (cpu, fp32)"
    model: str           # e.g. "SIAM w32 512px T=9 causal"
    weights: str         # checkpoint path, or "UNTRAINED (no checkpoint)"
    body_model: str
    input_topic: str
    untrained: bool
    backend_selection: str = ""  # why that backend: ``Backend.selection`` joined with "; "
    tracking: str = "off"        # e.g. "on (min_hits=3, max_lost_frames=15, smoothing)" or "off"


class PipelineStats:
    """Thread-safe counters. Times are ``time.monotonic()`` seconds unless named otherwise."""

    def __init__(self, now: float | None = None):
        self._lock = threading.Lock()
        start = time.monotonic() if now is None else now
        self.received = 0
        self.processed = 0
        self.dropped = 0
        self.published_people = 0
        self.last_people = 0
        self.bad_inputs: Counter[str] = Counter()
        self.inference_errors = 0
        self.last_error = ""
        self.buffer_resets = 0
        self.last_input_time: float | None = None
        self.default_intrinsics_frames = 0
        self.live_tracks: int | None = None  # None while tracking is off
        self.cameras_known = 0  # frame_ids with cached CameraInfo (bounded by the node)
        self.incompatible_qos = 0  # publishers the image subscription could not match
        self._latencies: list[float] = []   # ms, since the last report
        self._last_report_time = start
        self._last_counts = (0, 0, 0, 0, 0)  # received, processed, dropped, bad, errors at the last report
        self.start_time = start

    # -- events ------------------------------------------------------------------------------------------
    def on_received(self, now: float, replaced_pending: bool) -> None:
        with self._lock:
            self.received += 1
            self.last_input_time = now
            if replaced_pending:
                self.dropped += 1

    def on_bad_input(self, kind: str) -> None:
        with self._lock:
            self.bad_inputs[kind] += 1

    def on_buffer_reset(self) -> None:
        with self._lock:
            self.buffer_resets += 1

    def on_inference_error(self, message: str) -> None:
        with self._lock:
            self.inference_errors += 1
            self.last_error = message

    def on_incompatible_qos(self) -> None:
        with self._lock:
            self.incompatible_qos += 1

    def set_cameras_known(self, count: int) -> None:
        with self._lock:
            self.cameras_known = count

    def on_processed(self, latency_ms: float, people: int, default_intrinsics: bool,
                     live_tracks: int | None = None) -> None:
        """One frame published; ``live_tracks``: the tracker's tracks after it (None without tracking)."""
        with self._lock:
            self.processed += 1
            self.live_tracks = live_tracks
            self.published_people += people
            self.last_people = people
            self._latencies.append(latency_ms)
            if default_intrinsics:
                self.default_intrinsics_frames += 1

    # -- report ------------------------------------------------------------------------------------------
    def report(self, now: float, info: StaticInfo, warn_latency_ms: float, stale_input_s: float,
               publishers: int | None = None, image_qos: str = "") -> Report:
        """Status since the previous report; resets the per-period figures.

        ``publishers``: how many publishers the input topic has now (None = unknown); with images missing it tells
        "nobody publishes" from "published but nothing arrives" (large images over DDS, docs/ros.md).
        ``image_qos``: the image subscription's reliability, for the report."""
        with self._lock:
            dt = max(now - self._last_report_time, 1e-9)
            bad_total = sum(self.bad_inputs.values())
            r0, p0, d0, b0, e0 = self._last_counts
            in_rate, out_rate, drop_rate = (self.received - r0) / dt, (self.processed - p0) / dt, (self.dropped - d0) / dt
            new_bad, new_errors = bad_total - b0, self.inference_errors - e0
            lat = sorted(self._latencies)
            self._latencies = []
            self._last_report_time = now
            self._last_counts = (self.received, self.processed, self.dropped, bad_total, self.inference_errors)
            since_input = None if self.last_input_time is None else now - self.last_input_time
            bad = dict(self.bad_inputs)
            values = {
                "input rate (Hz)": f"{in_rate:.2f}",
                "processed rate (Hz)": f"{out_rate:.2f}",
                "dropped rate (Hz)": f"{drop_rate:.2f}",
                "frames received": str(self.received),
                "frames processed": str(self.processed),
                "frames dropped (busy)": str(self.dropped),
                "latency mean (ms)": f"{sum(lat) / len(lat):.1f}" if lat else "n/a",
                "latency max (ms)": f"{lat[-1]:.1f}" if lat else "n/a",
                "people in last frame": str(self.last_people),
                "bad inputs": str(bad_total),
                "bad inputs by kind": ", ".join(f"{k}={v}" for k, v in sorted(bad.items())) or "none",
                "buffer resets": str(self.buffer_resets),
                "frames with default intrinsics": str(self.default_intrinsics_frames),
                "cameras known": str(self.cameras_known),
                "inference errors": str(self.inference_errors),
                "backend": info.backend,
                "backend selection": info.backend_selection or "n/a",
                "tracking": info.tracking,
                "live tracks": "n/a" if self.live_tracks is None else str(self.live_tracks),
                "model": info.model,
                "weights": info.weights,
                "body model": info.body_model,
                "input topic": info.input_topic,
                "image publishers": "n/a" if publishers is None else str(publishers),
                "image subscription": image_qos or "n/a",
                "incompatible QoS publishers": str(self.incompatible_qos),
            }
            errors_now, last_error = new_errors, self.last_error

        level, reasons = OK, []
        if errors_now:
            level = ERROR
            reasons.append(f"{errors_now} inference error(s): {last_error}")
        silent = now - self.start_time if since_input is None else since_input
        if silent > stale_input_s:
            level = max(level, WARN)
            reasons.append(_silence(info.input_topic, silent, since_input is None, publishers, image_qos))
        if lat and lat[-1] > warn_latency_ms:
            level = max(level, WARN)
            reasons.append(f"latency {lat[-1]:.0f} ms > {warn_latency_ms:.0f} ms")
        if new_bad:
            level = max(level, WARN)
            reasons.append(f"{new_bad} bad input(s) ({values['bad inputs by kind']})")
        if info.untrained:
            level = max(level, WARN)
            reasons.append("network UNTRAINED (no checkpoint): outputs are not meaningful")
        message = "; ".join(reasons) if reasons else f"ok, {out_rate:.1f} Hz"
        return Report(level, message, values)


def _silence(topic: str, seconds: float, never: bool, publishers: int | None, image_qos: str) -> str:
    """Why no image is coming, in one line: nobody publishes, or something publishes and nothing arrives."""
    what = f"no image received yet on {topic}" if never else f"no image for {seconds:.1f} s on {topic}"
    if publishers is None:
        return what
    if publishers == 0:
        return f"{what}: no publisher on it (check the remapping)"
    return (f"{publishers} publisher(s) on {topic}, nothing received for {seconds:.0f} s ({image_qos or 'subscribed'}): "
            "large images over DDS? see docs/ros.md#large-images (image_qos, Fast DDS profile)")


def to_msg(report: Report, stamp, name: str = STATUS_NAME) -> "DiagnosticArray":  # noqa: F821  (lazy import)
    """Report -> diagnostic_msgs/DiagnosticArray with one status named ``name``; ``stamp`` is a
    builtin_interfaces/Time."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    status = DiagnosticStatus(level=bytes([report.level]), name=name, message=report.message,
                              hardware_id=HARDWARE_ID,
                              values=[KeyValue(key=k, value=v) for k, v in report.values.items()])
    arr = DiagnosticArray(status=[status])
    arr.header.stamp = stamp
    return arr
