"""End-to-end pipeline benchmark: per-stage latency, throughput, window scaling, memory.

    python bench/bench_pipeline.py                      # reduced grid (fits a 2-core CPU), backend auto
    python bench/bench_pipeline.py --grid full          # W32/W48 x 384/512 x window 1/9/16 x 1/5/10 people
    python bench/bench_pipeline.py --rss-frames 10000   # host RSS drift over a long run (GPU machines)
    python bench/bench_pipeline.py --grid targets --rss-frames 10000   # just what the targets need, with verdicts
    python bench/bench_pipeline.py --grid cpu-movenet --backend onnxruntime   # SIAM-M on a CPU, 6 people, 256 and 384
    . install/setup.bash && python bench/bench_pipeline.py   # adds message/marker build and publish stages

Stages per frame (median ms): decode (640x480 rgb8 message payload), preprocess (letterbox), frame_net, buffer
(ring push + window gather, timed on its own and taken out of the frame/temporal stages), temporal_net, body
model, then, where the ROS messages import, message build, marker build (CDR splice) and publish.
End to end = ``Estimator.step`` + decode (+ ROS stages), frames per second = 1000 / its median.

People: W32 cases load the bundled weights (``--checkpoint``; W18/W48 stay untrained), but the timing frame is a
fixed test pattern, not n people. ``score_threshold=0`` and a wrapper that keeps the first n instance slots emulate
n detected people (in FP16 an untrained HRNet's activations overflow, its scores are NaN and it finds nobody); every graph still runs at its static
shape (K=16), so only the body model and the ROS stages depend on n, as in deployment. The network sees a square
480x480 crop of the decoded frame (no letterbox padding, where the flat heatmap's first slots would be dropped).

On CUDA every graph call is followed by a synchronize, so each stage's time is its own (the pipeline is
sequential anyway: the body model waits for the graphs). GPU memory is reported twice: the PyTorch allocator's
peak (``gpu_torch_peak_mb``) and the device memory in use after the case (``gpu_device_mb``, total - free, as
nvidia-smi counts it: CUDA context, TensorRT engines and workspace included; other processes on the GPU too).

The targets (issue 4: W32@512 FP16 with 10 people >= 100 FPS end to end, p99 < 20 ms, GPU memory <= 2 GiB; window
16 within 15 % of window 1; host RSS flat within 5 %) get a PASS / FAIL / not measured line each.

Writes a JSON file (``--json``) and prints Markdown tables for docs/performance.md.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's hmr_ros

from hmr_ros.backends.base import Backend, FrameOutputs  # noqa: E402
from hmr_ros.estimator import Estimator, EstimatorConfig  # noqa: E402
from hmr_ros.model.backbones import BACKBONES  # noqa: E402
from hmr_ros.model.siam import SIAMConfig  # noqa: E402
from hmr_ros.frame_buffer import FrameBuffer, FrameSlot  # noqa: E402
from hmr_ros.image_codec import raw_to_rgb  # noqa: E402
from machine_info import cpu_line  # noqa: E402  (bench/, this script's folder)

W, H = 640, 480
MAX_PEOPLE = 16
FULL_GRID = [(v, s, t, n) for v in ("w32", "w48") for s in (384, 512) for t in (1, 9, 16) for n in (1, 5, 10)]
TARGET_GRID = [("w32", 512, t, 10) for t in (1, 9, 16)]
#: issue 29: SIAM-M on the 2-core CPU, 6 people, >= 15 FPS at 256 and >= 8 at 384 end to end
CPU_MOVENET_GRID = [("lightning", 256, 9, 6), ("lightning", 384, 9, 6)]
REDUCED_GRID = [("w32", 384, 9, 1), ("w32", 384, 9, 5), ("w32", 384, 9, 10), ("w32", 384, 1, 5),
                ("w32", 384, 16, 5), ("w32", 512, 9, 5), ("w48", 384, 9, 5)]


class FirstPeople(Backend):
    """Wraps a backend; keeps only the first ``n`` instance slots valid (emulates n detected people).

    On CUDA it synchronizes after each graph: kernels run asynchronously, and without it a graph's time would be
    charged to whichever later stage first waits for the GPU.
    """

    def __init__(self, inner: Backend, n: int):
        super().__init__()
        self.inner, self.n = inner, n
        self.name, self.precision, self.device = inner.name, inner.precision, inner.device
        self.selection = inner.selection
        self.sync = inner.device.type == "cuda"
        self.dynamic_slots = inner.dynamic_slots

    def frame(self, image):
        out = self.inner.frame(image)
        keep = torch.arange(out.mask.shape[-1], device=out.mask.device) < self.n
        out = out._replace(mask=out.mask & keep)
        if self.sync:
            torch.cuda.synchronize(self.device)
        return out

    def temporal(self, tokens, mask, centers):
        out = self.inner.temporal(tokens, mask, centers)
        if self.sync:
            torch.cuda.synchronize(self.device)
        return out

    def describe(self):
        return self.inner.describe()


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB."""
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, kb = line.split()[:2]
                values[key] = int(kb) / 1024
    return values.get("VmRSS:", float("nan")), values.get("VmHWM:", float("nan"))


