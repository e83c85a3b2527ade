"""The fresh-machine demo: a clip rendered from the procedural body, then frames of a real street video, played to
the installed hmr_node; what it publishes is recorded, drawn and scored.

    python -m hmr_ros.ros.demo --out demo_out [--checkpoint synthetic|none|W.safetensors] [--real-checkpoint movenet]

Starts ``hmr_node`` (the colcon install) with config/hmr.yaml plus the few demo overrides printed at start,
publishes CameraInfo and one frame at a time (waiting for each result, so no frame is dropped), and writes:

- ``smpl/frame_NNNN.json``: the received /humans/smpl message;
- ``overlay/frame_NNNN.png``: each received mesh marker over the frame in the marker's own colour (as in RViz),
  outlined, labelled with its track id and score at its ROI; unmatched true people get a white "missed" box; a
  header says the frame, the weights and the found/missed/false counts (``recordings/overlay.py``);
- ``summary.json``: per frame the match of the published people with the ground truth (found, missed, false, per
  matched person MPJPE and root error), the totals, and ``real``: the street video's score against the teacher;
- ``real/overlay/frame_NNNN.png``: the real frames (``demo_real.py``; the node restarted with --real-checkpoint).

The clip's people wear muted clothing colours (:data:`CLOTHES_U8`) that no palette entry uses, so a published mesh
(palette colours, as in RViz) never looks like the person it covers.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from hmr_ros import topics
from hmr_ros.checkpoint import BUNDLED, read_config, resolve_checkpoint
from hmr_ros.eval.metrics import MATCH_FRACTION
from hmr_ros.palette import to_u8
from hmr_ros.recordings.overlay import draw_overlay
from hmr_ros.ros.demo_real import FIRST_FRAME, default_video, intrinsics, play_photos, play_real, read_frames
from hmr_ros.ros.demo_scoring import score_frame, totals, verdict
from hmr_ros.parameters import read_params_file
from hmr_ros.clips import Clip
from hmr_ros.sim.clips import make_clip

#: Clothing of the clip's people: navy, brown, charcoal, olive; each far from every palette (RViz) colour, the
#: palette's grey included, so a mesh never blends into the person it covers.
CLOTHES_U8 = ((52, 66, 112), (122, 82, 52), (66, 66, 72), (104, 98, 64))
DEFAULT_CHECKPOINT = "synthetic"
DEFAULT_REAL_CHECKPOINT = "movenet"
#: hand-drawn boxes of OpenCV's photos, beside the package in a source checkout (the demo runs from one)
DEFAULT_PHOTOS = Path(__file__).resolve().parents[2] / "test" / "data" / "photo_boxes.json"
#: Seconds without an answer after which the demo sends a clip frame again.
RETRY_S = 15.0
#: What a demo run writes into its output folder (and removes first): nothing else there is touched.
OUTPUTS = ("smpl/frame_*.json", "overlay/frame_*.png", "real/overlay/frame_*.png", "real/photos/*.png",
           "summary.json", "hmr_node.log",
           "hmr_node_real.log", "demo_overrides.yaml", "demo_real_overrides.yaml")
DEFAULT_INPUT_SIZE = 128  # the bundled weights' training size, when a checkpoint does not record its own

NOT_TRAINED = ("the network is UNTRAINED (--checkpoint none): its weights are random, so the people and meshes "
               "it published show the data path only, not real detections. The default, --checkpoint synthetic, "
               "runs the bundled weights; CHECKPOINT=/path/to/siam.safetensors make demo runs others.")


def clear_outputs(out: Path) -> int:
    """Remove what an earlier demo run wrote into ``out`` (only ``OUTPUTS``); returns how many files went."""
    removed = 0
    for pattern in OUTPUTS:
        for path in out.glob(pattern):
            if path.is_file():
                path.unlink()
                removed += 1
    return removed


def is_untrained(checkpoint: str | None) -> bool:
    return not checkpoint or checkpoint.lower() == "none"


def weights_label(checkpoint: str | None) -> str:
    """What the overlay header and the console call the weights."""
    if is_untrained(checkpoint):
        return "UNTRAINED"
    return f"trained weights: {checkpoint if checkpoint in BUNDLED else Path(checkpoint).name}"


def node_overrides(checkpoint: str | None) -> dict:
    """Demo settings on top of config/hmr.yaml.

    A trained checkpoint fixes the backbone and works best at its training size, so ``width`` and
    ``input_size`` come from its metadata (128 px, the bundled weights' size, when it records none); a small input
    keeps the 2-core CPU at well under a second per frame. An untrained network's flat detection heatmap (score
    ~0.1 everywhere) passes nobody at the default threshold, so the threshold is lowered to show the mesh path.

    Raises FileNotFoundError for a checkpoint that is not there (the node would stop with the same error after
    its slow start).
    """
    # 16 slots: the street video of the demo's second part has up to 10 people in view
    values = {"input_size": DEFAULT_INPUT_SIZE, "max_people": 16, "window": 9, "torch_threads": 0}
    if is_untrained(checkpoint):
        # explicit: the node's own default is the bundled weights; 4 slots, as every one of them passes the low
        # threshold and is drawn
        values.update(checkpoint="", score_threshold=0.05, max_people=4)
        return values
    path = resolve_checkpoint(checkpoint)
    if not path.is_file():
        hint = (f"the bundled '{checkpoint}' weights are not installed" if checkpoint in BUNDLED
                else "no such file")
        raise FileNotFoundError(f"checkpoint {path}: {hint}; --checkpoint none runs the untrained network")
    stored = read_config(path)
    values["input_size"] = int(stored.get("input_size", DEFAULT_INPUT_SIZE))
    if "width" in stored:
        values["width"] = stored["width"]
    # bundled names go through as names (the node resolves them); paths absolute, the node may run elsewhere
    values["checkpoint"] = checkpoint if checkpoint in BUNDLED else str(path.resolve())
    return values


def make_demo_clip(frames: int, size: int, people: int, seed: int = 0) -> Clip:
    """The demo's clip: ``make_clip`` people (what the bundled weights were trained on) in :data:`CLOTHES_U8`."""
    colors = [CLOTHES_U8[i % len(CLOTHES_U8)] for i in range(people)]
    return make_clip(num_frames=frames, width=size, height=size, num_people=people, fps=15.0, seed=seed,
                     colors=colors)


