"""Evaluate the tracker and smoother on the synthetic scenarios of ``hmr_ros.eval.tracking_scenarios``.

    python bench/eval_tracking.py                 # the table in docs/tracking.md (seed 0)
    python bench/eval_tracking.py --seeds 0 1 2   # the same on other random draws
    python bench/eval_tracking.py --tune          # the One-Euro grid behind the defaults

Every scenario is run twice on the same simulated detections: smoothing off ("raw") and on.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hmr_ros.eval import tracking as tracking_eval  # noqa: E402
from hmr_ros.eval import tracking_scenarios as sim_scenarios  # noqa: E402
from hmr_ros.tracking.tracker import TrackerConfig  # noqa: E402


def table(seed: int, with_tokens: bool) -> None:
    t0 = time.perf_counter()
    noise = sim_scenarios.DetectorNoise(with_tokens=with_tokens)
    results = [tracking_eval.run_scenario(s, TrackerConfig(seed=seed), noise, seed)
               for s in sim_scenarios.all_scenarios(seed)]
    print(f"seed {seed}, tokens {'on' if with_tokens else 'off'} ({time.perf_counter() - t0:.1f} s)")
    print(tracking_eval.format_table(results))
    print()


def tune(seed: int) -> None:
    """One-Euro grid on the crossing and occlusion_10 scenarios: translation parameters with the rotation
    defaults, then rotation parameters with the translation defaults (they act on different errors:
    translation on camera-frame MPJPE, rotations on root-relative MPJPE; both on Accel)."""
    scenarios = [sim_scenarios.scenario_crossing(seed), sim_scenarios.scenario_occlusion(10, seed)]
    noise = sim_scenarios.DetectorNoise()
    detections = [sim_scenarios.simulate_detections(s, noise, seed) for s in scenarios]
    skeleton = sim_scenarios.KinematicSkeleton()
    base = TrackerConfig(seed=seed)
    raw = [tracking_eval.evaluate(s, tracking_eval.run_tracker(s, d, dataclasses.replace(base, smoothing=False), skeleton))
           for s, d in zip(scenarios, detections)]
    print("| translation min_cutoff Hz | translation beta 1/m | rotation min_cutoff Hz | rotation beta 1/rad "
          "| Accel reduction (worst) | MPJPE change (worst) | camera MPJPE change (worst) |")
    print("|---|---|---|---|---|---|---|")
    grid = [(fc, b, base.rotation_min_cutoff_hz, base.rotation_beta)
            for fc, b in itertools.product([0.5, 1.0, 2.0], [0.5, 2.0, 8.0])]
    grid += [(base.one_euro_min_cutoff_hz, base.one_euro_beta, fc, b)
             for fc, b in itertools.product([0.5, 1.0, 2.0], [0.1, 0.5, 2.0])]
    for t_fc, t_beta, r_fc, r_beta in grid:
        cfg = dataclasses.replace(base, one_euro_min_cutoff_hz=t_fc, one_euro_beta=t_beta,
                                  rotation_min_cutoff_hz=r_fc, rotation_beta=r_beta)
        acc, mp, mpc = [], [], []
        for s, d, r in zip(scenarios, detections, raw):
            m = tracking_eval.evaluate(s, tracking_eval.run_tracker(s, d, cfg, skeleton))
            acc.append(1.0 - m.accel_error_mm / r.accel_error_mm)
            mp.append(m.mpjpe_mm / r.mpjpe_mm - 1.0)
            mpc.append(m.mpjpe_cam_mm / r.mpjpe_cam_mm - 1.0)
        print(f"| {t_fc} | {t_beta} | {r_fc} | {r_beta} | {100 * min(acc):.0f} % | {100 * max(mp):+.1f} % "
              f"| {100 * max(mpc):+.1f} % |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--tokens", action="store_true", help="also run with appearance tokens")
    parser.add_argument("--tune", action="store_true", help="print the One-Euro parameter grid instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    np.set_printoptions(precision=3)
    if args.tune:
        tune(args.seeds[0])
        return
    for seed in args.seeds:
        table(seed, with_tokens=False)
        if args.tokens:
            table(seed, with_tokens=True)


if __name__ == "__main__":
    main()
