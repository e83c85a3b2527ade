"""``python -m hmr_ros run INPUT --out DIR``: hmr_ros on a recording, no ROS install needed.

INPUT is a video file (anything OpenCV reads), a folder of images (natural order; --fps sets the stamps, default
30), or a rosbag2 (a directory, .mcap or .db3; sensor_msgs/Image or CompressedImage, topic chosen with
--image-topic when there are several; K from the bag's CameraInfo). Intrinsics otherwise come from --camera-info
(a ROS camera_calibration YAML), else the documented default (focal length = image diagonal).

DIR receives smpl.jsonl (one line per frame), smpl.npz (the same as arrays), overlay.mp4 (meshes coloured per
track id, ids, frame numbers; one video frame per input frame) and, with --bag-out, bag/ (MCAP: /humans/smpl and
/humans/smpl/markers, for RViz or Foxglove beside the input). A frame that cannot be used is reported and
skipped. Ctrl-C finishes the current frame and closes every file valid. In ``mode: centered`` the outputs lag
window // 2 frames, and the last window // 2 frames of the recording get none (they would need later frames).

Exit code: 0 every frame processed; 1 some frames were skipped (listed); 2 nothing could start (bad input or
options); 130 interrupted by Ctrl-C (the outputs hold the frames done).
"""
from __future__ import annotations

import argparse
import shutil
import signal
import sys
from pathlib import Path

from hmr_ros.cli.common import NETWORK_FLAGS
from hmr_ros.parameters import add_cli_flags

