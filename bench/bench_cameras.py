"""Several cameras in one process: one network shared by N cameras (``process_many``: the frame network on all N
newest frames as one batch, then each camera's temporal stage and tracker) against N separate pipelines (what N
single-camera nodes do, each with its own copy of the network), for N = 1, 2, 4.

    python bench/bench_cameras.py [--size 128] [--backend torch] [--ticks 12] [--threads 0]

Per row: time per tick (every camera gets one frame), aggregate frames/s, per-camera latency (a camera's result is
ready at the end of the tick) and the memory the extra cameras cost (RSS growth). Prints a Markdown table for
docs/performance.md, with the hardware line.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's hmr_ros, not an older install

from hmr_ros.estimator import Estimator  # noqa: E402
from hmr_ros.parameters import defaults, make_config  # noqa: E402
from hmr_ros.pipeline import Pipeline, process_many  # noqa: E402
from hmr_ros.sim.clips import make_clip  # noqa: E402
from machine_info import cpu_line  # noqa: E402  (bench/, this script's folder)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--backend", default="torch")
    p.add_argument("--ticks", type=int, default=12)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = make_config({**defaults(), "input_size": args.size, "backend": args.backend, "device": "cpu"})
    clip = make_clip(num_frames=args.ticks + 2, width=640, height=480, num_people=3, fps=15.0, seed=11)
    rows = []
    for n in (1, 2, 4):
        for mode in ("shared", "separate"):
            before = rss_mb()
            first = Pipeline(config.pipeline_config())
            if mode == "shared":
                pipes = [first] + [Pipeline(config.pipeline_config(), estimator=Estimator.sharing(first.estimator))
                                   for _ in range(n - 1)]
            else:
                pipes = [first] + [Pipeline(config.pipeline_config()) for _ in range(n - 1)]
            memory = rss_mb() - before
            ticks = []
            for i, f in enumerate(clip.frames):
                frames = [(f.rgb, f.stamp, clip.K, c) for c in range(n)]
                t = time.perf_counter()
                if mode == "shared":
                    process_many(pipes, frames)
                else:
                    for pipe, (rgb, stamp, K, meta) in zip(pipes, frames):
                        pipe.process(rgb, stamp, K, meta)
                if i >= 2:  # the first frames include lazy initialisation
                    ticks.append(time.perf_counter() - t)
            tick = statistics.median(ticks)
            rows.append(f"| {n} | {mode} | {1e3 * tick:.0f} | {n / tick:.2f} | {1e3 * tick:.0f} | {memory:.0f} |")
            print(rows[-1], flush=True)
            del pipes, first
    print(f"\n{cpu_line()}; torch {torch.__version__}, {torch.get_num_threads()} threads; backend {args.backend}, "
          f"input {args.size}, 640x480 frames with 3 people, median of {args.ticks} ticks\n")
    print("| cameras | network | ms per tick | frames/s (all cameras) | latency per camera (ms) | memory (MB) |\n"
          "|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
