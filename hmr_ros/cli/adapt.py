"""``python -m hmr_ros adapt RECORDING --out my.safetensors``: teach the network your camera, in one command.

1. **label**: the BlazePose teacher labels RECORDING (``label``; its tail, --holdout-from on, is held out);
2. **before**: the starting weights (--checkpoint, default ``synthetic``) are scored on the held-out tail
   (``evaluate --dataset keypoints``);
3. **fine-tune**: from those weights, on the labelled frames mixed with synthetic clips (--shards, else a few
   rendered into the work folder) so the network keeps metric SMPL from the synthetic people while it learns the
   real ones' look from the teacher;
4. **after**: the new weights on the same tail, and a before/after table (printed, and in WORK/report.md).

Everything lives in WORK (default: OUT without .safetensors + ``.adapt/``): labels/, shards/, the training state,
before.json and after.json. Running the same command again resumes whatever was interrupted (labelling, the
training from its last save). OUT is written in float16, ready for the node's ``checkpoint:`` parameter.
Exit code: 0 done; 2 nothing to learn from (unreadable recording, nobody found) or bad options; 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

from hmr_ros.cli.label import add_label_flags

#: Synthetic clips rendered into the work folder when --shards is not given (8 frames each, ~3 s per clip here).
SYNTHETIC_CLIPS = 24


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("adapt", help="label a recording with the teacher, fine-tune on it (+ synthetic), and show "
                                     "before/after on its held-out tail", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recording", help="video file, image folder, or rosbag2 from your camera")
    add_label_flags(p)
    p.set_defaults(out=None)
    for action in p._actions:  # --out is the weights here; the labels go to WORK/labels
        if action.dest == "out":
            action.help = "the adapted weights (.safetensors, float16)"
    p.add_argument("--work", default=None, help="work folder (default: OUT without .safetensors + .adapt)")
    p.add_argument("--checkpoint", default="synthetic", help="weights to start from (default: synthetic)")
    p.add_argument("--input-size", type=int, default=None,
                   help="network input side in pixels (default: the checkpoint's; at least 256 for people 60 px tall "
                        "in a 768 px frame, who are 20 px there; the node must then run that input_size too)")
    p.add_argument("--window", type=int, default=3, help="training window (frames per clip; default 3)")
    p.add_argument("--steps", type=int, default=300, help="optimiser steps (default 300)")
    p.add_argument("--batch-clips", type=int, default=2, help="clips per step (default 2)")
    p.add_argument("--lr", type=float, default=2e-4, help="peak learning rate (default 2e-4)")
    p.add_argument("--real-weight", type=float, default=3.0,
                   help="share of labelled clips against synthetic ones (default 3: three real per synthetic)")
    p.add_argument("--shards", default=None, help="synthetic clips to mix in (render-shards' OUT/train)")
    p.add_argument("--eval-window", type=int, default=9, help="window T of the before/after evaluation (default 9)")
    p.add_argument("--device", default="auto", help="torch device (auto: cuda if available)")
    p.add_argument("--save-every", type=int, default=25, help="save the training state every N steps")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _evaluate(path: Path, checkpoint: str, labels: Path, input_size: int, window: int, device: str, quiet: bool):
    """Keypoint metrics of ``checkpoint`` on the held-out tail, cached in ``path`` (a resumed adapt skips it)."""
    from dataclasses import asdict

    from hmr_ros.estimator import EstimatorConfig
    from hmr_ros.eval.keypoint_protocol import KeypointResult, evaluate_keypoints

    if path.is_file():
        return KeypointResult(**json.loads(path.read_text()))
    config = EstimatorConfig.from_checkpoint(checkpoint, window=window, input_size=input_size, device=device,
                                             backend="torch")
    progress = None if quiet else (lambda line: print(f"  evaluating {checkpoint}: {line}", file=sys.stderr))
    result = evaluate_keypoints(config, labels, progress=progress)
    path.write_text(json.dumps(asdict(result), indent=1))
    return result


def report(before, after, start: str, out: str) -> str:
    rows = [("recall", "recall", 3), ("precision", "precision", 3), ("F1", "f1", 3), ("PCK@0.5", "pck", 3),
            ("2D jitter (px/frame²)", "jitter_px", 2), ("predictions", "predicted", 0), ("matched", "matched", 0)]
    lines = [f"held-out frames: {after.source}", f"| | before ({start}) | after ({out}) |", "|---|---|---|"]
    for name, key, digits in rows:
        lines.append(f"| {name} | {getattr(before, key):.{digits}f} | {getattr(after, key):.{digits}f} |")
    return "\n".join(lines)


def run(args) -> int:
    try:
        return _adapt(args)
    except KeyboardInterrupt:
        print(f"\ninterrupted: run the same command again to resume (labels are kept frame by frame, the training "
              f"from its last save every {args.save_every} steps)", file=sys.stderr)
        return 130


def _adapt(args) -> int:
    import dataclasses

    import torch

    from hmr_ros.checkpoint import load_checkpoint, save_checkpoint
    from hmr_ros.cli.label import label_input
    from hmr_ros.datasets.clips import sources_from_specs
    from hmr_ros.training.mixture import mixture_batches
    from hmr_ros.datasets.pseudo_labels import PseudoLabels
    from hmr_ros.estimator import EstimatorConfig
    from hmr_ros.model.siam import SIAM
    from hmr_ros.smpl.body_model import load_body_model
    from hmr_ros.training.loop import TrainConfig, train
    from hmr_ros.training.train_state import train_state_path

    if not args.out or not args.out.endswith(".safetensors"):
        print("error: --out must name the adapted weights, ending in .safetensors", file=sys.stderr)
        return 2
    out = Path(args.out)
    work = Path(args.work) if args.work else out.with_name(out.stem + ".adapt")
    work.mkdir(parents=True, exist_ok=True)
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else \
        ("cpu" if args.device == "auto" else args.device)
    labels_dir = work / "labels"
    if args.input_size is None:
        args.input_size = EstimatorConfig.from_checkpoint(args.checkpoint).network.input_size

    print(f"[1/4] labelling {args.recording} -> {labels_dir}", file=sys.stderr)
    code, _ = label_input(SimpleNamespace(**{**vars(args), "input": args.recording, "out": str(labels_dir)}),
                          quiet=args.quiet)
    if code in (2, 130):
        return code
    try:
        labels = PseudoLabels(labels_dir)
        if not any(f.people for f in labels.train_frames):
            raise ValueError(f"the teacher found nobody in the training part of {args.recording} (frames before "
                             f"{labels.holdout_from}): nothing to learn from")
        if not any(f.people for f in labels.heldout_frames):
            raise ValueError(f"the held-out tail of {args.recording} (from frame {labels.holdout_from}) has nobody "
                             "labelled: choose --holdout-from so that people walk there too")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    print(f"[2/4] scoring {args.checkpoint} on the held-out tail", file=sys.stderr)
    before = _evaluate(work / "before.json", args.checkpoint, labels_dir, args.input_size, args.eval_window, device,
                       args.quiet)

    print(f"[3/4] fine-tuning {args.steps} steps on {len(labels.train_frames)} labelled frames + synthetic clips",
          file=sys.stderr)
    shards = args.shards
    if shards is None:
        from hmr_ros.sim.shards import clip_seeds, write_shards

        shards = work / "shards"
        have = len(list(shards.glob("clip_*.npz")))
        if have < SYNTHETIC_CLIPS:
            write_shards(shards, clip_seeds("train", SYNTHETIC_CLIPS - have, 0, have), start_index=have,
                         num_frames=8)
    base = EstimatorConfig.from_checkpoint(args.checkpoint).network
    network = dataclasses.replace(base, input_size=args.input_size, window=args.window, max_people=16)
    body = load_body_model("procedural")
    sources = sources_from_specs([f"pseudo={labels_dir}:{args.real_weight}", f"shards={shards}:1"], body,
                                 network.window)
    state = work / "adapt.safetensors"
    resume = train_state_path(state).is_file()
    # a pretrained real-image backbone stays as published: a few hundred labelled frames would only narrow it; and
    # bfloat16 autocast runs MoveNet's depthwise convolutions ~10x slower than float32 on CPUs without native bf16
    movenet = network.backbone == "movenet"
    train(network, TrainConfig(steps=args.steps, batch_clips=args.batch_clips, lr=args.lr, device=device, seed=0,
          out_path=state, log_every=25, init_checkpoint=None if resume else args.checkpoint, resume=resume,
          save_every=args.save_every, progress=not args.quiet and sys.stderr.isatty(), freeze_backbone=movenet,
          amp=not (movenet and device == "cpu")), body_model=body,
          clip_stream=lambda clips, seed: mixture_batches(sources, network, clips, seed, body, 0),
          log=lambda line: print(line, file=sys.stderr))
    model = SIAM(network)
    load_checkpoint(model, state)
    save_checkpoint(model, out, dtype=torch.float16)
    (work / "after.json").unlink(missing_ok=True)

    print(f"[4/4] scoring {out} on the held-out tail", file=sys.stderr)
    after = _evaluate(work / "after.json", str(out), labels_dir, args.input_size, args.eval_window, device,
                      args.quiet)
    text = report(before, after, args.checkpoint, str(out))
    (work / "report.md").write_text(text + "\n")
    print(text)
    print(f"\nwrote {out}; use it with the node's parameter checkpoint: {out.resolve()} (input_size: "
          f"{args.input_size})", file=sys.stderr)
    return 0
