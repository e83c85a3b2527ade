"""Arguments and helpers shared by the commands."""
from __future__ import annotations

import argparse

from hmr_ros.model.siam import MODES, VARIANTS


def network_args(p: argparse.ArgumentParser) -> None:
    """The SIAMConfig choices every network command takes."""
    p.add_argument("--variant", default="w32", choices=list(VARIANTS))
    p.add_argument("--input-size", type=int, default=512, help="network input side in pixels (multiple of 32)")
    p.add_argument("--window", type=int, default=9, help="frames in the temporal window (T)")
    p.add_argument("--max-people", type=int, default=16, help="instance slots per frame (K)")
    p.add_argument("--mode", default="causal", choices=list(MODES))
    p.add_argument("--checkpoint", default=None, help=".safetensors weights (default: untrained)")


def build_network(args):
    """SIAM in eval mode from the network arguments (seeded random weights without --checkpoint)."""
    from hmr_ros.checkpoint import load_checkpoint
    from hmr_ros.model.siam import SIAM, SIAMConfig

    import torch

    torch.manual_seed(0)
    model = SIAM(SIAMConfig(variant=args.variant, input_size=args.input_size, window=args.window,
                            max_people=args.max_people, mode=args.mode))
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint)
    return model.eval()
