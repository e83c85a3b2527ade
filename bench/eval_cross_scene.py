"""The cross-scene protocol of issue 29 for one checkpoint: every real-image number with a scene it never saw.

    python bench/eval_cross_scene.py --checkpoint W.safetensors --vtest vtest_test_labels --bikes bikes_labels \
        [--input-size 384] [--json cross_scene.json] [--skip-varied]

Runs, each through ``python -m hmr_ros evaluate`` (the node's per-frame path):
- vtest.avi frames 600-794 (a label directory of those frames, all held out) at window 9 and window 1;
- bikes.mp4's held-out frames (its label directory, ``--holdout-from 125``) at window 9;
- the opencv-doc photos against their hand-drawn boxes (test/data/photo_boxes.json) at window 9 (a still clip);
- the varied synthetic split (3D: F1, MPJPE, PA-MPJPE beside the mean pose).
Prints one Markdown table and the targets with PASS / FAIL (docs/training.md records the numbers).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def evaluate(args: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        cmd = [sys.executable, "-m", "hmr_ros", "evaluate", *args, "--backend", "torch", "--json", str(out)]
        print("$ " + " ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--input-size", type=int, default=384)
    ap.add_argument("--vtest", type=Path, required=True, help="label directory of vtest.avi frames 600-794")
    ap.add_argument("--bikes", type=Path, required=True, help="label directory of bikes.mp4 (held out from 125)")
    ap.add_argument("--photos", type=Path, default=ROOT / "test" / "data" / "photo_boxes.json")
    ap.add_argument("--skip-varied", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    net = ["--checkpoint", args.checkpoint, "--input-size", str(args.input_size)]
    r = {
        "vtest_T9": evaluate(["--dataset", "keypoints", "--root", str(args.vtest), "--window", "9", *net]),
        "vtest_T1": evaluate(["--dataset", "keypoints", "--root", str(args.vtest), "--window", "1", *net]),
        "bikes_T9": evaluate(["--dataset", "keypoints", "--root", str(args.bikes), "--window", "9", *net]),
        "photos": evaluate(["--dataset", "photos", "--root", str(args.photos), "--window", "9", *net]),
    }
    if not args.skip_varied:
        r["varied"] = evaluate(["--split", "varied", "--window", "9", *net])
    print("\n| set | recall | precision | F1 | PCK@0.5 | jitter px/f² | PA-MPJPE mm (mean pose) |")
    print("|---|---|---|---|---|---|---|")
    for name in ("vtest_T9", "vtest_T1", "bikes_T9"):
        k = r[name]
        print(f"| {name} | {k['recall']:.3f} | {k['precision']:.3f} | {k['f1']:.3f} | {k['pck']:.3f} | "
              f"{k['jitter_px']:.2f} | {k.get('pa_mpjpe_mm', float('nan')):.1f} "
              f"({k.get('mean_pose_pa_mpjpe_mm', float('nan')):.1f}) |")
    p = r["photos"]
    print(f"| photos | {p['recall']:.3f} | {p['precision']:.3f} | | | | |  found {p['found']}/{p['people']}, "
          f"false {p['false']}")
    if "varied" in r:
        print("varied split:", json.dumps({k: v for k, v in r["varied"].items() if not isinstance(v, (list, dict))}))
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
