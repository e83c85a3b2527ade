"""``python -m hmr_ros export``: frame_net.onnx + temporal_net.onnx, with the ONNX Runtime parity check."""
from __future__ import annotations

import argparse

from hmr_ros.cli.common import build_network, network_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export frame_net.onnx and temporal_net.onnx and check parity")
    network_args(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max abs difference accepted (fp32)")
    p.set_defaults(func=run)


def run(args) -> int:
    from hmr_ros.backends.export import export_onnx, onnx_parity

    model = build_network(args)
    paths = export_onnx(model, args.out)
    print(f"wrote {paths.frame_net} and {paths.temporal_net}")
    diffs = onnx_parity(model, paths)
    worst = max(diffs.values())
    for name, d in diffs.items():
        print(f"  max |onnxruntime - torch| {name:<12} {d:.3e}")
    ok = worst <= args.tolerance
    print(f"parity {'OK' if ok else 'FAILED'}: max abs difference {worst:.3e} (tolerance {args.tolerance:.0e}, fp32)")
    return 0 if ok else 1
