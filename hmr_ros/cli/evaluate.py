"""``python -m hmr_ros evaluate``: score a checkpoint on the synthetic benchmark clips (metrics + baselines)."""
from __future__ import annotations

import argparse

from hmr_ros.cli.common import image_size

#: The network when no checkpoint says otherwise (an untrained run): input 128 keeps the default bench run at ~2
#: minutes on a 2-core CPU.
UNTRAINED_INPUT_SIZE = 128


def add_parser(sub: argparse._SubParsersAction) -> None:
    from hmr_ros.cli.common import NETWORK_FLAGS
    from hmr_ros.eval.splits import SPLITS
    from hmr_ros.parameters import add_cli_flags

    p = sub.add_parser("evaluate", help="MPJPE/PA-MPJPE/PVE/Accel/root error/F1 on the synthetic benchmark clips",
                       description="Run the node's per-frame path (Pipeline) on fixed synthetic clips never used in "
                                   "training, match people on 2D joints and report metrics, with two mean-pose "
                                   "baselines. The network is the checkpoint's (EstimatorConfig.from_checkpoint: its "
                                   "backbone, width, input size; window 9, 16 people, causal) with any network flag "
                                   "given here on top; without --checkpoint, an UNTRAINED network.")
    # every network flag defaults to "not given", so the checkpoint's stored value stands unless one is
    add_cli_flags(p, NETWORK_FLAGS, **{name: None for name in NETWORK_FLAGS})
    add_cli_flags(p, ("keypoint_fit", "person_score_threshold"))
    p.add_argument("--split", default="bench", choices=sorted(SPLITS),
                   help="clip set: bench (make_clip, the shipped weights' benchmark), varied (make_varied_clip, 1-8 "
                        "people, mixed motions, bench seeds); tiny and varied-tiny: CI smoke tests")
    p.add_argument("--shards", default=None, metavar="DIR",
                   help="with --split varied: read the clips of this bench shard directory (render-shards --split "
                        "bench: OUT/bench) instead of rendering them")
    p.add_argument("--tracking", action="store_true", help="run the tracker after the network (default: raw output)")
    p.add_argument("--device", default="cpu", help="torch device ('auto' = cuda if available)")
    p.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime", "tensorrt"],
                   help="inference backend, as the node's 'backend' parameter (auto on a CPU may export ONNX once "
                        "per checkpoint into the engine cache)")
    p.add_argument("--json", default=None, metavar="OUT", help="also write every number to this JSON file")
    p.add_argument("--dataset", default="synthetic",
                   choices=["synthetic", "3dpw", "panoptic", "agora", "keypoints", "photos"],
                   help="synthetic: the clips above; 3dpw / panoptic / agora: their protocols on your copy (--root); "
                        "keypoints: real images against 2D keypoint labels (a label directory's held-out frames or "
                        "a COCO keypoints file): person recall/precision/F1, PCK@0.5, 2D jitter, and on a label "
                        "directory PA-MPJPE against the teacher's 3D landmarks; photos: people in real photos against "
                        "hand-drawn boxes (a photo-boxes .json, e.g. test/data/photo_boxes.json): found, missed, "
                        "false, recall, precision")
    p.add_argument("--root", default=None, help="3DPW root (sequenceFiles/, imageFiles/), the folder of Panoptic "
                                                "sequence folders, the folder of AGORA tables from convert-agora, "
                                                "a label directory / COCO keypoints .json (keypoints), or a "
                                                "photo-boxes .json (photos)")
    p.add_argument("--images", default=None, help="AGORA: the folder of the rendered images")
    p.add_argument("--trust-pickles", action="store_true",
                   help="AGORA: --root holds AGORA's own pickled tables, downloaded by you: convert them on the way")
    p.add_argument("--image-size", type=image_size, default="1280x720",
                   help="AGORA: the images' size, WxH (1280x720 or 3840x2160)")
    p.add_argument("--camera", default="00_16", help="Panoptic HD camera (panel_node)")
    p.add_argument("--dataset-split", default="test", choices=["train", "validation", "test"])
    p.add_argument("--joint-regressor", default=None, metavar="FILE.npy",
                   help="3DPW: (14, V) LSP regressor (default: the 24 SMPL joints); Panoptic: (19, V) onto COCO-19 "
                        "(default: the 14 joints SMPL and COCO-19 share)")
    p.add_argument("--body-model", default="procedural",
                   help="the SMPL .npz: 3DPW was fitted with it (poses prediction and ground truth alike); AGORA compares its "
                        "vertices with the tables' SMPL vertices")
    p.set_defaults(func=run)


def estimator_config(args):
    """The EstimatorConfig to evaluate: the checkpoint's network (``EstimatorConfig.from_checkpoint``) with each
    network flag given on top (``auto`` / ``0`` count as not given); without a checkpoint, an untrained network of
    SIAMConfig's defaults (the backbone's default width) at ``UNTRAINED_INPUT_SIZE`` px. Raises FileNotFoundError /
    ValueError for a missing or unreadable checkpoint and ValueError for an invalid network."""
    from hmr_ros.cli.common import NETWORK_FLAGS
    from hmr_ros.estimator import EstimatorConfig, resolve_network
    from hmr_ros.model.siam import SIAMConfig
    from hmr_ros.parameters import SPECS

    given = {name: getattr(args, name) for name in NETWORK_FLAGS if name != "checkpoint"
             and getattr(args, name) not in (None, SPECS[name].auto)}
    run_as = dict(device=args.device, backend=args.backend, body_model=args.body_model,
                  keypoint_fit=args.keypoint_fit, person_score_threshold=args.person_score_threshold)
    if args.checkpoint:
        config = EstimatorConfig.from_checkpoint(args.checkpoint, **given, **run_as)
    else:
        network, _ = resolve_network(None, **{"input_size": UNTRAINED_INPUT_SIZE, **given})
        config = EstimatorConfig(SIAMConfig(**{**given, **network}), checkpoint=None, **run_as)
    config.network.validate()
    return config


def run(args) -> int:
    import dataclasses
    import json
    import sys

    from hmr_ros.eval.benchmark import evaluate_checkpoint, format_report

    config = estimator_config(args)
    if not args.checkpoint:
        print("warning: no --checkpoint: evaluating an UNTRAINED network (random weights); the numbers only show "
              "that the evaluation runs", file=sys.stderr)
    progress = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    if args.dataset in ("3dpw", "panoptic", "agora", "keypoints", "photos"):
        from hmr_ros.tracking.tracker import TrackerConfig

        if not args.root:
            raise ValueError(f"--dataset {args.dataset} needs --root (see --help)")
        tracking = TrackerConfig() if args.tracking else None
        if args.dataset == "keypoints":
            from hmr_ros.eval.keypoint_protocol import evaluate_keypoints, format_keypoints

            result = evaluate_keypoints(config, args.root, tracking, progress)
            text = format_keypoints(result)
        elif args.dataset == "photos":
            from hmr_ros.eval.photo_protocol import evaluate_photos, format_photos

            result = evaluate_photos(config, args.root, tracking, progress)
            text = format_photos(result)
        elif args.dataset == "agora":
            from hmr_ros.eval.agora_protocol import evaluate_agora, format_agora

            if not args.images:
                raise ValueError("--dataset agora needs --images (the folder of the rendered images)")
            width, height = args.image_size
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
                json.dump(dataclasses.asdict(result), f, indent=1)  # nested dataclasses too (the photos' rows)
        return 0
    report = evaluate_checkpoint(config, args.split, tracking=args.tracking, shards=args.shards, progress=progress)
    print(format_report(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.json}")
    return 0
