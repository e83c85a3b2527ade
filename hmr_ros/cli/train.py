"""``python -m hmr_ros train``: train SIAM on procedural synthetic clips and write a .safetensors checkpoint."""
from __future__ import annotations

import argparse

from hmr_ros.cli.common import network_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train on procedural synthetic clips, write a .safetensors checkpoint")
    network_args(p)  # --checkpoint: weights to start from
    p.add_argument("--backbone-weights", default=None,
                   help="without --checkpoint: official HRNet ImageNet or pose .safetensors to initialise the "
                        "backbone from (loaded/ignored keys are logged)")
    p.add_argument("--out", required=True, help="output .safetensors checkpoint")
    p.add_argument("--steps", type=int, default=2000, help="optimiser steps")
    p.add_argument("--batch-clips", type=int, default=4, help="clips per step (each of --window frames)")
    p.add_argument("--lr", type=float, default=3e-4, help="peak AdamW learning rate")
    p.add_argument("--device", default="auto", help="torch device ('auto' = cuda if available)")
    p.add_argument("--seed", type=int, default=0, help="initialisation and data seed")
    p.add_argument("--log-every", type=int, default=50, help="print losses and time per step every N steps")
    p.add_argument("--save-every", type=int, default=500, help="also write the checkpoint every N steps (0 = end)")
    p.add_argument("--workers", type=int, default=None,
                   help="data-rendering processes (default: 0 on CPU, min(12, cores - 2) on a GPU)")
    p.add_argument("--people", type=int, default=None, help="most people per clip (default: --max-people)")
    p.add_argument("--image-sizes", default="640x480,480x640",
                   help="rendered camera sizes WxH, comma separated (rendering cost grows with the pixels)")
    p.add_argument("--no-amp", action="store_true", help="train in float32 on CUDA (default: bfloat16 autocast)")
    p.set_defaults(func=run)


def run(args) -> int:
    import os

    from hmr_ros.model.siam import SIAMConfig
    from hmr_ros.training.loop import train

    config = SIAMConfig(variant=args.variant, input_size=args.input_size, window=args.window,
                        max_people=args.max_people, mode=args.mode)
    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    workers = args.workers
    if workers is None:  # render in parallel when a GPU is waiting for data
        workers = 0 if device == "cpu" else max(0, min(12, (os.cpu_count() or 1) - 2))
    try:
        sizes = [tuple(int(v) for v in item.lower().split("x")) for item in args.image_sizes.split(",")]
    except ValueError:
        sizes = []
    if not sizes or any(len(wh) != 2 for wh in sizes):
        raise ValueError(f"--image-sizes: expected WxH[,WxH...] such as 640x480,480x640; got {args.image_sizes!r}")
    train(config, args.steps, args.batch_clips, args.lr, device, args.seed, args.out, args.log_every,
          init_checkpoint=args.checkpoint, backbone_weights=args.backbone_weights,
          workers=workers, amp=not args.no_amp, save_every=args.save_every,
          max_people=args.people, image_sizes=sizes)
    return 0
