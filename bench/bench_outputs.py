"""Host time per frame after the graphs: turning network outputs into bodies (``Estimator._bodies``: body model,
camera, boxes, the copy to numpy) and tracking them (``Tracker.update``), for n people.

    python bench/bench_outputs.py [--people 5] [--frames 200] [--threads 1]

Prints one JSON line: median and p90 milliseconds of each stage. The network is untrained; ``score_threshold=0``
and ``bench_pipeline.FirstPeople`` keep the first n slots as n detected people, as in the pipeline benchmark.
Runs on checkouts before and after the issue-9 change (it builds either EstimatorConfig layout), so the two can
be timed side by side: docs/performance.md, "Outputs and tracking".
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's hmr_ros
sys.path.insert(0, str(ROOT / "bench"))

from bench_pipeline import FirstPeople  # noqa: E402
from hmr_ros.estimator import Estimator, EstimatorConfig  # noqa: E402

try:
    from hmr_ros.tracking.tracker import Tracker, TrackerConfig  # noqa: E402
except ImportError:  # the flat layout before the regroup
    from hmr_ros.tracking import Tracker, TrackerConfig  # noqa: E402


def config(size: int, people: int) -> EstimatorConfig:
    net = dict(input_size=size, window=9, max_people=16, score_threshold=0.0)
    if "network" in {f.name for f in dataclasses.fields(EstimatorConfig)}:
        from hmr_ros.model.siam import SIAMConfig

        return EstimatorConfig(SIAMConfig(**net), backend="torch")
    return EstimatorConfig(**net, backend="torch")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=5)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--size", type=int, default=64, help="network input side (the graphs are not timed)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    est = Estimator(config(args.size, args.people))
    est.backend = FirstPeople(est.backend, args.people)
    tracker = Tracker(TrackerConfig(min_hits=1), body_model=est.body_model)
    rgb = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    outputs, tracking = [], []
    for i in range(args.frames + 10):
        bodies = est.step(rgb, stamp=i / 30.0)
        t = time.perf_counter()
        tracker.update(bodies, i / 30.0)
        if i >= 10:  # warm-up: allocations, first tracks
            outputs.append(est.timings.body_model)
            tracking.append(1e3 * (time.perf_counter() - t))

    def stats(xs):
        xs = sorted(xs)
        return {"median_ms": round(statistics.median(xs), 3), "p90_ms": round(xs[int(0.9 * (len(xs) - 1))], 3)}

    print(json.dumps({"people": args.people, "frames": args.frames, "threads": args.threads,
                      "outputs": stats(outputs), "tracker_update": stats(tracking)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
