"""Arguments and helpers shared by the commands."""
from __future__ import annotations

import argparse

from hmr_ros.model.siam import SIAMConfig
from hmr_ros.parameters import add_cli_flags, config_from_args


NETWORK_FLAGS = ("backbone", "width", "input_size", "window", "max_people", "mode", "checkpoint")


def network_args(p: argparse.ArgumentParser, **defaults) -> None:
    """The network flags every network command takes, derived from the node's parameter declaration
    (``hmr_ros.parameters``); ``defaults`` override a declared default for this command. Unlike the node, a
    command starts untrained unless given ``--checkpoint`` (a bundled name or a path): these commands build any
    width, and the bundled weights fit only theirs. ``--backbone`` / ``--width`` / ``--input-size`` default, as the
    node's parameters do, to the checkpoint's (without one: SIAMConfig's defaults)."""
    add_cli_flags(p, NETWORK_FLAGS, **{"checkpoint": "", **defaults})


def network_config(args) -> SIAMConfig:
    """The validated SIAMConfig of the parsed network flags (ParameterError, a ValueError, when invalid), with
    ``auto`` backbone / width / input size resolved against ``--checkpoint`` (``estimator.resolve_network``);
    ``args.backbone``, ``args.width`` and ``args.input_size`` are set to the resolved values, which the commands
    print."""
    config = config_from_args(args).network_config()
    args.backbone, args.width, args.input_size = config.backbone, config.width, config.input_size
    return config


def build_network(args):
    """SIAM in eval mode from the network arguments (seeded random weights without --checkpoint)."""
    from hmr_ros.checkpoint import load_checkpoint
    from hmr_ros.model.siam import SIAM

    import torch

    torch.manual_seed(0)
    model = SIAM(network_config(args))
    if args.checkpoint:
        load_checkpoint(model, args.checkpoint)
    return model.eval()


def image_size(text: str) -> tuple[int, int]:
    """argparse type of a ``WxH`` flag (``640x480``) -> (width, height) in pixels, both positive."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH such as 640x480, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive width and height (WxH), got {text!r}")
    return w, h


def image_sizes(text: str) -> list[tuple[int, int]]:
    """argparse type of a ``WxH[,WxH...]`` flag (``640x480,480x640``) -> [(width, height), ...]."""
    return [image_size(item) for item in text.split(",")]
