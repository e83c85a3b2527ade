"""``python -m hmr_ros label INPUT --out DIR``: pseudo-labels of a real recording by the BlazePose teacher.

INPUT is anything ``run`` reads: a video, an image folder, a rosbag2. DIR receives manifest.json, images/,
labels.jsonl (per frame and person: the 33 landmarks, the COCO-17 subset, world landmarks in metres, visibility,
box, mask summary, track id; the format is in ``hmr_ros/datasets/pseudo_labels.py`` and docs/training.md),
coco.json and overlay.mp4. The teacher looks in tiles at several scales, around last frame's people and, with
--siam CHECKPOINT, around that network's detections. People with fewer than --min-joints confident body joints,
or whose world skeleton is no human's, are dropped. Frames from --holdout-from on are marked held out: the
training never reads them, the keypoint evaluation does.

The model files come from ``bash scripts/fetch_teacher.sh`` (no mediapipe install). Ctrl-C finishes the current
frame; running the same command again resumes where it stopped (--restart starts over). Exit code: 0 done; 1 some
frames were skipped or nobody was found; 2 nothing could start; 130 interrupted (DIR holds the frames done).
"""
from __future__ import annotations

import argparse
import shutil
import signal
import sys
from pathlib import Path

from hmr_ros.cli.run import _Interrupt

