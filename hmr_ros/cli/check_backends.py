"""``python -m hmr_ros check-backends``: every available backend vs PyTorch FP32 (vertex/joint error, latency)."""
from __future__ import annotations

import argparse

from hmr_ros.cli.common import network_args, network_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-backends", help="compare every available backend with PyTorch FP32")
    network_args(p)
    p.add_argument("--frames", type=int, default=12, help="frames run through each backend")
    p.add_argument("--device", default="auto", help="GPU to test ('auto' = cuda if available)")
    p.add_argument("--cache", default=None, help="ONNX/engine cache folder (default ~/.cache/hmr_ros)")
    p.set_defaults(func=run)


def tensorrt_summary(cache: str | None) -> str:
    """Which TensorRT is installed and what the cached engines cover, e.g. "TensorRT: tensorrt not installed;
    TensorRT-RTX 1.7.1.116 installed; cached engines: w32 S=512 T=9 K=16 fp16 for sm86+sm89+sm120 (...)"."""
    from hmr_ros.backends.engine_cache import cache_entries
    from hmr_ros.backends.tensorrt_flavour import describe_installed

    engines = [e.holds.split(":")[0] for e in cache_entries(cache) if e.kind == "tensorrt"]
    return f"TensorRT: {describe_installed()}; cached engines: {'; '.join(engines) or 'none'}"


def run(args) -> int:
    import logging

    import torch

    from hmr_ros.eval.check_backends import check_backends, format_table
    from hmr_ros.estimator import EstimatorConfig

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.manual_seed(0)
    config = EstimatorConfig(network_config(args), checkpoint=args.checkpoint or None, engine_cache_dir=args.cache)
    import sys

    report = check_backends(config, frames=args.frames, device=args.device,
                            say=lambda message: print(message, file=sys.stderr, flush=True))
    print(format_table(report, f"SIAM-{args.width} input {args.input_size}, window {args.window}, "
                               f"K {args.max_people}, {args.frames} frames; reference torch cpu fp32"))
    print(tensorrt_summary(args.cache))
    print("all backends within tolerance" if report.ok else "FAILED: a backend is outside its tolerance or failed")
    return 0 if report.ok else 1