def gpu_device_mb(device: torch.device) -> float:
    """Device memory in use on ``device`` (total - free), MiB: what nvidia-smi shows, context and TensorRT included."""
    free, total = torch.cuda.mem_get_info(device)
    return (total - free) / 2**20


def machine() -> str:
    gpu = f"; GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "; no GPU"
    return f"{cpu_line()}{gpu}; torch {torch.__version__} ({torch.get_num_threads()} threads)"


def camera_frame() -> tuple[bytes, np.ndarray]:
    """A 640x480 rgb8 payload (what a sensor_msgs/Image carries) and its decoded square crop for the network."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:H, 0:W]
    rgb = np.stack([x % 256, y % 256, (x + y) % 256], axis=2).astype(np.int16)
    rgb = np.clip(rgb + rng.integers(-8, 8, rgb.shape), 0, 255).astype(np.uint8)
    return rgb.tobytes(), rgb


class RosStages:
    """Message build, marker build and publish, when rclpy and the generated messages import."""

    def __init__(self, faces: np.ndarray):
        import rclpy
        from rclpy.qos import QoSProfile
        from std_msgs.msg import Header
        from visualization_msgs.msg import MarkerArray

        import hmr_ros.ros  # noqa: F401  (merges the install tree's generated messages)
        from hmr_ros.msg import SMPLHumanArray
        from hmr_ros.ros.markers import MeshMarkerWriter
        from hmr_ros.ros.messages import bodies_to_msg

        os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        self.rclpy = rclpy
        rclpy.init()
        self.node = rclpy.create_node("bench_pipeline")
        qos = QoSProfile(depth=1)
        self.pub_smpl = self.node.create_publisher(SMPLHumanArray, "bench/smpl", qos)
        self.pub_markers = self.node.create_publisher(MarkerArray, "bench/markers", qos)
        self.node.create_subscription(SMPLHumanArray, "bench/smpl", lambda m: None, qos, raw=True)
        self.node.create_subscription(MarkerArray, "bench/markers", lambda m: None, qos, raw=True)
        self.header = Header(frame_id="camera_optical")
        self.writer = MeshMarkerWriter(faces)
        self.bodies_to_msg = bodies_to_msg
        time.sleep(0.3)  # let discovery match the subscriptions

    def run(self, bodies) -> dict[str, float]:
        t0 = time.perf_counter()
        msg = self.bodies_to_msg(bodies, self.header, "procedural", W, H)
        t1 = time.perf_counter()
        data = self.writer.build([b.vertices for b in bodies], (0, 0), self.header.frame_id)
        t2 = time.perf_counter()
        self.pub_smpl.publish(msg)
        self.pub_markers.publish(data)
        t3 = time.perf_counter()
        return {"message build": 1e3 * (t1 - t0), "marker build": 1e3 * (t2 - t1), "publish": 1e3 * (t3 - t2)}

    def close(self) -> None:
        self.node.destroy_node()
        self.rclpy.shutdown()


def buffer_ms(window: int, device: torch.device, repeats: int = 50) -> float:
    """Median ms of one ring-buffer push + window gather at the deployment shapes (K=16, D=256)."""
    buf = FrameBuffer(window, MAX_PEOPLE, 256, device)
    tokens = torch.randn(MAX_PEOPLE, 256, device=device)
    mask = torch.ones(MAX_PEOPLE, dtype=torch.bool, device=device)
    centers, scores = torch.zeros(MAX_PEOPLE, 2, device=device), torch.ones(MAX_PEOPLE, device=device)
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        buf.push(tokens, mask, centers, scores, FrameSlot(float(i), None))
        tk, mk, ck = buf.window_view()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def run_case(args, width: str, size: int, window: int, people: int, payload: bytes, ros) -> dict:
    backbone = next(name for name, cls in BACKBONES.items() if width in cls.WIDTHS)
    checkpoint = {"w32": args.checkpoint, "lightning": args.movenet_checkpoint}.get(width) or None
    cfg = EstimatorConfig(SIAMConfig(backbone=backbone, width=width, input_size=size, window=window,
                                     max_people=MAX_PEOPLE, score_threshold=0.0),
                          checkpoint=checkpoint, backend=args.backend,
                          device=args.device, precision=args.precision, engine_cache_dir=args.cache)
    t = time.perf_counter()
    est = Estimator(cfg)
    startup_s = time.perf_counter() - t
    est.backend = FirstPeople(est.backend, people)
    cuda = est.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(est.device)
    buf_ms = buffer_ms(window, est.device)
    rows: dict[str, list[float]] = {k: [] for k in ("decode", "preprocess", "frame_net", "buffer", "temporal_net",
                                                     "body model", "message build", "marker build", "publish",
                                                     "end to end")}
    for i in range(args.warmup + args.frames):
        t0 = time.perf_counter()
        rgb = raw_to_rgb(payload, H, W, "rgb8", 3 * W)
        crop = rgb[:, (W - H) // 2:(W + H) // 2]
        t_decode = 1e3 * (time.perf_counter() - t0)
        bodies = est.step(crop, stamp=i / 30.0)
        if cuda:
            torch.cuda.synchronize(est.device)
        ros_t = ros.run(bodies) if ros else {}
        total = 1e3 * (time.perf_counter() - t0)
        if i < args.warmup:
            continue
        assert len(bodies) == people, f"expected {people} bodies, got {len(bodies)}"
        tm = est.timings
        stage = {"decode": t_decode, "preprocess": tm.letterbox, "frame_net": max(tm.frame_net - buf_ms / 2, 0.0),
                 "buffer": buf_ms, "temporal_net": max(tm.temporal_net - buf_ms / 2, 0.0), "body model": tm.body_model,
                 "end to end": total, **ros_t}
        for k, v in stage.items():
            rows[k].append(v)
    e2e = rows["end to end"]
    result = {
        "width": width, "input_size": size, "window": window, "people": people,
        "backend": est.backend.describe(), "startup_s": round(startup_s, 2),
        "stages_ms": {k: round(statistics.median(v), 3) for k, v in rows.items() if v},
        "end_to_end_ms": {"median": round(statistics.median(e2e), 2), "p99": round(float(np.percentile(e2e, 99)), 2)},
        "fps": round(1e3 / statistics.median(e2e), 2),
        "host_rss_mb": round(rss_mb()[0], 1), "host_rss_peak_mb": round(rss_mb()[1], 1),
    }
    if cuda:
        result["gpu_torch_peak_mb"] = round(torch.cuda.max_memory_allocated(est.device) / 2**20, 1)
        result["gpu_device_mb"] = round(gpu_device_mb(est.device), 1)
    print(f"# {width}@{size} T={window} people={people}: {result['end_to_end_ms']['median']:.1f} ms/frame, "
          f"{result['fps']:.2f} FPS ({result['backend']})", flush=True)
    del est
    gc.collect()
    if cuda:  # hand the cached blocks back, so the next case's device memory is its own
        torch.cuda.empty_cache()
    return result


def rss_run(args, payload: bytes, ros) -> dict:
    """Host RSS sampled over ``--rss-frames`` frames at ``--rss-size``: drift after warm-up, in percent.

    Each frame does what the node does: decode, ``Estimator.step``, ``Tracker.update`` and, where the ROS
    messages import, message build, marker build and publish, so a leak anywhere on that path shows.
    """
    from hmr_ros.tracking.tracker import Tracker

    est = Estimator(EstimatorConfig(SIAMConfig(input_size=args.rss_size, window=9, max_people=MAX_PEOPLE,
                                               score_threshold=0.0),
                                    backend=args.backend, device=args.device, precision=args.precision,
                                    engine_cache_dir=args.cache))
    est.backend = FirstPeople(est.backend, 5)
    tracker = Tracker(body_model=est.body_model)
    samples = []
    every = max(1, args.rss_frames // 20)
    warm = max(10, args.rss_frames // 10)
    for i in range(args.rss_frames):
        rgb = raw_to_rgb(payload, H, W, "rgb8", 3 * W)
        bodies = tracker.update(est.step(rgb[:, (W - H) // 2:(W + H) // 2], stamp=i / 30.0), i / 30.0)
        if ros:
            ros.run(bodies)
        if i + 1 == warm or (i + 1) % every == 0:
            samples.append((i + 1, rss_mb()[0]))
    after = [mb for n, mb in samples if n >= warm]
    first = after[0]
    worst = max(after, key=lambda mb: abs(mb - first))  # flat means neither growing nor shrinking
    out = {"frames": args.rss_frames, "input_size": args.rss_size, "backend": est.backend.describe(),
           "per_frame": "decode, Estimator.step, Tracker.update" + (", message/marker build, publish" if ros else ""),
           "rss_after_warmup_mb": round(first, 1), "rss_end_mb": round(after[-1], 1),
           "rss_max_mb": round(max(after), 1), "drift_percent": round(100 * (worst - first) / first, 2),
           "samples": [(n, round(mb, 1)) for n, mb in samples]}
    print(f"# RSS over {args.rss_frames} frames at {args.rss_size}: {first:.1f} -> {after[-1]:.1f} MiB "
          f"(max drift {out['drift_percent']:+.2f} %)", flush=True)
    return out


def tables(report: dict) -> str:
    cases = report["cases"]
    stages = [s for s in cases[0]["stages_ms"] if s != "end to end"] if cases else []
    out = [f"Machine: {report['machine']}; {report['date']}; {report['frames']} frames after {report['warmup']} "
           "warm-up; median ms", "",
           "| width | S | T | people | backend | " + " | ".join(stages) + " | end to end | p99 | FPS |",
           "|---|---|---|---|---|" + "---|" * (len(stages) + 3)]
    for c in cases:
        out.append(f"| {c['width']} | {c['input_size']} | {c['window']} | {c['people']} | {c['backend']} | "
                   + " | ".join(f"{c['stages_ms'][s]:.2f}" for s in stages)
                   + f" | {c['end_to_end_ms']['median']:.1f} | {c['end_to_end_ms']['p99']:.1f} | {c['fps']:.2f} |")
    for r in report.get("window_ratio", []):
        out.append(f"\nwindow {r['long']} vs {r['short']} ({r['width']}@{r['input_size']}, {r['people']} people): "
                   f"{r['ratio']:.3f} x per frame (goal <= 1.15)")
    peak = max((c["host_rss_peak_mb"] for c in cases), default=float("nan"))
    gpu = [c for c in cases if "gpu_device_mb" in c]
    out.append(f"\npeak host RSS {peak:.0f} MiB" + (
        f"; GPU memory: PyTorch allocator peak {max(c['gpu_torch_peak_mb'] for c in gpu):.0f} MiB, device in use "
        f"up to {max(c['gpu_device_mb'] for c in gpu):.0f} MiB (context {report['gpu_context_mb']:.0f} MiB)"
        if gpu else ""))
    if report.get("ros_stages") is not True:
        out.append(f"ROS stages not measured: {report.get('ros_stages')}")
    if "rss" in report:
        r = report["rss"]
        out.append(f"host RSS over {r['frames']} frames at S={r['input_size']} ({r['per_frame']}): "
                   f"{r['rss_after_warmup_mb']} MiB after "
                   f"warm-up, {r['rss_end_mb']} MiB at the end, max drift {r['drift_percent']:+.2f} %")
    return "\n".join(out)


#: Issue 4's targets (benchmarks, not timed tests).
TARGETS = {"fps": 100.0, "p99_ms": 20.0, "gpu_mb": 2048.0, "window_ratio": 1.15, "rss_drift_percent": 5.0,
           "rss_frames": 10_000}
TARGET_CASE = ("w32", 512, 10)  # width, input size, people; FP16 on a GPU


def verdicts(report: dict) -> list[tuple[str, str, str]]:
    """(target, what was measured, "PASS" | "FAIL" | "not measured: why") for each target.

    The speed and GPU-memory targets are judged on the W32@512 FP16 cases with 10 people, every window measured
    (the worst one counts); a run without them (a CPU, FP32) shows its figures but judges nothing.
    """
    def judge(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    cases = [c for c in report["cases"] if (c["width"], c["input_size"], c["people"]) == TARGET_CASE]
    fp16 = [c for c in cases if ", fp16" in c["backend"]]
    windows = ",".join(str(c["window"]) for c in fp16)
    rows = []
    if fp16:
        fps = min(c["fps"] for c in fp16)
        p99 = max(c["end_to_end_ms"]["p99"] for c in fp16)
        rows.append((f">= {TARGETS['fps']:.0f} FPS end to end", f"{fps:.1f} FPS (slowest of T={windows}; "
                     f"{fp16[0]['backend']})", judge(fps >= TARGETS["fps"])))
        rows.append((f"p99 latency < {TARGETS['p99_ms']:.0f} ms", f"{p99:.1f} ms", judge(p99 < TARGETS["p99_ms"])))
        if all("gpu_device_mb" in c for c in fp16):
            mem = max(c["gpu_device_mb"] for c in fp16)
            rows.append((f"GPU memory <= {TARGETS['gpu_mb'] / 1024:.0f} GiB", f"{mem:.0f} MiB in use on the device",
                         judge(mem <= TARGETS["gpu_mb"])))
    else:
        ran = (f"{min(c['fps'] for c in cases):.2f} FPS with {cases[0]['backend']}" if cases else "no W32@512 case "
               "with 10 people")
        why = "not measured: needs W32@512 FP16 with 10 people on a CUDA GPU (--grid targets)"
        rows += [(f">= {TARGETS['fps']:.0f} FPS end to end", ran, why), (f"p99 latency < {TARGETS['p99_ms']:.0f} ms",
                 "-", why), (f"GPU memory <= {TARGETS['gpu_mb'] / 1024:.0f} GiB", "-", why)]
    ratios = report.get("window_ratio", [])
    if ratios:
        worst = max(ratios, key=lambda r: r["ratio"])
        rows.append((f"window 16 within {100 * (TARGETS['window_ratio'] - 1):.0f} % of window 1",
                     f"{worst['ratio']:.3f} x ({worst['width']}@{worst['input_size']}, {worst['people']} people)",
                     judge(worst["ratio"] <= TARGETS["window_ratio"])))
    else:
        rows.append(("window 16 within 15 % of window 1", "-", "not measured: needs cases with T=1 and T=16"))
    rss = report.get("rss")
    if rss and rss["frames"] >= TARGETS["rss_frames"]:
        rows.append((f"host RSS flat (+-{TARGETS['rss_drift_percent']:.0f} %) over {TARGETS['rss_frames']:,} frames",
                     f"{rss['drift_percent']:+.2f} % ({rss['backend']})",
                     judge(abs(rss["drift_percent"]) <= TARGETS["rss_drift_percent"])))
    else:
        rows.append((f"host RSS flat (+-{TARGETS['rss_drift_percent']:.0f} %) over {TARGETS['rss_frames']:,} frames",
                     f"{rss['drift_percent']:+.2f} % over {rss['frames']:,} frames" if rss else "-",
                     f"not measured: needs --rss-frames {TARGETS['rss_frames']}"))
    return rows


def verdict_table(rows: list[tuple[str, str, str]]) -> str:
    return "\n".join(["| target | measured | verdict |", "|---|---|---|"] + [f"| {t} | {m} | {v} |" for t, m, v in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", choices=["reduced", "full", "targets", "cpu-movenet"], default="reduced")
    ap.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime", "tensorrt"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp16", "fp32"])
    ap.add_argument("--checkpoint", default="synthetic", help="weights for the W32 cases ('' = untrained)")
    ap.add_argument("--movenet-checkpoint", default="",
                    help="weights for the MoveNet ('lightning') cases ('' = MoveNet's published backbone, heads "
                         "untrained: the same cost)")
    ap.add_argument("--frames", type=int, default=8, help="timed frames per case")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch/ORT CPU threads (0 = leave torch's default)")
    ap.add_argument("--cache", default=None, help="ONNX/engine cache folder")
    ap.add_argument("--rss-frames", type=int, default=0, help="also run this many frames watching host RSS")
    ap.add_argument("--rss-size", type=int, default=256)
    ap.add_argument("--cases", default=None, help="only these cases, e.g. 'w32:384:9:5,w32:512:9:5'")
    ap.add_argument("--json", default="bench_pipeline.json")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    grid = {"full": FULL_GRID, "targets": TARGET_GRID, "reduced": REDUCED_GRID,
            "cpu-movenet": CPU_MOVENET_GRID}[args.grid]
    if args.cases:
        grid = [(v, int(s), int(t), int(n)) for v, s, t, n in (c.split(":") for c in args.cases.split(","))]
    payload, _ = camera_frame()

    ros, ros_status = None, True
    try:
        from hmr_ros.smpl.body_model import load_body_model

        ros = RosStages(np.asarray(load_body_model("procedural").faces))
    except ImportError as e:
        ros_status = f"{type(e).__name__}: {e} (source install/setup.bash for the generated messages)"
    report = {"machine": machine(), "date": datetime.datetime.now().isoformat(timespec="minutes"),
              "frames": args.frames, "warmup": args.warmup, "ros_stages": ros_status, "cases": []}
    device = torch.device(args.device if args.device != "auto" else "cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.zeros(1, device=device)  # create the context now, so its memory is measured apart from the cases
        report["gpu_context_mb"] = round(gpu_device_mb(device), 1)
    try:
        for case in grid:
            report["cases"].append(run_case(args, *case, payload, ros))
        if args.rss_frames:
            report["rss"] = rss_run(args, payload, ros)
    finally:
        if ros:
            ros.close()
    by = {(c["width"], c["input_size"], c["window"], c["people"]): c for c in report["cases"]}
    report["window_ratio"] = [
        {"width": v, "input_size": s, "people": n, "short": 1, "long": 16,
         "ratio": round(by[(v, s, 16, n)]["end_to_end_ms"]["median"] / by[(v, s, 1, n)]["end_to_end_ms"]["median"], 3)}
        for (v, s, t, n) in by if t == 1 and (v, s, 16, n) in by]
    judged = verdicts(report)
    report["targets"] = [dict(zip(("target", "measured", "verdict"), row)) for row in judged]
    Path(args.json).write_text(json.dumps(report, indent=2))
    print()
    print(tables(report))
    print()
    print(verdict_table(judged))
    print(f"\nJSON: {args.json}")


if __name__ == "__main__":
    main()
