"""``python -m hmr_ros build-engine``: build (or verify) the cached TensorRT engines ahead of time.

With TensorRT for RTX this works on any machine, GPU or not: ``--target sm86,sm89,sm120`` compiles portable engines
that a robot with one of those GPUs loads without building (kernels are specialised on the GPU at first use).
TensorRT 10/11 build only for the GPU present (``--target current``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from hmr_ros.cli.common import build_network, network_args


def _list(text: str) -> list[str]:
    return [t.strip().lower() for t in text.split(",") if t.strip()]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-engine", help="build the TensorRT engines (cached) ahead of time",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # the node's network by default (its bundled weights): the engines are keyed by the weights they hold
    network_args(p, checkpoint="synthetic")
    p.add_argument("--precision", dest="precisions", default=["fp16"], type=_list, metavar="fp16[,fp32]",
                   help="engine precision(s), comma-separated (default fp16)")
    p.add_argument("--target", action="append", type=_list, metavar="sm86,sm89,...|current|all",
                   help="compute capabilities to build for (TensorRT-RTX; repeat or comma-separate), 'current' for "
                        "the GPU here, 'all' for every target the installed TensorRT-RTX has; default: current with "
                        "a GPU, all without")
    p.add_argument("--flavour", default="auto", choices=["auto", "tensorrt", "tensorrt_rtx"],
                   help="which TensorRT (default: TensorRT-RTX when installed and it supports this GPU)")
    p.add_argument("--cache", default=None, help="engine cache folder (default ~/.cache/hmr_ros)")
    p.add_argument("--device", default="cuda", help="CUDA device for --target current")
    p.add_argument("--force", action="store_true", help="rebuild even when a valid cached engine exists")
    p.set_defaults(func=run)


def _targets(args, trt) -> tuple[str, ...] | None:
    """The requested targets (None = the GPU here); ValueError with the choices when they cannot be met."""
    from hmr_ros.backends.tensorrt_flavour import cuda_target

    wanted = [t for group in (args.target or []) for t in group]
    if not wanted:
        wanted = ["current"] if cuda_target() else ["all"]
        print(f"no --target given: building for {wanted[0]} "
              f"({'the GPU here' if wanted[0] == 'current' else 'no GPU here'})")
    if wanted == ["current"]:
        if cuda_target() is None:
            raise ValueError("--target current needs a CUDA GPU here (torch.cuda.is_available() is False)")
        return None
    if "current" in wanted:
        wanted = [(cuda_target() or "current") if t == "current" else t for t in wanted]
    if wanted == ["all"]:
        wanted = list(trt.buildable_targets())
    if not trt.rtx:
        raise ValueError(f"{trt.label} builds only for the GPU it runs on (--target current); compute capability "
                         "targets need TensorRT for RTX: pip install tensorrt-rtx")
    return tuple(wanted)  # engine_key checks them against what this TensorRT-RTX can build


def run(args) -> int:
    from hmr_ros.backends.tensorrt_flavour import describe_installed, load

    try:
        trt = load(args.flavour, args.device if args.device.startswith("cuda") else None)
    except ValueError as e:
        print(f"error: cannot build TensorRT engines here: {e}. Install TensorRT for RTX (`pip install "
              "tensorrt-rtx`, builds on any machine) or TensorRT 10/11 on a machine with an NVIDIA GPU, then run "
              "this command again.", file=sys.stderr)
        return 2
    bad = [p for p in args.precisions if p not in ("fp16", "fp32")]
    try:
        if bad or not args.precisions:
            raise ValueError(f"--precision takes fp16 and/or fp32, got {','.join(args.precisions) or 'nothing'}")
        targets = _targets(args, trt)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    import torch

    from hmr_ros.backends.engine_cache import OnnxKey, default_cache_dir
    from hmr_ros.backends.onnx_backend import cached_onnx
    from hmr_ros.backends.tensorrt_backend import BUILD_FILE, engine_key, ensure_engines

    model = build_network(args)
    cache = args.cache or default_cache_dir()
    keys = {}
    try:
        for precision in dict.fromkeys(args.precisions):
            onnx_key = OnnxKey.for_network(model, dtype=precision)
            if targets is None:
                with torch.cuda.device(args.device):
                    keys[precision] = engine_key(onnx_key, trt, device=args.device)
            else:
                keys[precision] = engine_key(onnx_key, trt, targets)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{describe_installed()}; using {trt.label}")
    for precision, key in keys.items():
        t0 = time.monotonic()
        onnx = cached_onnx(model, cache, key=key.onnx, notes=[])
        folder, key = ensure_engines(onnx, key, trt, cache, force="--force given" if args.force else None, say=print)
        record = json.loads((folder / BUILD_FILE).read_text())
        sizes = ", ".join(f"{name} {r['bytes'] / 2**20:.1f} MiB (built in {r['build_seconds']:.1f} s)"
                          for name, r in record.items())
        print(f"{precision} engines for {'+'.join(key.targets)} ready in {folder} ({time.monotonic() - t0:.1f} s): "
              f"{sizes}")
        if targets is None:  # on this GPU: prove the engines load and run
            from hmr_ros.backends.tensorrt_backend import TensorRTBackend

            backend = TensorRTBackend(model, args.device, precision, cache, flavour=trt.flavour)
            print(f"loaded on this GPU: {backend.describe()}")
    return 0