#: The share of a recording held out when --holdout-from is not given (its tail).
HOLDOUT_SHARE = 0.25


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("label", help="pseudo-label people in a video, image folder or rosbag2 with the BlazePose "
                                     "teacher (training and evaluation on real images)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="video file, image folder, or rosbag2 (directory, .mcap, .db3)")
    add_label_flags(p)
    p.add_argument("--restart", action="store_true", help="start over instead of resuming what DIR holds")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def add_label_flags(p: argparse.ArgumentParser) -> None:
    """The labelling flags, shared with ``adapt``."""
    p.add_argument("--out", required=True, help="label directory (created; resumed when it holds a run)")
    p.add_argument("--teacher", choices=("lite", "full", "heavy"), default="full",
                   help="BlazePose landmark model (default full; heavy is best and ~4x slower)")
    p.add_argument("--teacher-dir", default=None, help="folder of the .tflite files (default: the cache that "
                                                       "scripts/fetch_teacher.sh fills)")
    p.add_argument("--proposals", choices=("movenet", "tiles"), default="movenet",
                   help="where the teacher looks: 'movenet' (default, teacher version 2): around the people MoveNet "
                        "MultiPose finds in the whole frame, one label per person, tiles only where it finds nobody "
                        "(needs bash scripts/fetch_backbone.sh); 'tiles': tiles at several scales (version 1)")
    p.add_argument("--movenet-size", type=int, default=384,
                   help="MoveNet's input side for --proposals movenet (multiple of 32; default 384)")
    p.add_argument("--tiles", default="128,192,288,432",
                   help="proposal tile sides in pixels (default 128,192,288,432: the detector finds people who fill "
                        "a good part of a tile)")
    p.add_argument("--holdout-from", type=int, default=None, metavar="FRAME",
                   help=f"first held-out frame (default: the last {HOLDOUT_SHARE:.0%}% of a recording of known "
                        "length)")
    p.add_argument("--min-joints", type=int, default=6, help="confident body joints (of 12) to keep a person")
    p.add_argument("--siam", default=None, metavar="CHECKPOINT",
                   help="also look around this network's detections (a bundled name or a .safetensors)")
    p.add_argument("--max-frames", type=int, default=None, help="label only the first N frames")
    p.add_argument("--no-overlay", action="store_true", help="skip overlay.mp4")
    p.add_argument("--threads", type=int, default=1, help="LiteRT threads per model (default 1)")
    p.add_argument("--fps", type=float, default=None, help="frame rate of an image folder or to override a video's")
    p.add_argument("--image-topic", default=None, help="bag topic of the images (default: the only image topic)")


def _progress(quiet: bool):
    tty = sys.stderr.isatty()
    last = [0.0]

    def show(summary, total) -> None:
        if quiet or (not tty and summary.seconds - last[0] < 10.0):
            return
        last[0] = summary.seconds
        done = summary.frames + summary.resumed
        rate = summary.frames / summary.seconds if summary.seconds > 0 else 0.0
        text = f"{done}{'/' + str(total) if total else ''} frames  {rate:.2f} frames/s  {summary.people} people"
        if total and rate > 0:
            text += f"  ETA {(total - done) / rate:.0f} s"
        print(f"\r{text}" if tty else text, end="" if tty else "\n", file=sys.stderr, flush=True)

    return show


def siam_proposer(checkpoint: str):
    """rgb -> (N, 4) boxes of the network's detections (single frames, default intrinsics)."""
    from hmr_ros.estimator import Estimator, EstimatorConfig

    est = Estimator(EstimatorConfig.from_checkpoint(checkpoint, window=1))
    clock = [0.0]

    def propose(rgb):
        import numpy as np

        clock[0] += 1.0
        bodies = est.step(rgb, clock[0])
        return np.asarray([b.box for b in bodies], np.float64).reshape(-1, 4)

    return propose


def label_input(args, *, quiet: bool = False):
    """Label ``args.input`` into ``args.out`` as the flags say. Returns (exit code, LabelSummary or None)."""
    from hmr_ros.recordings.label import label_recording
    from hmr_ros.recordings.sources import RecordingError, open_source
    from hmr_ros.pretrained import PretrainedMissing
    from hmr_ros.teacher import BlazePose, TeacherUnavailable

    try:
        tiles = tuple(int(t) for t in args.tiles.split(","))
        if not tiles or min(tiles) < 32:
            raise ValueError
    except ValueError:
        print(f"error: --tiles {args.tiles!r}: expected pixel sides >= 32, e.g. 192,288,432", file=sys.stderr)
        return 2, None
    try:
        proposer = None
        if getattr(args, "proposals", "tiles") == "movenet":
            from hmr_ros.teacher.movenet_people import MoveNetPeople

            proposer = MoveNetPeople(args.movenet_size)
        teacher = BlazePose(args.teacher_dir, args.teacher, threads=args.threads, tile_sizes=tiles,
                            proposer=proposer)
        source = open_source(args.input, fps=args.fps, image_topic=args.image_topic)
        propose = siam_proposer(args.siam) if args.siam else None
    except (TeacherUnavailable, PretrainedMissing, RecordingError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2, None
    out = Path(args.out)
    if getattr(args, "restart", False) and out.exists():
        shutil.rmtree(out)
    holdout = args.holdout_from
    if holdout is None:
        total = source.frame_count
        holdout = int(round(total * (1 - HOLDOUT_SHARE))) if total else 1 << 62
    interrupt = _Interrupt()
    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        with source:
            print(f"{source.description}\nteacher: {teacher.name} ({teacher.version}), tiles {tiles}; held out from "
                  f"frame {holdout if holdout < 1 << 62 else 'none'}", file=sys.stderr)
            summary = label_recording(source, teacher, out, holdout, min_joints=args.min_joints, propose=propose,
                                      overlay=not args.no_overlay, max_frames=args.max_frames,
                                      progress=_progress(quiet), stop=lambda: interrupt.requested)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2, None
    finally:
        signal.signal(signal.SIGINT, previous)
    if sys.stderr.isatty() and not quiet:
        print(file=sys.stderr)
    for index, reason in summary.skipped[:20]:
        print(f"skipped frame {index}: {reason}", file=sys.stderr)
    print(f"{summary.frames} frames labelled in {summary.seconds:.0f} s ({summary.resumed} resumed), "
          f"{summary.people} people, {summary.dropped} teacher detections dropped; labels in {out}/", file=sys.stderr)
    if summary.interrupted:
        print(f"interrupted: run the same command again to resume", file=sys.stderr)
        return 130, summary
    if summary.people == 0 and summary.resumed == 0:
        print(f"error: the teacher found nobody in {args.input}: nothing to train or evaluate on", file=sys.stderr)
        return 1, summary
    return (1 if summary.skipped else 0), summary


def run(args) -> int:
    return label_input(args, quiet=args.quiet)[0]
