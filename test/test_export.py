"""ONNX export of both graphs, parity with ONNX Runtime, and the command line."""
import onnx
import pytest
import torch

from hmr_ros.__main__ import main
from hmr_ros.export import FRAME_OUTPUTS, TEMPORAL_OUTPUTS, export_onnx, onnx_parity
from hmr_ros.model.siam import SIAM, SIAMConfig


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = SIAM(SIAMConfig(input_size=64, max_people=4, window=3)).eval()
    return model, export_onnx(model, tmp_path_factory.mktemp("onnx"))


def test_graphs_have_static_named_inputs_and_outputs(exported):
    _, paths = exported
    frame, temporal = onnx.load(str(paths.frame_net)), onnx.load(str(paths.temporal_net))
    assert [o.name for o in frame.graph.output] == FRAME_OUTPUTS
    assert [o.name for o in temporal.graph.output] == TEMPORAL_OUTPUTS
    dims = [d.dim_value for d in frame.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 64, 64, 3]
    dims = [d.dim_value for d in temporal.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 4, 256]


def test_onnxruntime_matches_pytorch_in_fp32(exported):
    model, paths = exported
    diffs = onnx_parity(model, paths)
    assert set(diffs) == set(FRAME_OUTPUTS + TEMPORAL_OUTPUTS)
    assert max(diffs.values()) <= 1e-4, diffs


def test_cli_info_prints_every_module(capsys):
    assert main(["info", "--variant", "w32", "--input-size", "64"]) == 0
    out = capsys.readouterr().out
    for name in ("backbone", "frame head", "SIA", "FD", "SMPL head", "total"):
        assert name in out
    assert "29,305,536" in out  # HRNet-W32 backbone
    flops = SIAM(SIAMConfig(input_size=64)).flop_counts()
    assert f"frame_net    {flops['frame_net'] / 1e9:9.2f}" in out and "GFLOP per frame at 64x64" in out


def test_cli_export_reports_parity(tmp_path, capsys):
    assert main(["export", "--input-size", "64", "--window", "2", "--max-people", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "parity OK" in out and (tmp_path / "frame_net.onnx").is_file() and (tmp_path / "temporal_net.onnx").is_file()


def test_cli_rejects_a_bad_checkpoint_without_a_traceback(tmp_path, capsys):
    assert main(["info", "--input-size", "64", "--checkpoint", str(tmp_path / "missing.safetensors")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
