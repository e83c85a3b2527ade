"""hmr_node refuses bad configuration at start with one clear line on stderr and a non-zero exit code
(no traceback): out-of-range and unknown parameters, a missing body-model or checkpoint file, a backend
named explicitly that cannot run."""
import pytest

import ros_harness

ros_harness.require_ros()


@pytest.mark.parametrize("overrides,code,expected", [
    (dict(input_size=100), 2, "invalid parameter 'input_size'"),
    (dict(mode="sideways"), 2, "invalid parameter 'mode': expected one of 'causal', 'centered'"),
    (dict(input_sise=256), 2, "unknown parameter(s) input_sise"),
    (dict(backend="cuda_magic"), 2, "invalid parameter 'backend': expected one of 'auto', 'tensorrt'"),
    (dict(precision="int8"), 2, "invalid parameter 'precision': expected one of 'auto', 'fp16', 'fp32'"),
    (dict(tracking_min_hits=0), 2, "invalid parameter 'tracking_min_hits'"),
    (dict(body_model="/nonexistent/SMPL_NEUTRAL.npz"), 1, "/nonexistent/SMPL_NEUTRAL.npz"),
    (dict(checkpoint="/nonexistent/siam.safetensors"), 1, "/nonexistent/siam.safetensors"),
    # a backend named explicitly that cannot run stops the node (auto would fall back instead)
    (dict(backend="onnxruntime", precision="fp16"), 1,
     "cannot start: onnxruntime backend runs the exported graphs in fp32 only"),
])
def test_bad_configuration_is_one_line_and_a_non_zero_exit(overrides, code, expected, tmp_path, monkeypatch):
    ros_harness.isolate_ros_environment(monkeypatch)
    done = ros_harness.run_node_to_exit({"backend": "torch", "input_size": 128, "window": 2, **overrides}, tmp_path)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("hmr_node:")]
    assert len(lines) == 1 and expected in lines[0], done.stderr
