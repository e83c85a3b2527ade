"""``python -m hmr_ros check-backends``: every available backend against PyTorch FP32 on the same frames.

Each backend runs the full Estimator pipeline (frame net, buffer, temporal net, camera, body model) on the same
fixed frames; its bodies are compared with those of the reference (torch, CPU, FP32) person by person:
maximum and 95th-percentile vertex distance and maximum joint distance in millimetres, plus step latency
median/p99. Tolerances (``TOLERANCE_MM``): FP32 max <= 0.1 mm; FP16 p95 <= 10 mm and max <= 40 mm. ONNX Runtime also runs the FP16 graph on the CPU (``backends/graph_precision.py``), which checks
the numerics of what FP16 TensorRT engines are built from on any machine; it needs trained weights
(``--checkpoint synthetic``): an untrained HRNet's activations exceed FP16's range.

Comparisons use ``score_threshold = 0`` and square frames: an untrained network's centre heatmap is flat, so
every slot is a "person" and the deterministic top-k tie-break (an int32 key, see ``heatmap_peaks``) makes all
backends pick the same slots; square frames have no letterbox padding where those slots would be dropped.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from hmr_ros.backends import skip_reason
from hmr_ros.backends.onnx_backend import onnxruntime_available
from hmr_ros.backends.tensorrt_backend import tensorrt_available

#: Distance (mm) from the reference: the max over bodies (vertices and joints) and the 95th percentile of the
#: per-body max vertex distance. FP32 agrees to numerical noise. FP16 error is heavy-tailed (an extremity of an odd
#: pose): with the shipped weights, per-body max vertex p95 / max were 2.0 / 8.6 mm (ONNX Runtime FP16 graph, AMD
#: EPYC, S=512), 2.1 / 14.0 mm (the same on an Intel Xeon), 5.8 / 19.9 mm (torch CUDA FP16, H200, S=128;
#: docs/backends.md). The p95 bound judges the typical body; the max bound catches a real fault (a wrong layout or
#: a broken export is off by hundreds of mm), not FP16's tail.
TOLERANCE_MM = {"fp32": {"p95": 0.1, "max": 0.1}, "fp16": {"p95": 10.0, "max": 40.0}}
REFERENCE = ("torch", "cpu", "fp32")


@dataclass
class CheckRow:
    """One backend's agreement with the reference and its speed."""

    backend: str
    device: str
    precision: str
    description: str = ""
    max_vertex_mm: float = float("nan")
    max_joint_mm: float = float("nan")
    p95_vertex_mm: float = float("nan")
    latency_median_ms: float = float("nan")
    latency_p99_ms: float = float("nan")
    people: int = 0                  # bodies compared over all frames
    ok: bool = False
    note: str = ""

    @property
    def tolerance_mm(self) -> float:
        """Bound on the max vertex and joint distance."""
        return TOLERANCE_MM[self.precision]["max"]

    @property
    def p95_tolerance_mm(self) -> float:
        """Bound on the 95th percentile over bodies of the max vertex distance."""
        return TOLERANCE_MM[self.precision]["p95"]


@dataclass
class CheckReport:
    rows: list[CheckRow]
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(r.ok for r in self.rows)


