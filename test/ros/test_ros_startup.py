"""hmr_node refuses bad configuration at start with one clear line on stderr and exit code 2 within 10 s (no
traceback): out-of-range, mistyped and unknown parameters, missing, truncated or wrong checkpoint and body-model
files, a CUDA device on a machine without one, an unwritable engine cache, a backend named explicitly that cannot
run. Ctrl-C during start-up is one line and exit code 130."""
import signal
import subprocess
import time

import pytest

import ros_harness

ros_harness.require_ros()


@pytest.mark.parametrize("overrides,code,expected", [
    (dict(input_size=100), 2, "invalid parameter 'input_size'"),
    # 0 is auto (the ROS range starts there); what lies between is refused in the node's words
    (dict(input_size=32), 2, "invalid parameter 'input_size': expected 0 (auto) or a value in [64, 1024], got 32"),
    (dict(backbone="vit"), 2, "invalid parameter 'backbone': expected one of 'auto', 'hrnet', 'movenet'"),
    # an explicit width that contradicts the weights is never replaced: the loader's mismatch, by field
    (dict(checkpoint="real", width="w18", input_size=0), 2,
     "is a hrnet w32 network, but backbone 'hrnet' width 'w18' was asked"),
    (dict(mode="sideways"), 2, "invalid parameter 'mode': expected one of 'causal', 'centered'"),
    (dict(input_sise=256), 2, "unknown parameter(s) input_sise"),
    (dict(variant="w32"), 2, "unknown parameter(s) variant for hmr_node; 'variant' is now 'width'"),
    (dict(backend="cuda_magic"), 2, "invalid parameter 'backend': expected one of 'auto', 'tensorrt'"),
    (dict(precision="int8"), 2, "invalid parameter 'precision': expected one of 'auto', 'fp16', 'fp32'"),
    (dict(tracking_min_hits=0), 2, "invalid parameter 'tracking_min_hits'"),
    # the command-line form: rcl drops a params file's value whose type differs from an earlier file's
    (["input_size:=abc"], 2, "invalid parameter 'input_size' ('-p input_size:=abc'): expected int, got str 'abc'"),
    (["window:=4.5"], 2, "invalid parameter 'window' ('-p window:=4.5'): expected int, got float 4.5"),
    (dict(body_model="/nonexistent/SMPL_NEUTRAL.npz"), 2, "/nonexistent/SMPL_NEUTRAL.npz"),
    (dict(checkpoint="/nonexistent/siam.safetensors"), 2, "/nonexistent/siam.safetensors"),
    ("wrong_tensors", 2, "does not match the network"),
    ("truncated_checkpoint", 2, "is not a readable safetensors file"),
    ("truncated_body", 2, "not a readable .npz file"),
    (dict(device="cuda"), 2, "CUDA is not available"),
    (dict(backend="onnxruntime", engine_cache_dir="/dev/null/cache"), 2, "Not a directory: '/dev/null/cache"),
    # a backend named explicitly that cannot run stops the node (auto would fall back instead)
    (dict(backend="tensorrt", device="cpu"), 2, "cannot start: tensorrt backend needs a CUDA device, got cpu"),
])
def test_bad_configuration_is_one_line_and_a_non_zero_exit(overrides, code, expected, tmp_path, monkeypatch):
    if overrides == "wrong_tensors":  # valid safetensors, not SIAM's tensors
        from safetensors.torch import save_file
        import torch
        save_file({"weight": torch.zeros(3)}, str(tmp_path / "wrong.safetensors"))
        overrides = dict(checkpoint=str(tmp_path / "wrong.safetensors"))
    elif overrides == "truncated_checkpoint":
        from hmr_ros.checkpoint import resolve_checkpoint
        (tmp_path / "cut.safetensors").write_bytes(resolve_checkpoint("synthetic").read_bytes()[:4096])
        overrides = dict(checkpoint=str(tmp_path / "cut.safetensors"))
    elif overrides == "truncated_body":
        from hmr_ros.smpl.procedural_body import write_procedural_body
        write_procedural_body(tmp_path / "body.npz")
        (tmp_path / "cut.npz").write_bytes((tmp_path / "body.npz").read_bytes()[:5000])
        overrides = dict(body_model=str(tmp_path / "cut.npz"))
    extra = []
    if isinstance(overrides, list):
        extra, overrides = [arg for value in overrides for arg in ("-p", value)], {}
    ros_harness.isolate_ros_environment(monkeypatch)
    start = time.monotonic()
    done = ros_harness.run_node_to_exit({"backend": "torch", "input_size": 128, "window": 2, **overrides}, tmp_path,
                                        extra_args=extra)
    assert time.monotonic() - start < 10.0, "start-up errors must come within 10 s"
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("hmr_node:")]
    assert len(lines) == 1 and expected in lines[0], done.stderr


def test_the_network_is_the_checkpoints_and_the_node_says_so(tmp_path, monkeypatch):
    """checkpoint: real and nothing else: backbone, width and input size are the weights' (384 px), logged at start
    and in the ready line (the diagnostics' model)."""
    ros_harness.isolate_ros_environment(monkeypatch)
    proc = ros_harness.NodeProcess({"backend": "torch", "checkpoint": "real", "window": 1, "torch_threads": 1},
                                   tmp_path)
    try:
        deadline = time.monotonic() + 120.0
        while "ready:" not in proc.log() and proc.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        log = proc.log()
    finally:
        proc.stop()
    assert "ready: SIAM hrnet w32 384px T=1" in log, log[-3000:]
    assert "network: backbone hrnet, width w32, input_size 384 (auto: checkpoint 'real')" in log, log[-3000:]


def test_ctrl_c_during_start_up_is_one_line(tmp_path, monkeypatch):
    ros_harness.isolate_ros_environment(monkeypatch)
    proc = ros_harness.NodeProcess({"backend": "torch", "input_size": 128}, tmp_path)
    time.sleep(1.0)  # importing torch / building the network
    proc.proc.send_signal(signal.SIGINT)
    try:
        code = proc.proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.proc.kill()
        raise
    log = proc.log()
    proc.stop()
    assert "Traceback" not in log, log
    if code == 0:  # the node came up before the signal: a clean shutdown is the right answer too
        return
    assert code == 130 and log.strip().splitlines()[-1] == "hmr_node: interrupted during start-up", log