def stop_node(proc) -> None:
    """SIGINT (the node's clean shutdown), then kill after 20 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _parse_param(text: str) -> tuple[str, object]:
    import yaml

    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), yaml.safe_load(value)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run hmr_node on a synthetic clip, record and score its output.")
    ap.add_argument("--out", type=Path, default=Path("demo_out"))
    ap.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                    help="'synthetic' (bundled weights, default), a .safetensors path, or 'none' = untrained")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--size", type=int, default=384, help="square frame side in pixels")
    ap.add_argument("--people", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0, help="clip seed")
    ap.add_argument("--param", type=_parse_param, action="append", default=[], metavar="NAME=VALUE",
                    help="extra hmr_node parameter on top of the demo's (YAML value), e.g. backend=torch")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each result")
    ap.add_argument("--real-frames", type=int, default=30,
                    help="then this many frames of the real street video vtest.avi (0 = none), from --real-first")
    ap.add_argument("--real-first", type=int, default=FIRST_FRAME, help="first real frame (default 600: held out "
                                                                         "of training)")
    ap.add_argument("--video", type=Path, default=default_video(), help="the real video (default: the cached "
                                                                        "vtest.avi)")
    ap.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS,
                    help="after the video, the photos of this file (hand-drawn boxes, eval.photo_protocol's format; "
                         "default: the opencv-doc photos of test/data/photo_boxes.json when present) as still clips")
    ap.add_argument("--real-checkpoint", default=DEFAULT_REAL_CHECKPOINT,
                    help="weights for the real video and the photos (default 'movenet': SIAM-M, the bundled weights "
                         "on MoveNet's real-image backbone, which never saw this video; 'none' = untrained)")
    args = ap.parse_args(argv)
    checkpoint = "" if is_untrained(args.checkpoint) else args.checkpoint
    real_checkpoint = "" if is_untrained(args.real_checkpoint) else args.real_checkpoint
    try:
        overrides = {**node_overrides(checkpoint), **dict(args.param)}
        real_overrides = {**node_overrides(real_checkpoint), **dict(args.param)} if args.real_frames > 0 else {}
    except (FileNotFoundError, ValueError, OSError) as exc:
        print(f"[demo] FAILED: {exc}", file=sys.stderr)
        return 2
    weights = weights_label(checkpoint)

    os.environ.setdefault("ROS_DOMAIN_ID", str(40 + os.getpid() % 50))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    import rclpy
    import yaml
    from ament_index_python.packages import get_package_prefix, get_package_share_directory
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image
    from visualization_msgs.msg import Marker, MarkerArray

    import hmr_ros.ros  # noqa: F401  (generated messages from the install tree)
    from hmr_ros.msg import SMPLHumanArray
    from hmr_ros.ros.messages import smpl_array_to_dict

    out = args.out.resolve()
    clear_outputs(out)  # a run's folder holds that run only, never overlays left from an earlier one
    (out / "smpl").mkdir(parents=True, exist_ok=True)
    (out / "overlay").mkdir(parents=True, exist_ok=True)
    (out / "demo_overrides.yaml").write_text(yaml.safe_dump({"/**": {"ros__parameters": overrides}}))
    exe = Path(get_package_prefix("hmr_ros")) / "lib" / "hmr_ros" / "hmr_node"
    config = Path(get_package_share_directory("hmr_ros")) / "config" / "hmr.yaml"

    print(f"[demo] rendering a {args.frames}-frame {args.size}x{args.size} clip of {args.people} procedural people "
          f"(clothes in muted colours; published meshes are drawn in their RViz colours)", flush=True)
    clip = make_demo_clip(args.frames, args.size, args.people, args.seed)
    print(f"[demo] {weights}; starting {exe} with {config} + overrides {overrides}", flush=True)
    logs = []

    def start_node(overrides_file: Path, log_file: Path) -> subprocess.Popen:
        logs.append(open(log_file, "w"))
        return subprocess.Popen([str(exe), "--ros-args", "--params-file", str(config), "--params-file",
                                 str(overrides_file)], stdout=logs[-1], stderr=subprocess.STDOUT)

    running = {"proc": start_node(out / "demo_overrides.yaml", out / "hmr_node.log"), "log": out / "hmr_node.log"}
    rclpy.init()
    node = rclpy.create_node("hmr_demo_player")
    got_smpl, got_markers = {}, {}
    node.create_subscription(SMPLHumanArray, topics.SMPL,
                             lambda m: got_smpl.__setitem__((m.header.stamp.sec, m.header.stamp.nanosec), m), 10)

    def on_markers(m):
        if m.markers:
            h = m.markers[-1].header
            got_markers[(h.stamp.sec, h.stamp.nanosec)] = m
    node.create_subscription(MarkerArray, topics.MARKERS, on_markers, 10)
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    pub_img = node.create_publisher(Image, topics.IMAGE, qos)
    pub_info = node.create_publisher(CameraInfo, topics.CAMERA_INFO, qos)

    def spin_until(pred, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end and not pred():
            if running["proc"].poll() is not None:
                raise RuntimeError(f"hmr_node exited with {running['proc'].returncode}; see {running['log']}")
            rclpy.spin_once(node, timeout_sec=0.05)
        return pred()

    frame_id = "demo_camera_optical"
    summary = {"checkpoint": checkpoint or "none", "weights": weights, "untrained": not checkpoint,
               "overrides": overrides,
               "clip": {"frames": args.frames, "width": args.size, "height": args.size, "people": args.people,
                        "seed": args.seed, "fps": clip.fps, "clothes_rgb": [list(c) for c in CLOTHES_U8]},
               "match_fraction": MATCH_FRACTION, "frames": []}
    code = 0
    try:
        def camera_info(K: np.ndarray, width: int, height: int) -> CameraInfo:
            info = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
            info.header.frame_id = frame_id
            info.k = [float(v) for v in np.asarray(K).reshape(-1)]
            return info

        def image(rgb: np.ndarray, stamp: tuple[int, int]) -> Image:
            h, w = rgb.shape[:2]
            img = Image(height=h, width=w, encoding="rgb8", step=3 * w)
            img.header.frame_id = frame_id
            img.header.stamp.sec, img.header.stamp.nanosec = stamp
            img.data = np.ascontiguousarray(rgb).tobytes()
            return img

        def exchange(rgb: np.ndarray, info: CameraInfo, stamp: tuple[int, int], what: str):
            """Send one frame, wait for its /humans/smpl (and markers); (message, ADD markers by index, latency)."""
            t0 = time.monotonic()
            # markers come with every non-empty result (and with the DELETEALL after people vanish)
            answered = lambda: stamp in got_smpl and (stamp in got_markers or not got_smpl[stamp].humans)  # noqa: E731
            # send again when no answer comes in RETRY_S: one lost sample must not cost the whole timeout. (Had the
            # node got the frame and only been slow, the copy would enter its window twice; at ~0.2 s per frame here
            # a 15 s silence is a lost frame.)
            for attempt in range(max(1, math.ceil(args.timeout / RETRY_S))):
                if attempt:
                    print(f"[demo] {what}: no answer in {RETRY_S:g} s, sending it again", flush=True)
                pub_info.publish(info)
                pub_img.publish(image(rgb, stamp))
                if spin_until(answered, min(RETRY_S, args.timeout)):
                    break
            else:
                raise RuntimeError(f"no result for {what} within {args.timeout} s; see {out / 'hmr_node.log'}")
            latency = time.monotonic() - t0
            by_index = {}  # the node publishes one ADD marker per person, marker id = the person's index
            for mk in got_markers[stamp].markers if stamp in got_markers else []:
                if mk.action == Marker.ADD and mk.type == Marker.TRIANGLE_LIST and mk.points:
                    by_index[mk.id] = mk
            return got_smpl[stamp], by_index, latency

        def warm_up(rgb: np.ndarray, info: CameraInfo, first: int) -> None:
            """The node reads images best-effort: one sent while its side of the discovery is still settling is
            lost without a trace, and a clip frame sent twice would enter the temporal window twice. So a warm-up
            frame, stamped long before the clip, goes out until one comes back; the clip's first stamp then lies
            beyond max_gap_s, which resets the node's window and tracks, and the clip starts from a clean state (with
            the first, slow inference already done)."""
            if not spin_until(lambda: pub_img.get_subscription_count() > 0
                              and pub_info.get_subscription_count() > 0, 120.0):
                raise RuntimeError(f"hmr_node did not subscribe within 120 s; see {running['log']}")
            warm = [(first + k, 0) for k in range(int(args.timeout))]
            for k, stamp in enumerate(warm):
                pub_info.publish(info)
                pub_img.publish(image(rgb, stamp))
                if spin_until(lambda: any(s in got_smpl for s in warm[:k + 1]), 1.0):
                    return
            raise RuntimeError(f"hmr_node answered none of {len(warm)} warm-up frames; see {running['log']}")

        info = camera_info(clip.K, args.size, args.size)
        warm_up(clip.frames[0].rgb, info, 900_000)
        for i, frame in enumerate(clip.frames):
            stamp = (int(1_000_000 + frame.stamp), int(round((frame.stamp % 1) * 1e9)) % 1_000_000_000)
            msg, by_index, latency = exchange(frame.rgb, info, stamp, f"frame {i + 1}")
            (out / "smpl" / f"frame_{i:04d}.json").write_text(json.dumps(smpl_array_to_dict(msg), indent=1))
            pred = [np.array([[p.x, p.y, p.z] for p in h.joints], np.float64) for h in msg.humans]
            score = score_frame(pred, frame.people, clip.K)
            matched = {m["person"]: m for m in score["matches"]}
            people, meshes, colors, labels, rois = [], [], [], [], []
            for k, h in enumerate(msg.humans):
                mk = by_index.get(k)
                color = to_u8((mk.color.r, mk.color.g, mk.color.b)) if mk is not None else (255, 255, 255)
                roi = (int(h.roi.x_offset), int(h.roi.y_offset), int(h.roi.width), int(h.roi.height))
                name = h.id or f"#{k}"
                label = f"{name} {h.score:.2f}" + ("" if k in matched else " false")
                people.append({"index": k, "id": h.id, "score": round(float(h.score), 3), "color": list(color),
                               "roi": list(roi), "mesh": mk is not None, "label": label,
                               "track_id": matched[k]["track_id"] if k in matched else None})
                if mk is not None:
                    meshes.append(np.array([[p.x, p.y, p.z] for p in mk.points], np.float64))
                    colors.append(color)
                    labels.append(label)
                    rois.append(roi)
            missed_boxes = [p.box for p in frame.people if int(p.track_id) in score["missed_track_ids"]]
            header = [f"frame {i + 1}/{len(clip.frames)}", weights,
                      f"found {score['found']}  missed {score['missed']}  false {score['false']}"]
            overlay, label_boxes = draw_overlay(frame.rgb, clip.K, meshes, colors, labels, rois, missed_boxes,
                                                header)
            drawn = iter(label_boxes)
            for person in people:
                person["label_box"] = list(next(drawn)) if person["mesh"] else None
            cv2.imwrite(str(out / "overlay" / f"frame_{i:04d}.png"), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
            summary["frames"].append({"index": i, "stamp": list(stamp), "published": len(msg.humans),
                                      "ground_truth_people": len(frame.people), **score, "people": people,
                                      "latency_s": round(latency, 3)})
            errs = ", ".join(f"{m['mpjpe_mm']:.0f} mm" for m in score["matches"])
            print(f"[demo] frame {i + 1}/{len(clip.frames)}: {len(msg.humans)} published, {score['found']} found, "
                  f"{score['missed']} missed, {score['false']} false" + (f" (MPJPE {errs})" if errs else "")
                  + f", {latency:.2f} s", flush=True)
        if args.real_frames > 0:
            frames = read_frames(args.video, args.real_first, args.real_frames)
            (out / "demo_real_overrides.yaml").write_text(yaml.safe_dump({"/**": {"ros__parameters": real_overrides}}))
            stop_node(running["proc"])
            print(f"[demo] real people: {weights_label(real_checkpoint)}; restarting hmr_node with overrides "
                  f"{real_overrides}", flush=True)
            running.update(proc=start_node(out / "demo_real_overrides.yaml", out / "hmr_node_real.log"),
                           log=out / "hmr_node_real.log")
            warm_up(frames[0], camera_info(intrinsics(frames[0]), frames[0].shape[1], frames[0].shape[0]), 1_900_000)
            summary["real"] = play_real(exchange, camera_info, out, weights_label(real_checkpoint), frames,
                                        args.real_first, args.video)
            if args.photos is not None and args.photos.is_file():
                summary["photos"] = play_photos(exchange, camera_info, out, weights_label(real_checkpoint),
                                                args.photos)
    except (RuntimeError, ValueError) as exc:
        print(f"[demo] FAILED: {exc}", file=sys.stderr)
        code = 1
    finally:
        node.destroy_node()
        rclpy.shutdown()
        stop_node(running["proc"])
        for log in logs:
            log.close()

    summary["totals"] = t = totals(summary["frames"])
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"[demo] output: {out}/smpl/*.json (received /humans/smpl), {out}/overlay/*.png (received mesh markers "
          f"in their RViz colours over the frames), {out}/summary.json, {out}/hmr_node.log")
    if t["frames"]:
        print(f"[demo] {t['published']} people published over {t['frames']} frames, latency per frame "
              f"{t['latency_s_mean']:.2f} s mean / {t['latency_s_max']:.2f} s max")
        params = {**read_params_file(config), **overrides}
        hits = int(params.get("tracking_min_hits", 1))
        if params.get("tracking", False) and not params.get("tracking_output_tentative", False) and hits > 1:
            print(f"[demo] a new track is published from its detection number {hits} (tracking_min_hits), so the "
                  f"first {hits - 1} frames miss everyone by design")
    if not checkpoint:
        print(f"[demo] NOTE: {NOT_TRAINED}")
    if t["frames"]:
        print(verdict(t), flush=True)
    if "real" in summary:
        r = summary["real"]
        print(f"[demo] real video: {r['matched']} of the {r['teacher_people']} people the teacher labels were found "
              f"(recall {r['recall']:.2f}), {r['published'] - r['matched']} published people nobody labels "
              f"(precision {r['precision']:.2f}), PCK@0.5 {r['pck']:.2f}; overlays in {out}/real/overlay/", flush=True)
    if "photos" in summary:
        r = summary["photos"]
        print(f"[demo] photos of other scenes: {r['found']} of the {r['people']} people drawn by hand found, "
              f"{r['false']} false; overlays in {out}/real/photos/", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
