"""``python -m hmr_ros build-engine``: build (or verify) the cached TensorRT engines ahead of time."""
from __future__ import annotations

import argparse
import sys

from hmr_ros.cli.common import build_network, network_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-engine", help="build the TensorRT engines (cached) ahead of time")
    network_args(p)
    p.add_argument("--precision", default="fp16", choices=["fp16", "fp32"])
    p.add_argument("--cache", default=None, help="engine cache folder (default ~/.cache/hmr_ros)")
    p.add_argument("--device", default="cuda", help="CUDA device to build for")
    p.add_argument("--force", action="store_true", help="rebuild even when a valid cached engine exists")
    p.set_defaults(func=run)


def run(args) -> int:
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
    model = build_network(args)
    cache = args.cache or default_cache_dir()
    if args.force:
        with torch.cuda.device(args.device):
            key = engine_key(OnnxKey.for_network(model), args.precision, args.device)
            ensure_engines(cached_onnx(model, cache), key, cache, force="--force given", say=print)
    backend = TensorRTBackend(model, args.device, args.precision, cache)
    print(f"engines ready in {backend.folder} ({backend.describe()})")
    return 0
