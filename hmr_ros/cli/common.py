"""Arguments and helpers shared by the commands."""
from __future__ import annotations

import argparse

from hmr_ros.model.siam import SIAMConfig
from hmr_ros.parameters import add_cli_flags, config_from_args


NETWORK_FLAGS = ("variant", "input_size", "window", "max_people", "mode", "checkpoint")


def network_args(p: argparse.ArgumentParser, **defaults) -> None:
    """The network flags every network command takes, derived from the node's parameter declaration
    (``hmr_ros.parameters``); ``defaults`` override a declared default for this command. Unlike the node, a
    command starts untrained unless given ``--checkpoint`` (a bundled name or a path): these commands build any
    variant, and the bundled weights fit only theirs."""
    add_cli_flags(p, NETWORK_FLAGS, **{"checkpoint": "", **defaults})


def network_config(args) -> SIAMConfig:
    """The validated SIAMConfig of the parsed network flags (ParameterError, a ValueError, when invalid)."""
    return config_from_args(args).network_config()


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
