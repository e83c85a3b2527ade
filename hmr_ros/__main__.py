"""Command line: ``python -m hmr_ros <command>``.

    info          parameter counts per module and GFLOP per frame
    export        frame_net.onnx + temporal_net.onnx, with the ONNX Runtime parity check
    make-body     write the procedural body model in SMPL's .npz layout
    build-engine  build (or verify) the cached TensorRT engines ahead of time
    check-backends  every available backend vs PyTorch FP32: vertex/joint error (mm) and latency
    train         train SIAM on procedural synthetic clips and write a .safetensors checkpoint
"""
from __future__ import annotations

import argparse
import sys


def _network_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", default="w32", choices=["w18", "w32", "w48"])
    p.add_argument("--input-size", type=int, default=512, help="network input side in pixels (multiple of 32)")
    p.add_argument("--window", type=int, default=9, help="frames in the temporal window (T)")
    p.add_argument("--max-people", type=int, default=16, help="instance slots per frame (K)")
    p.add_argument("--mode", default="causal", choices=["causal", "centered"])
    p.add_argument("--checkpoint", default=None, help=".safetensors weights (default: untrained)")


def _build(args):
    from hmr_ros.checkpoint import load_checkpoint
    from hmr_ros.model.siam import SIAM, SIAMConfig

    import torch

    torch.manual_seed(0)
    model = SIAM(SIAMConfig(variant=args.variant, input_size=args.input_size, window=args.window,
                            max_people=args.max_people, mode=args.mode))
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint)
    return model.eval()


def cmd_info(args) -> int:
    model = _build(args)
    print(f"SIAM-{args.variant} (input {args.input_size}, window {args.window}, K {args.max_people}, {args.mode})")
    for name, n in model.parameter_counts().items():
        print(f"  {name:<11} {n:>12,d}  ({n / 1e6:6.2f} M)")
    flops = model.flop_counts()
    print(f"GFLOP per frame at {args.input_size}x{args.input_size} (2 per multiply-add):")
    for name, n in flops.items():
        print(f"  {name:<12} {n / 1e9:9.2f}")
    return 0


def cmd_export(args) -> int:
    from hmr_ros.backends.export import export_onnx, onnx_parity

    model = _build(args)
    paths = export_onnx(model, args.out)
    print(f"wrote {paths.frame_net} and {paths.temporal_net}")
    diffs = onnx_parity(model, paths)
    worst = max(diffs.values())
    for name, d in diffs.items():
        print(f"  max |onnxruntime - torch| {name:<12} {d:.3e}")
    ok = worst <= args.tolerance
    print(f"parity {'OK' if ok else 'FAILED'}: max abs difference {worst:.3e} (tolerance {args.tolerance:.0e}, fp32)")
    return 0 if ok else 1


def cmd_make_body(args) -> int:
    from hmr_ros.smpl.procedural_body import write_procedural_body

    write_procedural_body(args.out)
    print(f"wrote the procedural body model to {args.out}")
    return 0


def cmd_build_engine(args) -> int:
    import logging

    from hmr_ros.backends.tensorrt_backend import tensorrt_available

    ok, why = tensorrt_available()
    if not ok:
        print(f"error: cannot build TensorRT engines here: {why}. Install TensorRT 10 for your CUDA version on a "
              "machine with an NVIDIA GPU (e.g. `pip install tensorrt-cu12`), then run this command again.",
              file=sys.stderr)
        return 2
    import torch

    if not torch.cuda.is_available():
        print("error: TensorRT is installed but torch sees no CUDA GPU (torch.cuda.is_available() is False)",
              file=sys.stderr)
        return 2
    from hmr_ros.backends.engine_cache import OnnxKey, default_cache_dir
    from hmr_ros.backends.onnx_backend import cached_onnx
    from hmr_ros.backends.tensorrt_backend import TensorRTBackend, engine_key, ensure_engines

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    model = _build(args)
    cache = args.cache or default_cache_dir()
    if args.force:
        with torch.cuda.device(args.device):
            key = engine_key(OnnxKey.for_network(model), args.precision, args.device)
            ensure_engines(cached_onnx(model, cache), key, cache, force="--force given", say=print)
    backend = TensorRTBackend(model, args.device, args.precision, cache)
    print(f"engines ready in {backend.folder} ({backend.describe()})")
    return 0


