"""Cost of one training step: time, GPU memory and achieved FLOP rate per network config and batch size.

    python bench/bench_train_step.py --device cuda                                 # the "Reproducing SIAM" grid
    python bench/bench_train_step.py --device cpu --cases w32:64:4:4:1 --steps 3   # a smoke run anywhere

A case is ``width:S:T:K:B`` (input size S, window T, K person slots, B clips per process and micro-batch). The
model step is timed alone, as ``train`` runs it (forward + backward + AdamW, bf16 autocast unless ``--no-amp``):
one fixed batch of B synthetic clips is rendered once on the CPU and repeated (``train(..., data=repeat(batch))``),
so data loading is not in the figure; a real run must keep the loader ahead of it. The first ``--warmup`` steps
(cuDNN autotuning, allocator growth) are not counted. Per case: median ms per step, clips and frames per second, the
PyTorch allocator's peak (``torch.cuda.max_memory_allocated``; CPU: not measured) and the achieved rate
3 x forward FLOP (``SIAM.flop_counts``) / step time, the usual forward + backward estimate. A case that runs out of
GPU memory is reported as OOM and the grid goes on.

Prints a Markdown table with the hardware line; ``--json`` writes every number.
"""
from __future__ import annotations

import argparse
import gc
import itertools
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's hmr_ros, not an older install

from hmr_ros.model.siam import SIAM, SIAMConfig  # noqa: E402
from hmr_ros.training.loop import TrainConfig, synthetic_batches, train  # noqa: E402
from machine_info import cpu_line  # noqa: E402  (bench/, this script's folder)

#: W32 at the reproduction config (S 512, T 9, K 16) for growing batches, then the smaller inputs for comparison.
DEFAULT_CASES = ("w32:512:9:16:1,w32:512:9:16:2,w32:512:9:16:4,w32:512:9:16:8,"
                 "w32:384:9:16:4,w32:256:9:16:8,w48:512:9:16:2")


def parse_case(text: str) -> tuple[SIAMConfig, int]:
    try:
        width, size, window, people, clips = text.split(":")
        config = SIAMConfig(width=width, input_size=int(size), window=int(window), max_people=int(people))
        config.validate()
        return config, int(clips)
    except (ValueError, TypeError) as err:
        raise SystemExit(f"bad case {text!r}: expected width:S:T:K:B, e.g. w32:512:9:16:2 ({err})") from None


def run_case(config: SIAMConfig, clips: int, device: torch.device, steps: int, warmup: int, amp: bool) -> dict:
    """Time ``steps`` counted steps after ``warmup`` on one fixed batch; returns the case's row."""
    batch = next(synthetic_batches(config, clips, seed=0, max_people=min(4, config.max_people)))
    row = {"width": config.width, "S": config.input_size, "T": config.window, "K": config.max_people,
           "clips": clips, "frames": clips * config.window}
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    try:
        result = train(config, TrainConfig(steps=warmup + steps, batch_clips=clips, lr=1e-4, device=device, seed=0,
                       out_path=None, log_every=0, amp=amp), data=itertools.repeat(batch), log=lambda m: None)
    except torch.cuda.OutOfMemoryError:
        row["status"] = "OOM"
        return row
    finally:
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    ms = 1e3 * statistics.median(result.step_seconds[warmup:])
    flops = SIAM(config).flop_counts()
    forward = clips * config.window * flops["frame_net"] + clips * flops["temporal_net"]
    row.update(status="ok", ms_per_step=ms, clips_per_s=1e3 * clips / ms, frames_per_s=1e3 * row["frames"] / ms,
               tflops=3 * forward / (ms / 1e3) / 1e12, loss_first=result.history[0]["total"],
               loss_last=result.history[-1]["total"])
    if device.type == "cuda":
        row["peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--cases", default=DEFAULT_CASES, help="comma-separated width:S:T:K:B")
    ap.add_argument("--steps", type=int, default=5, help="counted steps per case")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--no-amp", action="store_true", help="float32 instead of bf16 autocast")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its convolution algorithms once
        hardware = f"{torch.cuda.get_device_name(device)}; torch {torch.__version__}; host {cpu_line()}"
    else:
        hardware = f"{cpu_line()}; torch {torch.__version__}, {torch.get_num_threads()} threads"
    rows = []
    for text in args.cases.split(","):
        config, clips = parse_case(text)
        row = run_case(config, clips, device, args.steps, args.warmup, not args.no_amp)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    print(f"\nTraining step, {'bf16 autocast' if not args.no_amp else 'fp32'}, median of {args.steps} steps after "
          f"{args.warmup} warm-up: {hardware}\n")
    print("| width | S | T | K | clips (frames) | ms/step | clips/s | frames/s | peak GiB | TFLOP/s (3x fwd) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        head = f"| {r['width'].upper()} | {r['S']} | {r['T']} | {r['K']} | {r['clips']} ({r['frames']}) |"
        if r["status"] != "ok":
            print(head + f" {r['status']} | | | | |")
            continue
        peak = f"{r['peak_gib']:.1f}" if "peak_gib" in r else "n/m"
        print(head + f" {r['ms_per_step']:.0f} | {r['clips_per_s']:.2f} | {r['frames_per_s']:.1f} | {peak} | "
              f"{r['tflops']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"hardware": hardware, "amp": not args.no_amp, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
