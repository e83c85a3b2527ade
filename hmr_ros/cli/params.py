"""``python -m hmr_ros params``: print the node's parameters (config/hmr.yaml or the README table) from their
one declaration in :mod:`hmr_ros.parameters`."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("params", help="print hmr_node's parameters as config/hmr.yaml or as the README table")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--yaml", action="store_true", help="config/hmr.yaml: every parameter at its default (default)")
    fmt.add_argument("--markdown", action="store_true", help="the README's Markdown parameter table")
    p.set_defaults(func=run)


def run(args) -> int:
    from hmr_ros.parameters import render_markdown_table, render_yaml

    print(render_markdown_table() if args.markdown else render_yaml(), end="")
    return 0
