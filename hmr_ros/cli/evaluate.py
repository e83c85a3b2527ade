"""``python -m hmr_ros evaluate``: score a checkpoint on the synthetic benchmark clips (metrics + baselines)."""
from __future__ import annotations

import argparse

# Used when neither a flag nor the checkpoint's stored config says otherwise. Input 128 keeps the default bench
# run at ~2 minutes on a 2-core CPU.
FALLBACK = dict(variant="w32", input_size=128, window=9, max_people=16, mode="causal")


def add_parser(sub: argparse._SubParsersAction) -> None:
    from hmr_ros.eval.splits import SPLITS
    from hmr_ros.model.siam import MODES, VARIANTS

    p = sub.add_parser("evaluate", help="MPJPE/PA-MPJPE/PVE/Accel/root error/F1 on the synthetic benchmark clips",
                       description="Run the node's per-frame path (Pipeline) on fixed synthetic clips never used in "
                                   "training, match people on 2D joints and report metrics, with two mean-pose "
                                   "baselines. variant and input size default to the checkpoint's stored config; window, people and mode to "
                                   + ", ".join(f"{k}={v}" for k, v in FALLBACK.items()) + ".")
    p.add_argument("--checkpoint", default=None, help=".safetensors weights (default: untrained, with a warning)")
    p.add_argument("--split", default="bench", choices=sorted(SPLITS),
                   help="clip set: bench (make_clip, the shipped weights' benchmark), varied (make_varied_clip, 1-8 "
                        "people, mixed motions, bench seeds); tiny and varied-tiny: CI smoke tests")
    p.add_argument("--shards", default=None, metavar="DIR",
                   help="with --split varied: read the clips of this bench shard directory (render-shards --split "
                        "bench: OUT/bench) instead of rendering them")
    p.add_argument("--window", type=int, default=None, help="frames in the temporal window (T)")
    p.add_argument("--input-size", type=int, default=None, help="network input side in pixels (multiple of 32)")
    p.add_argument("--variant", default=None, choices=list(VARIANTS))
    p.add_argument("--max-people", type=int, default=None, help="instance slots per frame (K)")
    p.add_argument("--mode", default=None, choices=list(MODES))
    p.add_argument("--tracking", action="store_true", help="run the tracker after the network (default: raw output)")
    p.add_argument("--device", default="cpu", help="torch device ('auto' = cuda if available)")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime", "tensorrt"],
                   help="inference backend, as the node's 'backend' parameter (auto on a CPU may export ONNX once "
                        "per checkpoint into the engine cache)")
    p.add_argument("--json", default=None, metavar="OUT", help="also write every number to this JSON file")
    p.add_argument("--dataset", default="synthetic", choices=["synthetic", "3dpw", "panoptic", "agora", "keypoints"],
                   help="synthetic: the clips above; 3dpw / panoptic / agora: their protocols on your copy (--root); "
                        "keypoints: real images against 2D keypoint labels (a label directory's held-out frames or "
                        "a COCO keypoints file): person recall/precision/F1, PCK@0.5, 2D jitter")
    p.add_argument("--root", default=None, help="3DPW root (sequenceFiles/, imageFiles/), the folder of Panoptic "
                                                "sequence folders, the folder of AGORA tables from convert-agora, "
                                                "or a label directory / COCO keypoints .json (keypoints)")
    p.add_argument("--images", default=None, help="AGORA: the folder of the rendered images")
    p.add_argument("--trust-pickles", action="store_true",
                   help="AGORA: --root holds AGORA's own pickled tables, downloaded by you: convert them on the way")
    p.add_argument("--image-size", default="1280x720", help="AGORA: the images' size, WxH (1280x720 or 3840x2160)")
    p.add_argument("--camera", default="00_16", help="Panoptic HD camera (panel_node)")
    p.add_argument("--dataset-split", default="test", choices=["train", "validation", "test"])
    p.add_argument("--joint-regressor", default=None, metavar="FILE.npy",
                   help="3DPW: (14, V) LSP regressor (default: the 24 SMPL joints); Panoptic: (19, V) onto COCO-19 "
                        "(default: the 14 joints SMPL and COCO-19 share)")
    p.add_argument("--body-model", default="procedural",
                   help="the SMPL .npz: 3DPW was fitted with it (poses prediction and ground truth alike); AGORA compares its "
                        "vertices with the tables' SMPL vertices")
    p.set_defaults(func=run)


