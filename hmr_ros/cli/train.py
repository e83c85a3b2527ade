"""``python -m hmr_ros train``: train SIAM on procedural synthetic clips and write a .safetensors checkpoint.

``--shards DIR`` trains on clips pre-rendered by ``render-shards`` instead of rendering them on the fly.

``--config run.yaml`` (or ``.toml``) sets any flag from a file: its keys are the flags' names without the leading
dashes (``batch-clips`` or ``batch_clips``), its values what the flag takes (lists may be lists, ``loss-weights`` a
mapping); a flag typed on the command line wins over the file.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from hmr_ros.cli.common import image_sizes, network_args, network_config
from hmr_ros.parameters import RENAMED


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train on procedural synthetic clips, write a .safetensors checkpoint")
    network_args(p)  # --checkpoint: weights to start from
    p.add_argument("--backbone-weights", default=None,
                   help="without --checkpoint: published weights to initialise the backbone from: official HRNet "
                        "ImageNet or pose .safetensors (loaded/ignored keys are logged); MoveNet's model.json (default "
                        "for --backbone movenet: the one scripts/fetch_backbone.sh fetched, sha256-checked)")
    p.add_argument("--temporal-from", default=None, metavar="CHECKPOINT",
                   help="start the temporal network (SIA, FD, SMPL head) from this checkpoint's, e.g. 'synthetic' "
                        "under a new backbone (its token width and layers must match)")
    p.add_argument("--freeze-backbone", action="store_true",
                   help="keep the backbone's weights as they are (no gradient through it: the heads and the "
                        "temporal network train at a fraction of the cost)")
    p.add_argument("--out", default=None,
                   help="output .safetensors checkpoint (required, here or in --config); the training state for "
                        "--resume is written next to it as <out without .safetensors>.state.safetensors")
    p.add_argument("--steps", type=int, default=2000, help="optimiser steps")
    p.add_argument("--batch-clips", type=int, default=4, help="clips per step (each of --window frames; the global "
                                                              "batch under torchrun, split over the processes)")
    p.add_argument("--accumulate", type=int, default=1, help="micro-batches per step (gradient accumulation: the "
                                                              "memory of batch/accumulate clips)")
    p.add_argument("--lr", type=float, default=3e-4, help="peak AdamW learning rate")
    p.add_argument("--device", default="auto", help="torch device ('auto' = cuda if available)")
    p.add_argument("--seed", type=int, default=0, help="initialisation and data seed")
    p.add_argument("--log-every", type=int, default=50, help="print losses and time per step every N steps")
    p.add_argument("--save-every", type=int, default=500, help="also write the checkpoint every N steps (0 = end)")
    p.add_argument("--workers", type=int, default=None,
                   help="data processes per training process, rendering or reading clips (default: 0 on CPU; on "
                        "a GPU min(12, (cores - 2) / processes on this machine))")
    p.add_argument("--people", type=int, default=None, help="most people per clip (default: --max-people)")
    p.add_argument("--image-sizes", type=image_sizes, default="640x480,480x640",
                   help="rendered camera sizes WxH, comma separated (rendering cost grows with the pixels)")
    p.add_argument("--no-amp", action="store_true",
                   help="train in float32 (default: bfloat16 autocast, on CUDA and CPU)")
    p.add_argument("--loss-weights", default="",
                   help="weights of loss terms, comma separated NAME=W (heatmap, pose, betas, cam, joints3d, "
                        "joints2d, verts, accel; unnamed terms keep their defaults, see docs/training.md)")
    p.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                   help="write a running average of the weights with this decay (e.g. 0.99: about the last 100 "
                        "steps) instead of the last step's; 0 = off")
    p.add_argument("--resume", action="store_true",
                   help="continue the run of --out from its .state.safetensors (same flags; --steps is the total)")
    p.add_argument("--log-csv", default=None, help="also write one CSV row per step (step, losses, lr, ms/step)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar with ETA on stderr (default: when stderr is a terminal)")
    p.add_argument("--shards", default=None, metavar="DIR",
                   help="train on the pre-rendered clips of this shard directory (render-shards' OUT/train), "
                        "reshuffled every epoch, instead of rendering clips on the fly (--image-sizes is ignored)")
    p.add_argument("--dataset", default=None, metavar="NAME=PATH[:WEIGHT],...",
                   help="train on real data instead of synthetic clips: 3dpw=<3DPW root> (train split), "
                        "bedlam=<folder of processed-label .npz>, agora=<folder of convert-agora npz> (metric SMPL "
                        "joints), panoptic=<folder of training sequences> (joints only), coco=<COCO root> (train2017, 2D keypoints only), pseudo=<label directory of "
                        "'label'> (its training frames: keypoints + world landmarks) or shards=<render-shards "
                        "OUT/train> (synthetic clips); comma-separate several to mix them, WEIGHT sets each one's share")
    p.add_argument("--bedlam-images", default=None, help="BEDLAM images root (holding <scene>/png/)")
    p.add_argument("--agora-images", default=None, help="AGORA: the folder of the rendered 1280x720 images")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                   help="with --dataset: random crop, left-right flip (joints swapped) and colour jitter per clip")
    p.add_argument("--body-model", default="procedural",
                   help="the SMPL .npz the datasets' parameters belong to (poses their targets)")
    p.add_argument("--config", default=None,
                   help="YAML (.yaml/.yml) or TOML (.toml) file of flag values; command-line flags override it")
    p.set_defaults(func=run, _train_parser=p)
    mark_defaults(p)  # keep last: only the flags added above can be set from --config


class _Default:
    """A flag's default, marked so that ``run`` tells it from a value typed on the command line (which must win over
    --config even when it equals the default)."""

    def __init__(self, value):
        self.value = value

    def __str__(self) -> str:  # what --help shows
        return str(self.value)


def mark_defaults(p: argparse.ArgumentParser) -> None:
    for action in p._actions:
        if action.dest not in ("help", "config") and action.default is not argparse.SUPPRESS:
            action.default = _Default(action.default)


def read_config(path: str | Path) -> dict:
    """{flag dest: value} from a YAML or TOML file (keys with dashes or underscores)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--config: {path} does not exist")
    if path.suffix.lower() == ".toml":
        import tomllib

        with open(path, "rb") as fh:
            values = tomllib.load(fh)
    elif path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        with open(path) as fh:
            values = yaml.safe_load(fh) or {}
    else:
        raise ValueError(f"--config: {path} must be .yaml, .yml or .toml")
    if not isinstance(values, dict):
        raise ValueError(f"--config: {path} must hold a mapping of flag names to values")
    return {str(k).replace("-", "_"): v for k, v in values.items()}


