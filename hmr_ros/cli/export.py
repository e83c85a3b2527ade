"""``python -m hmr_ros export``: frame_net.onnx + temporal_net.onnx, with the ONNX Runtime parity check."""
from __future__ import annotations

import argparse

from hmr_ros.cli.common import build_network, network_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export frame_net.onnx and temporal_net.onnx and check parity")
    network_args(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--dtype", default="fp32", choices=["fp32", "fp16"],
                   help="graph dtype: fp16 is the graph FP16 TensorRT engines are built from (docs/backends.md)")
    p.add_argument("--tolerance", type=float, default=None,
                   help="max abs difference accepted (default 1e-4 for fp32, 5e-2 for fp16)")
    p.set_defaults(func=run)


def run(args) -> int:
    from hmr_ros.backends.export import export_onnx
    from hmr_ros.backends.onnx_backend import onnx_parity

    import time

    tolerance = args.tolerance if args.tolerance is not None else (1e-4 if args.dtype == "fp32" else 5e-2)
    model = build_network(args)
    print(f"exporting SIAM-{args.width} S={args.input_size} T={args.window} K={args.max_people} ({args.dtype}) "
          f"to {args.out} ...", flush=True)
    t = time.monotonic()
    paths = export_onnx(model, args.out, args.dtype)
    print(f"wrote {paths.frame_net} and {paths.temporal_net} in {time.monotonic() - t:.1f} s", flush=True)
    print("checking parity: ONNX Runtime (CPU) against PyTorch FP32 on random inputs ...", flush=True)
    diffs = onnx_parity(model, paths)
    worst = max(diffs.values())
    for name, d in diffs.items():
        print(f"  max |onnxruntime - torch| {name:<12} {d:.3e}")
    ok = worst <= tolerance
    print(f"parity {'OK' if ok else 'FAILED'}: max abs difference {worst:.3e} (tolerance {tolerance:.0e}, "
          f"{args.dtype} graph)")
    return 0 if ok else 1