OUTPUTS = ("smpl.jsonl", "smpl.npz", "overlay.mp4", "bag")
RUN_FLAGS = NETWORK_FLAGS + ("score_threshold", "backend", "precision", "device", "engine_cache_dir", "tracking",
                             "marker_face_stride")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run on a video, an image folder or a rosbag2; write SMPL results, an overlay "
                                   "video and optionally a result bag", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="video file, image folder, or rosbag2 (directory, .mcap, .db3)")
    p.add_argument("--out", required=True, help="output folder (created; earlier outputs there are replaced)")
    # The node's parameters, from the same declaration: a recording gives what the node would publish with the
    # same settings. Flags override --params-file, which overrides the node's defaults.
    p.add_argument("--params-file", default=None, help="the node's parameters YAML (e.g. config/hmr.yaml or yours)")
    add_cli_flags(p, RUN_FLAGS, **{name: argparse.SUPPRESS for name in RUN_FLAGS})
    p.add_argument("--fps", type=float, default=None, help="frame rate of an image folder (default 30) or to "
                                                            "override a video's")
    p.add_argument("--frame-id", default="camera", help="frame_id of a video's or folder's frames (bags carry theirs)")
    p.add_argument("--camera-info", default=None, help="ROS camera_calibration YAML with the intrinsics")
    p.add_argument("--image-topic", default=None, help="bag topic of the images (default: the only image topic)")
    p.add_argument("--camera-info-topic", default=None, help="bag topic of the CameraInfo (default: the one beside "
                                                             "the image topic)")
    p.add_argument("--bag-out", action="store_true", help="also write the results as a rosbag2 (MCAP) in DIR/bag")
    p.add_argument("--no-overlay", action="store_true", help="skip overlay.mp4 (rendering is the slowest output)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


class _Interrupt:
    """First Ctrl-C: finish the current frame and stop; a second one stops at once."""

    def __init__(self):
        self.requested = False

    def __call__(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupted: finishing the current frame and closing the outputs (Ctrl-C again to abort)",
              file=sys.stderr)


def _progress(quiet: bool, every_s: float = 5.0):
    """A bar redrawn in place on a terminal; where stderr is a log or a pipe (CI, systemd), one plain line every
    ``every_s`` seconds and at the end, so logs get no carriage returns."""
    tty = sys.stderr.isatty()
    last = [0.0]

    def show(summary, total) -> None:
        if quiet:
            return
        rate = summary.frames / summary.seconds if summary.seconds > 0 else 0.0
        done = total is not None and summary.frames >= total
        if not tty and not done and summary.seconds - last[0] < every_s:
            return
        last[0] = summary.seconds
        if total:
            eta = (total - summary.frames) / rate if rate > 0 else float("nan")
            text = f"{summary.frames}/{total} frames  {rate:.1f} frames/s  ETA {eta:.0f} s"
            if tty:
                text = f"[{'#' * int(min(summary.frames / total, 1.0) * 30):<30}] {text}"
        else:
            text = f"{summary.frames} frames  {rate:.1f} frames/s"
        if summary.skipped:
            text += f"  ({len(summary.skipped)} skipped)"
        print(f"\r{text}" if tty else text, end="" if tty else "\n", file=sys.stderr, flush=True)

    return show


def run(args) -> int:
    from hmr_ros.recordings.camera_info import read_camera_yaml
    from hmr_ros.recordings.sources import RecordingError, open_source

    try:
        camera = read_camera_yaml(args.camera_info) if args.camera_info else None
        source = open_source(args.input, fps=args.fps, frame_id=args.frame_id, image_topic=args.image_topic,
                             camera_info_topic=args.camera_info_topic)
    except (RecordingError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with source:
        return _run(args, source, camera)


def _run(args, source, camera) -> int:
    from hmr_ros.parameters import SPECS, defaults, make_config, read_params_file
    from hmr_ros.pipeline import Pipeline
    from hmr_ros.recordings.outputs import ArraysNpz, JsonLines, OverlayVideo
    from hmr_ros.recordings.runner import run_recording

    out = Path(args.out)
    try:
        values = defaults()
        if args.params_file:
            values.update(read_params_file(args.params_file))
        values.update({name: getattr(args, name) for name in SPECS if hasattr(args, name)})
        config = make_config(values)
        pipeline = Pipeline(config.pipeline_config())
        out.mkdir(parents=True, exist_ok=True)
        for name in OUTPUTS:  # an earlier run's results must not mix with this one's
            old = out / name
            shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    est = pipeline.estimator
    fallback = args.camera_info or "the default (focal length = image diagonal)"
    intrinsics = f"the bag's CameraInfo, else {fallback}" if getattr(source, "info_topic", None) else fallback
    print(f"{source.description}\nnetwork: {est.backend.describe()}, weights {config.checkpoint or 'UNTRAINED'}; "
          f"intrinsics: {intrinsics}", file=sys.stderr)
    sinks = [JsonLines(out / "smpl.jsonl"), ArraysNpz(out / "smpl.npz")]
    if not args.no_overlay:
        sinks.append(OverlayVideo(out / "overlay.mp4", est.faces, getattr(source, "fps", None) or 30.0))
    if args.bag_out:
        from hmr_ros.recordings.bag_writer import ResultBag

        sinks.append(ResultBag(out / "bag", est.faces, est.body_model_name, config.marker_face_stride))
    interrupt = _Interrupt()
    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        summary = run_recording(source, pipeline, sinks, camera, progress=_progress(args.quiet),
                                stop=lambda: interrupt.requested)
    finally:
        signal.signal(signal.SIGINT, previous)
        for sink in sinks:
            sink.close()
    if sys.stderr.isatty() and not args.quiet:
        print(file=sys.stderr)  # end the progress bar's line
    for kind, (count, message) in summary.notes.items():
        print(f"note [{kind}] {message} ({count} {'frame' if count == 1 else 'frames'})", file=sys.stderr)
    for index, reason in summary.skipped[:20]:
        print(f"skipped frame {index}: {reason}", file=sys.stderr)
    if len(summary.skipped) > 20:
        print(f"... and {len(summary.skipped) - 20} more skipped frames", file=sys.stderr)
    rate = summary.processed / summary.seconds if summary.seconds else 0.0
    print(f"{summary.processed}/{summary.frames} frames processed in {summary.seconds:.1f} s ({rate:.1f} frames/s), "
          f"{summary.people} {'person' if summary.people == 1 else 'people'} written, {len(summary.skipped)} skipped, "
          f"{summary.resets} temporal resets; "
          f"results in {out}/ ({', '.join(n for n in OUTPUTS if (out / n).exists())})", file=sys.stderr)
    if summary.interrupted:
        return 130
    return 1 if summary.skipped else 0