def cmd_check_backends(args) -> int:
    import logging

    import torch

    from hmr_ros.eval.check_backends import check_backends, format_table
    from hmr_ros.estimator import EstimatorConfig

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.manual_seed(0)
    config = EstimatorConfig(variant=args.variant, input_size=args.input_size, window=args.window,
                             max_people=args.max_people, mode=args.mode, checkpoint=args.checkpoint,
                             engine_cache_dir=args.cache)
    report = check_backends(config, frames=args.frames, device=args.device)
    print(format_table(report, f"SIAM-{args.variant} input {args.input_size}, window {args.window}, "
                               f"K {args.max_people}, {args.frames} frames; reference torch cpu fp32"))
    print("all backends within tolerance" if report.ok else "FAILED: a backend is outside its tolerance or failed")
    return 0 if report.ok else 1


def cmd_train(args) -> int:
    import os

    from hmr_ros.model.siam import SIAMConfig
    from hmr_ros.training.loop import train

    config = SIAMConfig(variant=args.variant, input_size=args.input_size, window=args.window,
                        max_people=args.max_people, mode=args.mode)
    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    workers = args.workers
    if workers is None:  # render in parallel when a GPU is waiting for data
        workers = 0 if device == "cpu" else max(0, min(12, (os.cpu_count() or 1) - 2))
    try:
        sizes = [tuple(int(v) for v in item.lower().split("x")) for item in args.image_sizes.split(",")]
    except ValueError:
        sizes = []
    if not sizes or any(len(wh) != 2 for wh in sizes):
        raise ValueError(f"--image-sizes: expected WxH[,WxH...] such as 640x480,480x640; got {args.image_sizes!r}")
    train(config, args.steps, args.batch_clips, args.lr, device, args.seed, args.out, args.log_every,
          init_checkpoint=args.checkpoint, workers=workers, amp=not args.no_amp, save_every=args.save_every,
          max_people=args.people, image_sizes=sizes)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hmr_ros", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="parameter counts per module and GFLOP per frame")
    _network_args(p)
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("export", help="export frame_net.onnx and temporal_net.onnx and check parity")
    _network_args(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max abs difference accepted (fp32)")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("make-body", help="write the procedural body model (.npz, SMPL layout)")
    p.add_argument("--out", required=True, help="output .npz path")
    p.set_defaults(func=cmd_make_body)
    p = sub.add_parser("build-engine", help="build the TensorRT engines (cached) ahead of time")
    _network_args(p)
    p.add_argument("--precision", default="fp16", choices=["fp16", "fp32"])
    p.add_argument("--cache", default=None, help="engine cache folder (default ~/.cache/hmr_ros)")
    p.add_argument("--device", default="cuda", help="CUDA device to build for")
    p.add_argument("--force", action="store_true", help="rebuild even when a valid cached engine exists")
    p.set_defaults(func=cmd_build_engine)
    p = sub.add_parser("check-backends", help="compare every available backend with PyTorch FP32")
    _network_args(p)
    p.add_argument("--frames", type=int, default=12, help="frames run through each backend")
    p.add_argument("--device", default="auto", help="GPU to test ('auto' = cuda if available)")
    p.add_argument("--cache", default=None, help="ONNX/engine cache folder (default ~/.cache/hmr_ros)")
    p.set_defaults(func=cmd_check_backends)
    p = sub.add_parser("train", help="train on procedural synthetic clips, write a .safetensors checkpoint")
    _network_args(p)  # --checkpoint: weights to start from
    p.add_argument("--out", required=True, help="output .safetensors checkpoint")
    p.add_argument("--steps", type=int, default=2000, help="optimiser steps")
    p.add_argument("--batch-clips", type=int, default=4, help="clips per step (each of --window frames)")
    p.add_argument("--lr", type=float, default=3e-4, help="peak AdamW learning rate")
    p.add_argument("--device", default="auto", help="torch device ('auto' = cuda if available)")
    p.add_argument("--seed", type=int, default=0, help="initialisation and data seed")
    p.add_argument("--log-every", type=int, default=50, help="print losses and time per step every N steps")
    p.add_argument("--save-every", type=int, default=500, help="also write the checkpoint every N steps (0 = end)")
    p.add_argument("--workers", type=int, default=None,
                   help="data-rendering processes (default: 0 on CPU, min(12, cores - 2) on a GPU)")
    p.add_argument("--people", type=int, default=None, help="most people per clip (default: --max-people)")
    p.add_argument("--image-sizes", default="640x480,480x640",
                   help="rendered camera sizes WxH, comma separated (rendering cost grows with the pixels)")
    p.add_argument("--no-amp", action="store_true", help="train in float32 on CUDA (default: bfloat16 autocast)")
    p.set_defaults(func=cmd_train)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
