"""The fresh-machine demo: play a clip rendered from the procedural body to the installed hmr_node and record
what it publishes.

    python -m hmr_ros.ros.demo --out demo_out [--frames 12] [--checkpoint weights.safetensors]

Starts ``hmr_node`` (the colcon install) with config/hmr.yaml plus the few demo overrides printed at start,
publishes CameraInfo and one frame at a time (waiting for each result, so no frame is dropped), and writes:
``smpl/frame_NNNN.json`` (the received /humans/smpl message), ``overlay/frame_NNNN.png`` (the received mesh
markers drawn over the frame) and ``summary.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

NOT_TRAINED = ("the network is UNTRAINED (no checkpoint given): its weights are random, so the people and meshes "
               "it published show the data path only, not real detections. Give trained weights with "
               "CHECKPOINT=/path/to/siam.safetensors make demo.")


def _overrides(checkpoint: str) -> dict:
    """Demo settings on top of config/hmr.yaml: a smaller input for CPU speed; an untrained network's flat
    detection heatmap (score 0.1 everywhere) passes nobody at the default threshold, so it is lowered to show
    the mesh path."""
    values = {"input_size": 256, "max_people": 3, "torch_threads": 0}
    if checkpoint:
        values["checkpoint"] = checkpoint
    else:
        values["score_threshold"] = 0.05
    return values


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run hmr_node on a synthetic clip and record its output.")
    ap.add_argument("--out", type=Path, default=Path("demo_out"))
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--size", type=int, default=384, help="square frame side in pixels")
    ap.add_argument("--checkpoint", default="", help="trained weights (.safetensors); empty = untrained")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each result")
    args = ap.parse_args(argv)

    os.environ.setdefault("ROS_DOMAIN_ID", str(40 + os.getpid() % 50))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    import rclpy
    import yaml
    from ament_index_python.packages import get_package_prefix, get_package_share_directory
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image
    from visualization_msgs.msg import MarkerArray

    import hmr_ros.ros  # noqa: F401  (generated messages from the install tree)
    from hmr_ros.msg import SMPLHumanArray
    from hmr_ros.sim.render import render_meshes
    from hmr_ros.ros.messages import smpl_array_to_dict
    from hmr_ros.sim.clips import make_clip

    out = args.out.resolve()
    (out / "smpl").mkdir(parents=True, exist_ok=True)
    (out / "overlay").mkdir(parents=True, exist_ok=True)
    overrides = _overrides(args.checkpoint)
    (out / "demo_overrides.yaml").write_text(yaml.safe_dump({"/**": {"ros__parameters": overrides}}))
    exe = Path(get_package_prefix("hmr_ros")) / "lib" / "hmr_ros" / "hmr_node"
    config = Path(get_package_share_directory("hmr_ros")) / "config" / "hmr.yaml"

    print(f"[demo] rendering a {args.frames}-frame {args.size}x{args.size} clip of 2 procedural people", flush=True)
    clip = make_clip(num_frames=args.frames, width=args.size, height=args.size, num_people=2, fps=15.0, seed=0)
    print(f"[demo] starting {exe} with {config} + overrides {overrides}", flush=True)
    log = open(out / "hmr_node.log", "w")
    proc = subprocess.Popen([str(exe), "--ros-args", "--params-file", str(config),
                             "--params-file", str(out / "demo_overrides.yaml")], stdout=log, stderr=subprocess.STDOUT)
    rclpy.init()
    node = rclpy.create_node("hmr_demo_player")
    got_smpl, got_markers = {}, {}
    node.create_subscription(SMPLHumanArray, "humans/smpl",
                             lambda m: got_smpl.__setitem__((m.header.stamp.sec, m.header.stamp.nanosec), m), 10)

    def on_markers(m):
        if m.markers:
            h = m.markers[-1].header
            got_markers[(h.stamp.sec, h.stamp.nanosec)] = m
        else:
            got_markers[("empty", len(got_markers))] = m
    node.create_subscription(MarkerArray, "humans/smpl/markers", on_markers, 10)
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    pub_img = node.create_publisher(Image, "image", qos)
    pub_info = node.create_publisher(CameraInfo, "camera_info", qos)

    def spin_until(pred, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end and not pred():
            if proc.poll() is not None:
                raise RuntimeError(f"hmr_node exited with {proc.returncode}; see {out / 'hmr_node.log'}")
            rclpy.spin_once(node, timeout_sec=0.05)
        return pred()

    frame_id = "demo_camera_optical"
    summary = {"frames": [], "untrained": not args.checkpoint, "overrides": overrides}
    code = 0
    try:
        if not spin_until(lambda: pub_img.get_subscription_count() > 0, 120.0):
            raise RuntimeError(f"hmr_node did not subscribe within 120 s; see {out / 'hmr_node.log'}")
        info = CameraInfo(width=args.size, height=args.size, distortion_model="plumb_bob")
        info.header.frame_id = frame_id
        info.k = [float(v) for v in np.asarray(clip.K).reshape(-1)]
        for i, frame in enumerate(clip.frames):
            pub_info.publish(info)
            img = Image(height=args.size, width=args.size, encoding="rgb8", step=3 * args.size)
            img.header.frame_id = frame_id
            stamp = (int(1_000_000 + frame.stamp), int(round((frame.stamp % 1) * 1e9)) % 1_000_000_000)
            img.header.stamp.sec, img.header.stamp.nanosec = stamp
            img.data = np.ascontiguousarray(frame.rgb).tobytes()
            t0 = time.monotonic()
            pub_img.publish(img)
            if not spin_until(lambda: stamp in got_smpl and (stamp in got_markers or not got_smpl[stamp].humans),
                              args.timeout):
                raise RuntimeError(f"no result for frame {i} within {args.timeout} s; see {out / 'hmr_node.log'}")
            latency = time.monotonic() - t0
            msg = got_smpl[stamp]
            (out / "smpl" / f"frame_{i:04d}.json").write_text(json.dumps(smpl_array_to_dict(msg), indent=1))
            meshes = []
            if stamp in got_markers:
                for mk in got_markers[stamp].markers:
                    if mk.action == mk.ADD and mk.points:
                        meshes.append(np.array([[p.x, p.y, p.z] for p in mk.points], dtype=np.float64))
            faces = np.arange(len(meshes[0]) if meshes else 3).reshape(-1, 3)
            overlay = render_meshes(frame.rgb, meshes, faces, clip.K) if meshes else frame.rgb
            cv2.imwrite(str(out / "overlay" / f"frame_{i:04d}.png"), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
            summary["frames"].append({"index": i, "stamp": list(stamp), "people": len(msg.humans),
                                      "ground_truth_people": len(frame.people), "latency_s": round(latency, 3)})
            what = ("random-weight outputs, not detections" if not args.checkpoint
                    else f"the scene has {len(frame.people)}")
            print(f"[demo] frame {i + 1}/{len(clip.frames)}: {len(msg.humans)} people published ({what}), "
                  f"{latency:.2f} s", flush=True)
    except RuntimeError as exc:
        print(f"[demo] FAILED: {exc}", file=sys.stderr)
        code = 1
    finally:
        node.destroy_node()
        rclpy.shutdown()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()

    frames = summary["frames"]
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    if frames:
        lat = [f["latency_s"] for f in frames]
        print(f"\n[demo] {len(frames)} frames processed by hmr_node, {sum(f['people'] for f in frames)} people in "
              f"total, latency per frame {np.mean(lat):.2f} s mean / {max(lat):.2f} s max")
    print(f"[demo] output: {out}/smpl/*.json (received /humans/smpl), {out}/overlay/*.png (received mesh markers "
          f"drawn on the frames), {out}/summary.json, {out}/hmr_node.log")
    if not args.checkpoint:
        print(f"[demo] NOTE: {NOT_TRAINED}")
    return code


if __name__ == "__main__":
    sys.exit(main())
