"""``python -m hmr_ros info``: parameter counts per module and GFLOP per frame."""
from __future__ import annotations

import argparse

from hmr_ros.cli.common import build_network, network_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="parameter counts per module and GFLOP per frame")
    network_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    model = build_network(args)
    print(f"SIAM-{args.width} (input {args.input_size}, window {args.window}, K {args.max_people}, {args.mode})")
    for name, n in model.parameter_counts().items():
        print(f"  {name:<11} {n:>12,d}  ({n / 1e6:6.2f} M)")
    flops = model.flop_counts()
    print(f"GFLOP per frame at {args.input_size}x{args.input_size} (2 per multiply-add):")
    for name, n in flops.items():
        print(f"  {name:<12} {n / 1e9:9.2f}")
    return 0
