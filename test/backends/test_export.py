"""ONNX export of both graphs, parity with ONNX Runtime, what TensorRT 10's ONNX parser accepts, and the command
line."""
import onnx
import onnx.numpy_helper
import pytest
import torch

from hmr_ros.cli import main
from hmr_ros.backends.export import FRAME_OUTPUTS, TEMPORAL_OUTPUTS, export_onnx
from hmr_ros.backends.onnx_backend import onnx_parity
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


# What the TensorRT 10 ONNX parser supports for the operators these graphs use: the data type of each node's data
# input (onnx-tensorrt docs/operators.md, TensorRT 10.15 matrix; F = FP32/FP16/BF16, I = INT32/INT64). Only the
# data input is judged (shape, axes and index inputs are INT64 everywhere). Restrictions that apply are checked
# below: TopK sorted with K < 3840, Resize modes, UINT8 only as network input or output.
F, I, B = {"FLOAT", "FLOAT16", "BFLOAT16"}, {"INT32", "INT64"}, {"BOOL"}
TRT10_DATA_TYPES = {
    **{op: F for op in ("Conv", "MatMul", "Gemm", "Relu", "Sigmoid", "Softplus", "Sin", "Cos", "Erf", "Exp", "Round",
                        "Softmax", "LayerNormalization", "MaxPool", "Resize", "Clip", "Flatten")},
    **{op: F | I for op in ("Add", "Sub", "Mul", "Div", "Mod", "Equal", "Less", "LessOrEqual", "GreaterOrEqual",
                            "ReduceL2", "ReduceSum", "TopK")},
    **{op: F | I | B for op in ("Concat", "Expand", "Gather", "GatherElements", "Identity", "Reshape", "Shape",
                                "Slice", "Tile", "Transpose", "Unsqueeze", "Where")},
    **{op: B for op in ("And", "Or", "Xor", "Not")},
    "Cast": F | I | B | {"UINT8"}, "ConstantOfShape": F | I | B, "Constant": F | I | B,
}
RESIZE_MODES = {"half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "asymmetric", "align_corners"}


def tensorrt10_problems(path) -> list[str]:
    """Nodes of an ONNX file that TensorRT 10's parser would reject, one line each (empty = none found)."""
    graph = onnx.shape_inference.infer_shapes(onnx.load(str(path))).graph
    dtype = {v.name: v.type.tensor_type.elem_type for v in (*graph.value_info, *graph.input, *graph.output)}
    dtype.update({t.name: t.data_type for t in graph.initializer})
    name = onnx.TensorProto.DataType.Name
    inputs = {i.name for i in graph.input}
    problems = []
    for node in graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        where = f"{node.op_type} {node.name}"
        if node.op_type not in TRT10_DATA_TYPES:
            problems.append(f"{where}: operator not in the table")
            continue
        if node.op_type in ("Constant", "ConstantOfShape"):
            types = [name(attrs["value"].data_type)] if "value" in attrs else ["FLOAT"]
        else:
            data = node.input[1] if node.op_type == "Where" else node.input[0]
            types = [name(dtype[data])]
            if node.op_type == "Cast":
                types.append(name(attrs["to"]))
        bad = [t for t in types if t not in TRT10_DATA_TYPES[node.op_type]]
        if bad:
            problems.append(f"{where}: {bad} not supported")
        if any(name(dtype.get(i, 0)) == "UINT8" for i in node.input if i) and not (
                node.op_type == "Cast" and node.input[0] in inputs):
            problems.append(f"{where}: UINT8 used inside the network")
        if node.op_type == "TopK" and attrs.get("sorted", 1) != 1:
            problems.append(f"{where}: TopK must be sorted")
        if node.op_type == "Resize" and attrs["coordinate_transformation_mode"].decode() not in RESIZE_MODES:
            problems.append(f"{where}: Resize mode {attrs['coordinate_transformation_mode']}")
        if node.op_type == "Resize" and attrs.get("antialias", 0):
            problems.append(f"{where}: antialiased Resize")
    return problems


def test_graphs_use_only_what_the_tensorrt_10_parser_supports(exported):
    _, paths = exported
    for path in (paths.frame_net, paths.temporal_net):
        assert tensorrt10_problems(path) == [], path.name
    frame = onnx.load(str(paths.frame_net))
    consts = {n.output[0]: onnx.numpy_helper.to_array(n.attribute[0].t) for n in frame.graph.node
              if n.op_type == "Constant"}
    consts.update({t.name: onnx.numpy_helper.to_array(t) for t in frame.graph.initializer})
    ks = [int(consts[n.input[1]][0]) for n in frame.graph.node if n.op_type == "TopK"]
    assert ks == [4]  # the centre picking: K = max_people, a build-time constant (TensorRT: K < 3840)


def test_the_tensorrt_check_catches_uint8_inside_the_network(tmp_path):
    class PermuteFirst(torch.nn.Module):  # the order frame_net had before: Transpose on the UINT8 input
        def forward(self, image):
            return image.permute(0, 3, 1, 2).float()

    path = tmp_path / "permute_first.onnx"
    torch.onnx.export(PermuteFirst(), (torch.zeros(1, 8, 8, 3, dtype=torch.uint8),), str(path), opset_version=17,
                      dynamo=False)
    problems = tensorrt10_problems(path)
    assert any("Transpose" in p and "UINT8" in p for p in problems), problems


def test_cli_info_prints_every_module(capsys):
    assert main(["info", "--width", "w32", "--input-size", "64"]) == 0
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
