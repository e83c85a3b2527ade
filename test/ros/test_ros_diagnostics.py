"""Pipeline counters -> diagnostics report: rates over the period, drop and bad-input counts, latency, and
the levels with their reasons. (The message conversion needs diagnostic_msgs and is checked when present.)"""
import threading

import pytest

from hmr_ros.ros.diagnostics import ERROR, OK, WARN, PipelineStats, StaticInfo, to_msg

INFO = StaticInfo(backend="torch cpu", model="SIAM w32 128px", weights="w.safetensors", body_model="procedural",
                  input_topic="/cam/image", untrained=False)


def run_period(stats: PipelineStats, t0: float, received=10, processed=4, latency_ms=50.0):
    for i in range(received):
        stats.on_received(t0 + 0.1 * i, replaced_pending=i % 2 == 1)
    for _ in range(processed):
        stats.on_processed(latency_ms, people=2, default_intrinsics=False)


def test_rates_counts_and_latency_over_one_period():
    stats = PipelineStats(now=0.0)
    run_period(stats, 0.0)
    r = stats.report(2.0, INFO, warn_latency_ms=1000, stale_input_s=5)
    assert r.level == OK and r.message.startswith("ok")
    v = r.values
    assert v["input rate (Hz)"] == "5.00" and v["processed rate (Hz)"] == "2.00"
    assert v["frames dropped (busy)"] == "5" and v["dropped rate (Hz)"] == "2.50"
    assert v["latency mean (ms)"] == "50.0" and v["people in last frame"] == "2"
    assert v["backend"] == "torch cpu" and v["body model"] == "procedural"


def test_rates_are_per_period_but_totals_accumulate():
    stats = PipelineStats(now=0.0)
    run_period(stats, 0.0)
    stats.report(1.0, INFO, 1000, 5)
    run_period(stats, 1.0, received=2, processed=1)
    r = stats.report(2.0, INFO, 1000, 5)
    assert r.values["input rate (Hz)"] == "2.00" and r.values["frames received"] == "12"


@pytest.mark.parametrize("setup,level,reason", [
    (lambda s: s.on_inference_error("RuntimeError: boom"), ERROR, "inference error(s): RuntimeError: boom"),
    (lambda s: s.on_bad_input("corrupt_compressed"), WARN, "bad input(s) (corrupt_compressed=1)"),
    (lambda s: s.on_processed(2500.0, 1, False), WARN, "latency 2500 ms > 1000 ms"),
])
def test_problems_raise_the_level_with_a_reason(setup, level, reason):
    stats = PipelineStats(now=0.0)
    stats.on_received(0.5, False)
    setup(stats)
    r = stats.report(1.0, INFO, 1000, 5)
    assert r.level == level and reason in r.message


def test_no_input_and_untrained_network_warn():
    stats = PipelineStats(now=0.0)
    r = stats.report(10.0, INFO, 1000, 5)
    assert r.level == WARN and "no image received yet on /cam/image" in r.message
    stats.on_received(10.0, False)
    assert stats.report(12.0, INFO, 1000, 5).level == OK
    r = stats.report(20.0, INFO, 1000, 5)
    assert "no image for 10.0 s" in r.message
    untrained = StaticInfo(**{**INFO.__dict__, "untrained": True})
    stats.on_received(20.0, False)
    r = stats.report(21.0, untrained, 1000, 5)
    assert r.level == WARN and "UNTRAINED" in r.message


def test_missing_images_say_whether_anyone_publishes():
    stats = PipelineStats(now=0.0)
    r = stats.report(10.0, INFO, 1000, 5, publishers=0, image_qos="best effort")
    assert r.level == WARN and "no publisher on it" in r.message
    r = stats.report(20.0, INFO, 1000, 5, publishers=2, image_qos="best effort")
    assert r.level == WARN
    assert "2 publisher(s) on /cam/image, nothing received for 20 s (best effort)" in r.message
    assert "docs/ros.md#large-images" in r.message
    assert r.values["image publishers"] == "2" and r.values["image subscription"] == "best effort"
    stats.on_received(20.0, False)
    assert stats.report(21.0, INFO, 1000, 5, publishers=2).level == OK  # arriving: the count is only a value


def test_backend_selection_and_tracking_are_reported():
    info = StaticInfo(**{**INFO.__dict__, "backend": "onnxruntime (CPU, fp32)",
                         "backend_selection": "tensorrt-cuda skipped: no CUDA; auto chose onnxruntime (CPU, fp32)",
                         "tracking": "on (min_hits=3, max_lost_frames=15, smoothing on)"})
    stats = PipelineStats(now=0.0)
    stats.on_processed(10.0, people=2, default_intrinsics=False, live_tracks=3)
    v = stats.report(1.0, info, 1000, 5).values
    assert v["backend"] == "onnxruntime (CPU, fp32)"
    assert v["backend selection"].endswith("auto chose onnxruntime (CPU, fp32)")
    assert v["tracking"].startswith("on (min_hits=3") and v["live tracks"] == "3"
    stats.on_processed(10.0, people=2, default_intrinsics=False)   # tracking off: no track count
    assert stats.report(2.0, INFO, 1000, 5).values["live tracks"] == "n/a"
    assert INFO.tracking == "off"


def test_a_problem_warns_only_in_the_period_it_happened():
    stats = PipelineStats(now=0.0)
    stats.on_received(0.1, False)
    stats.on_bad_input("short_data")
    assert stats.report(1.0, INFO, 1000, 5).level == WARN
    stats.on_received(1.1, False)
    r = stats.report(2.0, INFO, 1000, 5)
    assert r.level == OK and r.values["bad inputs"] == "1"


def test_counters_are_thread_safe():
    stats = PipelineStats(now=0.0)

    def hammer():
        for _ in range(5000):
            stats.on_received(0.0, True)
    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stats.received == 20000 and stats.dropped == 20000


def test_report_becomes_a_diagnostic_array():
    pytest.importorskip("diagnostic_msgs", reason="diagnostic_msgs (ROS 2) is not importable")
    from builtin_interfaces.msg import Time
    stats = PipelineStats(now=0.0)
    stats.on_inference_error("x")
    msg = to_msg(stats.report(1.0, INFO, 1000, 5), Time(sec=3, nanosec=4))
    (status,) = msg.status
    assert status.level == bytes([ERROR]) and status.hardware_id == "hmr_ros"
    assert msg.header.stamp.sec == 3
    assert {kv.key for kv in status.values} >= {"input rate (Hz)", "latency max (ms)", "model", "weights"}


def test_cameras_known_is_reported_as_the_node_sets_it():
    stats = PipelineStats(now=0.0)
    assert stats.report(1.0, INFO, 1000, 5).values["cameras known"] == "0"
    stats.set_cameras_known(64)
    assert stats.report(2.0, INFO, 1000, 5).values["cameras known"] == "64"
