"""``python -m hmr_ros make-body``: write the procedural body model in SMPL's .npz layout."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("make-body", help="write the procedural body model (.npz, SMPL layout)")
    p.add_argument("--out", required=True, help="output .npz path")
    p.set_defaults(func=run)


def run(args) -> int:
    from hmr_ros.smpl.procedural_body import write_procedural_body

    write_procedural_body(args.out)
    print(f"wrote the procedural body model to {args.out}")
    return 0
