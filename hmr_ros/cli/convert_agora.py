"""``python -m hmr_ros convert-agora``: AGORA's pickled ground-truth tables -> npz that hmr_ros reads safely."""
from __future__ import annotations

import argparse

from hmr_ros.cli.common import image_size


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert-agora", help="AGORA's pickled SMPL tables -> npz (once, on files you trust)",
                       description="Convert AGORA's ground-truth tables (pandas pickles, the 'Camera dataframe with "
                                   "SMPL joints and vertices' download) into npz files for evaluate --dataset agora. "
                                   "Loading a pickle can run code: this is the one command that does, and only with "
                                   "--trust-pickles. Needs pandas.")
    p.add_argument("tables", nargs="+", help="AGORA table pickles, e.g. validation_SMPL/validation_*_withjv.pkl")
    p.add_argument("--out", required=True, help="folder for the npz files (one per table)")
    p.add_argument("--trust-pickles", action="store_true",
                   help="I downloaded these files from AGORA myself: unpickling them is safe")
    p.add_argument("--table-size", type=image_size, default="3840x2160",
                   help="the image size the tables' 2D joints are in (WxH)")
    p.set_defaults(func=run)


def run(args) -> int:
    from hmr_ros.datasets.agora_convert import convert_table

    for n, table in enumerate(args.tables, 1):
        out = convert_table(table, args.out, trust=args.trust_pickles, resolution=args.table_size)
        print(f"[{n}/{len(args.tables)}] {table} -> {out}")
    return 0
