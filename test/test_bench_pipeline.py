"""bench/bench_pipeline.py: the script runs end to end on a tiny case and its report holds every stage; the
target verdicts judge only what was measured, on the hardware and precision the targets name."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
import bench_pipeline  # noqa: E402  (bench/ is scripts, not a package)

STAGES = {"decode", "preprocess", "frame_net", "buffer", "temporal_net", "body model", "end to end"}


def test_bench_runs_a_tiny_grid_and_reports_stages_ratio_rss_and_verdicts(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, str(BENCH / "bench_pipeline.py"), "--backend", "torch", "--threads", "1",
         "--cases", "w32:64:1:2,w32:64:16:2,lightning:64:1:2", "--frames", "2", "--warmup", "1", "--rss-frames", "20",
         "--rss-size", "64", "--json", str(out)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(out.read_text())
    one, sixteen, movenet = report["cases"]
    assert movenet["width"] == "lightning"
    assert (one["window"], one["people"], sixteen["window"], sixteen["people"]) == (1, 2, 16, 2)
    for case in report["cases"]:
        assert STAGES <= set(case["stages_ms"]) and case["backend"] == "torch (cpu, fp32)"
        assert all(v >= 0 for v in case["stages_ms"].values())
        assert case["fps"] == pytest.approx(1e3 / case["end_to_end_ms"]["median"], rel=0.01)
    if report["ros_stages"] is True:  # the generated messages are importable (make test sources the install)
        assert {"message build", "marker build", "publish"} <= set(one["stages_ms"])
    ratio = report["window_ratio"][0]
    assert ratio["ratio"] == pytest.approx(sixteen["end_to_end_ms"]["median"] / one["end_to_end_ms"]["median"],
                                           abs=1e-3)
    assert report["rss"]["frames"] == 20 and report["rss"]["rss_end_mb"] > 0
    assert "Estimator.step, Tracker.update" in report["rss"]["per_frame"]  # the node's path, not the network alone
    assert ("publish" in report["rss"]["per_frame"]) == (report["ros_stages"] is True)
    verdict = {t["target"]: t["verdict"] for t in report["targets"]}
    assert verdict[">= 100 FPS end to end"].startswith("not measured: needs W32@512 FP16")
    assert verdict["window 16 within 15 % of window 1"] in ("PASS", "FAIL")
    assert verdict["host RSS flat (+-5 %) over 10,000 frames"] == "not measured: needs --rss-frames 10000"
    assert "| target | measured | verdict |" in run.stdout


def gpu_case(window, fps, p99, device_mb, backend="tensorrt (cuda:0, fp16, TensorRT 10.3.0)"):
    return {"width": "w32", "input_size": 512, "window": window, "people": 10, "backend": backend, "fps": fps,
            "end_to_end_ms": {"median": 1e3 / fps, "p99": p99}, "gpu_device_mb": device_mb}


def test_verdicts_take_the_worst_window_of_the_fp16_target_cases():
    report = {"cases": [gpu_case(1, 180.0, 7.0, 1500.0), gpu_case(16, 95.0, 21.0, 2100.0)],
              "window_ratio": [{"width": "w32", "input_size": 512, "people": 10, "ratio": 1.9}],
              "rss": {"frames": 10_000, "drift_percent": -0.4, "backend": "tensorrt (cuda:0, fp16)"}}
    rows = {t: (m, v) for t, m, v in bench_pipeline.verdicts(report)}
    assert rows[">= 100 FPS end to end"] == ("95.0 FPS (slowest of T=1,16; tensorrt (cuda:0, fp16, TensorRT 10.3.0))",
                                             "FAIL")
    assert rows["p99 latency < 20 ms"] == ("21.0 ms", "FAIL")
    assert rows["GPU memory <= 2 GiB"] == ("2100 MiB in use on the device", "FAIL")
    assert rows["window 16 within 15 % of window 1"][1] == "FAIL"
    assert rows["host RSS flat (+-5 %) over 10,000 frames"][1] == "PASS"
    report["cases"] = [gpu_case(9, 140.0, 12.0, 1200.0)]
    report["window_ratio"] = [{"width": "w32", "input_size": 512, "people": 10, "ratio": 1.04}]
    assert all(v == "PASS" for _, _, v in bench_pipeline.verdicts(report))


def test_fp32_or_cpu_runs_of_the_target_case_are_shown_but_not_judged():
    report = {"cases": [gpu_case(9, 0.6, 1900.0, 0.0, backend="onnxruntime (cpu, fp32)")]}
    rows = {t: (m, v) for t, m, v in bench_pipeline.verdicts(report)}
    measured, verdict = rows[">= 100 FPS end to end"]
    assert measured == "0.60 FPS with onnxruntime (cpu, fp32)" and verdict.startswith("not measured")