def _config_value(action: argparse.Action, value, source: str):
    """A config-file value as argparse would have parsed the flag (type and choices checked)."""
    flag = action.option_strings[0]
    if value is None:
        return None
    if action.nargs == 0:  # store_true / --flag/--no-flag
        if not isinstance(value, bool):
            raise ValueError(f"{source}: {flag} takes true or false, got {value!r}")
        return value
    if isinstance(value, dict):  # e.g. loss-weights: {joints3d: 5}
        value = ",".join(f"{k}={v}" for k, v in value.items())
    elif isinstance(value, (list, tuple)):  # e.g. image-sizes: [640x480, 480x640]
        value = ",".join(str(v) for v in value)
    try:
        value = action.type(str(value)) if action.type else str(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: {flag}: {exc}") from None
    if action.choices is not None and value not in action.choices:
        raise ValueError(f"{source}: {flag} must be one of {list(action.choices)}, got {value!r}")
    return value


def resolve_args(args: argparse.Namespace) -> argparse.Namespace:
    """Fill every flag not typed on the command line from ``args.config`` (if any), else its default."""
    parser = getattr(args, "_train_parser", None)
    actions = {a.dest: a for a in parser._actions} if parser is not None else {}
    values = read_config(args.config) if args.config else {}
    # a run file written for an older release may name a renamed parameter (``variant``: now ``width``)
    values = {RENAMED[k] if RENAMED.get(k) in actions and RENAMED[k] not in values else k: v for k, v in values.items()}
    unknown = sorted(k for k in values if k not in actions or k in ("help", "config"))
    if unknown:
        known = sorted(a.option_strings[0][2:] for d, a in actions.items() if d not in ("help", "config"))
        raise ValueError(f"--config {args.config}: unknown key(s) {unknown}; the keys are the flags: {known}")
    for dest, current in list(vars(args).items()):
        if isinstance(current, _Default):
            action = actions[dest]
            if dest in values:
                value = _config_value(action, values[dest], f"--config {args.config}")
            else:  # argparse converts string defaults with the flag's type; the mark hid it from that
                value = current.value
                if isinstance(value, str) and action.type is not None:
                    value = action.type(value)
            setattr(args, dest, value)
    return args


def parse_loss_weights(text: str) -> dict[str, float]:
    """``"joints3d=5,accel=0"`` -> {"joints3d": 5.0, "accel": 0.0}."""
    weights = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f"--loss-weights: expected NAME=WEIGHT[,NAME=WEIGHT...], got {text!r}")
    return weights


