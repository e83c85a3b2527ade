"""``python -m hmr_ros train-temporal``: the temporal stage on a frozen frame network's cached tokens.

Builds (or continues) the token cache of ``--clips`` clips in ``--cache DIR``, then trains SIA + FD + SMPL head for
``--steps`` steps and writes the whole network (frame network unchanged) to ``--out``. docs/training.md says why.
"""
from __future__ import annotations

import argparse

from hmr_ros.cli.common import image_sizes
import dataclasses


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-temporal", help="train the temporal network on cached tokens of a frozen frame network")
    p.add_argument("--checkpoint", required=True, help="the weights to start from (a bundled name or a path)")
    p.add_argument("--cache", required=True, metavar="DIR", help="token cache directory (built or continued here)")
    p.add_argument("--out", default=None, help="output .safetensors (omit with --build-only)")
    p.add_argument("--window", type=int, default=9, help="T of the windows trained on (the node runs 9)")
    p.add_argument("--clips", type=int, default=1200, help="clips in the cache (each gives 16 - T + 1 windows)")
    p.add_argument("--steps", type=int, default=4000, help="optimiser steps")
    p.add_argument("--batch", type=int, default=64, help="windows per step")
    p.add_argument("--lr", type=float, default=5e-4, help="peak AdamW learning rate")
    p.add_argument("--seed", type=int, default=0,
                   help="cache clip seed (and, + 1, the training seed); a cache directory holds one seed's clips")
    p.add_argument("--workers", type=int, default=1, help="clip-rendering processes while building the cache")
    p.add_argument("--image-sizes", type=image_sizes, default="320x240,240x320,320x180",
                   help="rendered camera sizes WxH, comma separated")
    p.add_argument("--loss-weights", default="accel=0",
                   help="NAME=W,... (default accel=0: the acceleration term costs T times the temporal network)")
    p.add_argument("--reinit-temporal", action="store_true",
                   help="start SIA + FD + SMPL head from a fresh initialisation (the frame network keeps the "
                        "checkpoint's weights)")
    p.add_argument("--build-only", action="store_true", help="build the cache and stop")
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from hmr_ros.checkpoint import load_checkpoint, read_config, resolve_checkpoint, save_checkpoint
    from hmr_ros.cli.train import parse_loss_weights
    from hmr_ros.model.siam import SIAM, SIAMConfig
    from hmr_ros.training.token_cache import build_cache, load_cache, train_temporal

    if not args.build_only and not args.out:
        raise ValueError("--out is required unless --build-only")
    path = resolve_checkpoint(args.checkpoint)
    cfg = SIAMConfig(**{**read_config(path), "window": args.window})
    cfg.validate()
    torch.manual_seed(args.seed)
    model = SIAM(cfg)  # --reinit-temporal: this fresh temporal network is the start
    load_checkpoint(model, path, part="frame_net." if args.reinit_temporal else "")
    build_cache(model, cfg, args.cache, args.clips, args.seed, workers=args.workers, image_sizes=args.image_sizes)
    if args.build_only:
        return 0
    windows = load_cache(args.cache, model)
    print(f"training the temporal network of {path.name} on {len(windows)} cached windows (T={cfg.window})",
          flush=True)
    train_temporal(model, windows, args.steps, args.batch, args.lr, seed=args.seed + 1,
                   weights=parse_loss_weights(args.loss_weights), log=lambda s: print(s, flush=True))
    save_checkpoint(model, args.out)
    print(f"wrote {args.out} ({dataclasses.asdict(cfg)})")
    return 0