def fixed_frames(count: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` reproducible (size, size, 3) uint8 RGB frames: smooth colour blobs drifting slowly, so the
    backbone sees structure and consecutive frames are related like video."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0, 255, (8, 8, 3)).astype(np.float32)
    drift = rng.normal(0, 12, (8, 8, 3)).astype(np.float32)
    frames = []
    for i in range(count):
        small = np.clip(base + i * drift, 0, 255)
        frames.append(cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 255).astype(np.uint8))
    return frames


def candidates(device: str = "auto") -> tuple[list[tuple[str, str, str]], list[str]]:
    """(backend, device, precision) triples runnable here, and why the others are not."""
    from hmr_ros.backends import resolve_device

    dev = resolve_device(device)
    runnable, skipped = [REFERENCE], []
    ok, why = onnxruntime_available()
    if ok:
        # fp16: the graph FP16 TensorRT engines are built from, its numerics checked on the CPU
        runnable += [("onnxruntime", "cpu", "fp32"), ("onnxruntime", "cpu", "fp16")]
    else:
        skipped.append(f"onnxruntime: {why}")
    for name in ("torch", "tensorrt"):
        why = skip_reason(name, "cuda", dev)
        if why:
            skipped.append(why)
            continue
        runnable += [(name, str(dev), "fp32"), (name, str(dev), "fp16")]
    if dev.type == "cuda" and ok:
        from hmr_ros.backends.ort_import import import_onnxruntime

        ort = import_onnxruntime()

        if "CUDAExecutionProvider" in ort.get_available_providers():
            runnable.append(("onnxruntime", str(dev), "fp32"))
        else:
            skipped.append("onnxruntime-cuda: this onnxruntime has no CUDAExecutionProvider")
    if not tensorrt_available()[0] and not any("tensorrt" in s for s in skipped):
        skipped.append(f"tensorrt: {tensorrt_available()[1]}")
    return runnable, skipped


def _run(config, frames: list[np.ndarray]):
    """The runtime path without tracking (ids and smoothing would only blur the comparison)."""
    from hmr_ros.pipeline import Pipeline, PipelineConfig

    pipe = Pipeline(PipelineConfig(config, tracking=None))
    outputs, latencies = [], []
    for i, frame in enumerate(frames):
        outputs.append(pipe.process(frame, stamp=i / 30.0).bodies)
        if i:  # the first step includes lazy initialisation (allocations, autotuning)
            latencies.append(pipe.estimator.timings.total)
    return pipe.estimator, outputs, latencies


@dataclass
class Agreement:
    """Two runs' bodies compared: max and 95th percentile over bodies of the max vertex distance, max joint distance
    (mm); bodies paired at the same centre; cell_shifts: detections found one grid cell away (not in the
    distances); note: what was tolerated, or where the runs part (then the distances are infinite)."""

    max_vertex_mm: float = 0.0
    max_joint_mm: float = 0.0
    p95_vertex_mm: float = 0.0
    bodies: int = 0
    cell_shifts: int = 0
    note: str = ""


def compare_bodies(reference: list[list], other: list[list], margin_score: float = 0.0,
                   cell_px: float = 0.0) -> Agreement:
    """Compare two runs' bodies frame by frame, each reference body with the body at its detection centre.

    Slot order is not compared: two people with nearly equal scores may swap top-k ranks under FP16. A body with no
    partner at the same centre (1e-3 px) is paired with one within ``cell_px`` (one heatmap cell: reduced precision
    may move a flat peak to its neighbour, which reads a different token); such shifts are counted, and left out of
    the distances. Unpaired bodies are tolerated only when their score is below ``margin_score`` (the deployment
    threshold): with the threshold at 0, reduced precision may exchange the weakest slots at the top-k margin, which
    the node would never publish. Anything else makes the distances infinite.
    """
    out, vertex = Agreement(), []
    margin = 0
    shifted_mm = 0.0
    for f, (ref, got) in enumerate(zip(reference, other)):
        if len(ref) != len(got):
            return Agreement(float("inf"), float("inf"), float("inf"), out.bodies, out.cell_shifts,
                             f"frame {f}: {len(got)} people, reference {len(ref)}")
        unpaired = list(range(len(got)))
        late = []
        for a in ref:
            j = next((j for j in unpaired if np.abs(a.center - got[j].center).max() <= 1e-3), None)
            if j is None:
                late.append(a)
                continue
            unpaired.remove(j)
            vertex.append(float(np.linalg.norm(a.vertices - got[j].vertices, axis=-1).max()) * 1e3)
            out.max_joint_mm = max(out.max_joint_mm, float(np.linalg.norm(a.joints - got[j].joints, axis=-1).max()) * 1e3)
        for a in late:
            j = min(unpaired, key=lambda j: float(np.abs(a.center - got[j].center).max()), default=None)
            if j is not None and np.abs(a.center - got[j].center).max() <= cell_px:
                unpaired.remove(j)
                out.cell_shifts += 1
                shifted_mm = max(shifted_mm, float(np.linalg.norm(a.vertices - got[j].vertices, axis=-1).max()) * 1e3)
            elif a.score >= margin_score:
                return Agreement(float("inf"), float("inf"), float("inf"), len(vertex), out.cell_shifts,
                                 f"frame {f}: a detection at {np.round(a.center, 1).tolist()} (score {a.score:.2f}) "
                                 "is not in this backend's output")
            else:
                margin += 1
        if any(got[j].score >= margin_score for j in unpaired):
            return Agreement(float("inf"), float("inf"), float("inf"), len(vertex), out.cell_shifts,
                             f"frame {f}: this backend detects a person the reference does not")
    out.bodies = len(vertex)
    if vertex:
        out.max_vertex_mm, out.p95_vertex_mm = max(vertex), float(np.percentile(vertex, 95))
    notes = [f"{margin} slots under score {margin_score:g} exchanged at the top-k margin"] if margin else []
    if out.cell_shifts:
        notes.append(f"{out.cell_shifts} detections one cell away (max vertex {shifted_mm:.1f} mm there)")
    out.note = "; ".join(notes)
    return out


def check_backends(config, frames: int = 12, device: str = "auto",
                   only: list[tuple[str, str, str]] | None = None, say=None) -> CheckReport:
    """Run every candidate backend (or ``only`` these) with ``config`` and compare with the reference.

    ``config`` is an ``EstimatorConfig``; its backend/device/precision fields are replaced per candidate and
    its score threshold set to 0 (see the module docstring). ``say`` gets one progress line per backend.
    """
    say = say or (lambda message: None)
    runnable, skipped = candidates(device)
    if config.checkpoint is None and ("onnxruntime", "cpu", "fp16") in runnable:
        runnable.remove(("onnxruntime", "cpu", "fp16"))
        skipped.append("onnxruntime-cpu fp16 graph skipped: needs trained weights (--checkpoint synthetic); an "
                       "untrained HRNet's activations exceed FP16's range")
    planned = only if only is not None else runnable
    base = dataclasses.replace(config, network=dataclasses.replace(config.network, score_threshold=0.0))
    images = fixed_frames(frames, base.network.input_size)
    ref_cfg = dataclasses.replace(base, backend=REFERENCE[0], device=REFERENCE[1], precision=REFERENCE[2])
    t0 = time.monotonic()
    say(f"[reference] torch cpu fp32: {frames} frames ...")
    _, reference, ref_lat = _run(ref_cfg, images)
    rows = []
    for i, (name, dev, precision) in enumerate(planned, 1):
        say(f"[{i}/{len(planned)}] {name} {dev} {precision} ... ({time.monotonic() - t0:.0f} s so far)")
        row = CheckRow(name, dev, precision)
        try:
            if (name, dev, precision) == REFERENCE:
                est, outputs, lat = None, reference, ref_lat
                row.description = "torch (cpu, fp32) [reference]"
            else:
                est, outputs, lat = _run(dataclasses.replace(base, backend=name, device=dev, precision=precision),
                                         images)
                row.description = est.backend.describe()
        except Exception as e:  # an available backend that fails is a failed check, reported in its row
            row.note = f"failed: {type(e).__name__}: {e}"
            rows.append(row)
            continue
        cell = base.network.stride * images[0].shape[0] / base.network.input_size  # square frames: one heatmap cell, px
        agreement = compare_bodies(reference, outputs, config.network.score_threshold, cell)
        row.max_vertex_mm, row.max_joint_mm, row.p95_vertex_mm = (agreement.max_vertex_mm, agreement.max_joint_mm,
                                                                  agreement.p95_vertex_mm)
        row.people, row.note = agreement.bodies, agreement.note
        if lat:
            row.latency_median_ms = float(np.median(lat))
            row.latency_p99_ms = float(np.percentile(lat, 99))
        row.ok = (row.people > 0 and row.p95_vertex_mm <= row.p95_tolerance_mm
                  and row.max_vertex_mm <= row.tolerance_mm and row.max_joint_mm <= row.tolerance_mm)
        if row.people == 0 and not row.note:
            row.note = "no bodies to compare"
        rows.append(row)
        del est
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return CheckReport(rows, skipped)


def format_table(report: CheckReport, title: str = "") -> str:
    """Markdown table of the report, then the skipped backends."""
    lines = [title] if title else []
    lines += ["| backend | device | precision | max vertex err (mm) | p95 vertex err (mm) | max joint err (mm) "
              "| tolerance p95 / max (mm) | latency median (ms) | latency p99 (ms) | result |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report.rows:
        result = "ok" if r.ok else "FAIL"
        if r.note:
            result += f" ({r.note})"
        lines.append(f"| {r.description or r.backend} | {r.device} | {r.precision} | {r.max_vertex_mm:.4f} "
                     f"| {r.p95_vertex_mm:.4f} | {r.max_joint_mm:.4f} | {r.p95_tolerance_mm:g} / {r.tolerance_mm:g} | {r.latency_median_ms:.1f} "
                     f"| {r.latency_p99_ms:.1f} | {result} |")
    for s in report.skipped:
        lines.append(s if " skipped: " in s else f"skipped: {s}")  # most reasons already say "<name> skipped:"
    return "\n".join(lines)

