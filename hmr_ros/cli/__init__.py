"""Command line: ``python -m hmr_ros <command>``.

One module per command, each with ``add_parser(sub)`` and ``run(args) -> exit code``:

    info            parameter counts per module and GFLOP per frame
    export          frame_net.onnx + temporal_net.onnx, with the ONNX Runtime parity check
    make-body       write the procedural body model in SMPL's .npz layout
    build-engine    build (or verify) the cached TensorRT engines ahead of time
    check-backends  every available backend vs PyTorch FP32: vertex/joint error (mm) and latency
    train           train SIAM on procedural synthetic clips and write a .safetensors checkpoint
    train-temporal  train the temporal network on cached tokens of a frozen frame network
    params          hmr_node's parameters as config/hmr.yaml or the README table
    render-shards   render varied synthetic clips once into compressed shards (train / held-out bench split)
    evaluate        score a checkpoint on the synthetic benchmark: MPJPE/PA-MPJPE/PVE/Accel/F1 + baselines
    convert-agora   AGORA's pickled ground-truth tables -> npz (once, on files you trust)
    cache           list, size or clean the ONNX export / TensorRT engine cache
    run             hmr_ros on a video, an image folder or a rosbag2: smpl.jsonl/.npz, overlay.mp4, a result bag
    label           pseudo-labels of a real recording by the BlazePose keypoint teacher
    adapt           label a recording, fine-tune on it, before/after on its held-out tail: your camera, learnt
"""
from __future__ import annotations

import argparse
import sys

from hmr_ros.cli import info, export, make_body, build_engine, check_backends, train
from hmr_ros.cli import cache
from hmr_ros.cli import params
from hmr_ros.cli import evaluate
from hmr_ros.cli import render_shards
from hmr_ros.cli import train_temporal
from hmr_ros.cli import run
from hmr_ros.cli import convert_agora
from hmr_ros.cli import label
from hmr_ros.cli import adapt

COMMANDS = (run, info, export, make_body, build_engine, check_backends, train, params, evaluate, render_shards, cache,
            train_temporal, convert_agora, label, adapt)


DESCRIPTION = "hmr_ros without ROS: run on recordings, check and build backends, train and evaluate."
EXAMPLES = """examples:
  python -m hmr_ros run walk.mp4 --out results/              # a video, image folder or rosbag2 -> SMPL + overlay
  python -m hmr_ros check-backends --checkpoint synthetic    # every backend here against PyTorch FP32
  python -m hmr_ros build-engine --target sm86,sm89,sm120    # TensorRT engines for RTX GPUs, on any machine
  python -m hmr_ros evaluate --checkpoint synthetic          # accuracy on the synthetic benchmark
  python -m hmr_ros <command> --help                         # the options of one command
"""


def main(argv: list[str] | None = None) -> int:
    def formatter(prog):  # one line per command on a 110-column terminal
        return argparse.RawDescriptionHelpFormatter(prog, max_help_position=18, width=110)

    parser = argparse.ArgumentParser(prog="python -m hmr_ros", description=DESCRIPTION, epilog=EXAMPLES,
                                     formatter_class=formatter)
    # one line per command (its help); metavar keeps argparse from also printing the bare list of names
    sub = parser.add_subparsers(dest="command", required=True, title="commands", metavar="<command>")
    for command in COMMANDS:
        command.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