def run(args) -> int:
    import sys

    args = resolve_args(args)
    if not args.out:
        raise ValueError("--out is required (on the command line or in --config)")
    import os

    from hmr_ros.training.loop import TrainConfig, train

    config = network_config(args)  # backbone / width / input size left at auto: --checkpoint's, else the defaults
    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    workers = args.workers
    if workers is None:  # render or read in parallel when a GPU is waiting for data; torchrun's processes share the cores
        local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        workers = 0 if device == "cpu" else max(0, min(12, ((os.cpu_count() or 1) - 2) // local))
    sizes = args.image_sizes
    from hmr_ros.training import distributed

    clip_stream, body = None, None
    if args.dataset:
        from hmr_ros.datasets.clips import sources_from_specs
        from hmr_ros.training.mixture import mixture_batches
        from hmr_ros.smpl.body_model import load_body_model

        if args.shards:
            raise ValueError("give --dataset or --shards, not both")
        body = load_body_model(args.body_model)
        specs = args.dataset if isinstance(args.dataset, list) else [d for d in args.dataset.split(",") if d]
        sources = sources_from_specs(specs, body, config.window, args.bedlam_images, args.agora_images)
        augment_with = body if args.augment else None

        def clip_stream(clips: int, seed: int):  # each process reads its own share of every batch
            return mixture_batches(sources, config, clips, seed, augment_with, workers)
    extra = {"body_model": body} if body is not None else {}
    if config.backbone == "movenet" and not args.checkpoint and not args.backbone_weights:
        from hmr_ros.pretrained import movenet_model

        args.backbone_weights = str(movenet_model())  # an untrained MoveNet is no MoveNet: start from the published
    try:  # under torchrun every process runs this; training/distributed.py splits the batches
        train(config, TrainConfig(steps=args.steps, batch_clips=args.batch_clips, lr=args.lr, device=device,
              seed=args.seed, out_path=args.out, log_every=args.log_every, init_checkpoint=args.checkpoint,
              backbone_weights=args.backbone_weights, amp=not args.no_amp, save_every=args.save_every,
              loss_weights=parse_loss_weights(args.loss_weights), resume=args.resume, log_csv=args.log_csv,
              progress=sys.stderr.isatty() if args.progress is None else args.progress, accumulate=args.accumulate,
              ema=args.ema, freeze_backbone=args.freeze_backbone, temporal_checkpoint=args.temporal_from),
              clip_stream=clip_stream, **extra, workers=workers, shards=args.shards, max_people=args.people,
              **{} if args.shards or clip_stream is not None else {"image_sizes": sizes})
    finally:
        distributed.stop(distributed.world_from_env())
    return 0