def stored_config(path: str | None) -> dict:
    """The SIAMConfig fields stored in a checkpoint's metadata ({} without a checkpoint or metadata)."""
    from safetensors import SafetensorError

    from hmr_ros.checkpoint import read_config, resolve_checkpoint

    if not path:
        return {}
    resolved = resolve_checkpoint(path)  # a file, or bundled weights by name
    if resolved is None or not resolved.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return read_config(resolved)
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"checkpoint {path} is not a readable safetensors file: {e}") from e


def network_config(args):
    """The SIAMConfig to evaluate: each network flag, else the checkpoint's stored value, else ``FALLBACK``.
    Architecture fields without a flag (dim, layers, ...) come from the file, so the weights always fit."""
    import dataclasses

    from hmr_ros.model.siam import DEPLOYMENT_FIELDS, SIAMConfig

    stored = stored_config(args.checkpoint)
    # window, people, mode and threshold are deployment choices (as in EstimatorConfig.from_checkpoint): the
    # training run's values (a short window, few slots) would score a network the node never runs
    known = {f.name for f in dataclasses.fields(SIAMConfig)} - set(DEPLOYMENT_FIELDS)
    fields = {k: v for k, v in stored.items() if k in known}
    for name, fallback in FALLBACK.items():
        flag = getattr(args, name)
        fields[name] = flag if flag is not None else fields.get(name, fallback)
    network = SIAMConfig(**fields)
    network.validate()
    return network


def run(args) -> int:
    import json
    import sys

    from hmr_ros.estimator import EstimatorConfig
    from hmr_ros.eval.benchmark import evaluate_checkpoint, format_report

    network = network_config(args)
    if not args.checkpoint:
        print("warning: no --checkpoint: evaluating an UNTRAINED network (random weights); the numbers only show "
              "that the evaluation runs", file=sys.stderr)
    config = EstimatorConfig(network=network, checkpoint=args.checkpoint, device=args.device, backend=args.backend,
                             body_model=args.body_model)
    progress = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    if args.dataset in ("3dpw", "panoptic", "agora", "keypoints"):
        from hmr_ros.tracking.tracker import TrackerConfig

        if not args.root:
            raise ValueError(f"--dataset {args.dataset} needs --root (see --help)")
        tracking = TrackerConfig() if args.tracking else None
        if args.dataset == "keypoints":
            from hmr_ros.eval.keypoint_protocol import evaluate_keypoints, format_keypoints

            result = evaluate_keypoints(config, args.root, tracking, progress)
            text = format_keypoints(result)
        elif args.dataset == "agora":
            from hmr_ros.eval.agora_protocol import evaluate_agora, format_agora

            if not args.images:
                raise ValueError("--dataset agora needs --images (the folder of the rendered images)")
            try:
                width, height = (int(v) for v in args.image_size.lower().split("x"))
            except ValueError:
                raise ValueError(f"--image-size: expected WxH such as 1280x720, got {args.image_size!r}") from None
            result = evaluate_agora(config, args.root, args.images, width, height, tracking, progress,
                                    args.trust_pickles)
            text = format_agora(result)
        elif args.dataset == "panoptic":
            from hmr_ros.eval.panoptic_protocol import evaluate_panoptic, format_panoptic

            result = evaluate_panoptic(config, args.root, args.camera, args.joint_regressor, tracking, progress)
            text = format_panoptic(result)
        else:
            from hmr_ros.eval.threedpw_protocol import evaluate_3dpw, format_protocol

            result = evaluate_3dpw(config, args.root, args.dataset_split, args.joint_regressor, tracking, progress)
            text = format_protocol(result)
        print(text)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result.__dict__, f, indent=1)
        return 0
    report = evaluate_checkpoint(config, args.split, tracking=args.tracking, shards=args.shards, progress=progress)
    print(format_report(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.json}")
    return 0
