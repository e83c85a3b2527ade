"""Offline throughput of ``python -m hmr_ros run``: frames per second over a rendered video at network input sizes
256 and 512, with the bundled weights, per output (results only, + overlay.mp4, + result bag).

    python bench/bench_run.py [--frames 24] [--sizes 256,512] [--backend auto] [--threads 0]

Prints a Markdown table for docs/performance.md, with the hardware line. Each run goes through the CLI's own code
path (sources -> Pipeline -> sinks) in this process; the first frame (lazy initialisation, ONNX export when not
cached) is not counted.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's hmr_ros, not an older install

from hmr_ros.parameters import defaults, make_config  # noqa: E402
from hmr_ros.pipeline import Pipeline  # noqa: E402
from hmr_ros.recordings.bag_writer import ResultBag  # noqa: E402
from hmr_ros.recordings.outputs import ArraysNpz, JsonLines, OverlayVideo  # noqa: E402
from hmr_ros.recordings.runner import run_recording  # noqa: E402
from hmr_ros.recordings.sources import open_source  # noqa: E402
from hmr_ros.sim.clips import make_clip  # noqa: E402
from machine_info import cpu_line  # noqa: E402  (bench/, this script's folder)


def write_video(path: Path, frames: int) -> None:
    clip = make_clip(num_frames=frames, width=640, height=480, num_people=3, fps=15.0, seed=7)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (640, 480))
    for f in clip.frames:
        writer.write(cv2.cvtColor(f.rgb, cv2.COLOR_RGB2BGR))
    writer.release()


def measure(video: Path, out: Path, size: int, outputs: str, backend: str) -> tuple[float, str]:
    config = make_config({**defaults(), "input_size": size, "backend": backend})
    pipeline = Pipeline(config.pipeline_config())
    est = pipeline.estimator
    out.mkdir(parents=True, exist_ok=True)
    sinks = [JsonLines(out / "smpl.jsonl"), ArraysNpz(out / "smpl.npz")]
    if outputs in ("overlay", "bag"):
        sinks.append(OverlayVideo(out / "overlay.mp4", est.faces, 15.0))
    if outputs == "bag":
        sinks.append(ResultBag(out / f"bag{size}", est.faces, est.body_model_name))
    marks: list[float] = []
    with open_source(video) as source:
        run_recording(source, pipeline, sinks, progress=lambda s, total: marks.append(time.perf_counter()))
    for sink in sinks:
        sink.close()
    timed = marks[-1] - marks[0]  # from the end of frame 0 to the end of the last frame
    return (len(marks) - 1) / timed, est.backend.describe()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--sizes", default="256,512")
    p.add_argument("--backend", default="auto")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "walk.mp4"
        write_video(video, args.frames)
        for size in (int(s) for s in args.sizes.split(",")):
            for outputs in ("results", "overlay", "bag"):
                fps, backend = measure(video, Path(tmp) / f"out{size}{outputs}", size, outputs, args.backend)
                rows.append(f"| {size} | {backend} | {outputs} | {fps:.2f} | {1e3 / fps:.0f} |")
                print(rows[-1], flush=True)
    print(f"\n{cpu_line()}; torch {torch.__version__}, {torch.get_num_threads()} threads; 640x480 video, 3 people, "
          f"{args.frames} frames\n")
    print("| input | backend | outputs | frames/s | ms/frame |\n|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
