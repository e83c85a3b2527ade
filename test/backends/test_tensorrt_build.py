"""Real TensorRT engines built on this CPU machine: TensorRT for RTX parses both exported graphs and compiles them
ahead of time for RTX compute capabilities, at the product's size (W32, input 512, window 9, 16 people), in FP32
and FP16. This, not a table of operators, is the proof that TensorRT accepts the graphs. Running the engines needs
an RTX GPU (test_tensorrt_backend.py)."""
import dataclasses
import json

import onnx
import pytest
import torch

from hmr_ros.backends.engine_cache import ENGINE_FILES, KEY_FILE, OnnxKey, check_entry, entry_dir
from hmr_ros.backends.onnx_backend import cached_onnx
from hmr_ros.backends.tensorrt_backend import BUILD_FILE, ENTRY_FILES, engine_key, ensure_engines
from hmr_ros.backends.tensorrt_flavour import installed, load
from hmr_ros.checkpoint import load_checkpoint
from hmr_ros.cli import main
from hmr_ros.model.siam import SIAM, SIAMConfig

pytestmark = pytest.mark.skipif("tensorrt_rtx" not in installed(),
                                reason="tensorrt-rtx is not installed (pip install .[tensorrt-rtx])")
TARGETS = ("sm86", "sm89", "sm120")
ONNX_TO_TRT = {onnx.TensorProto.FLOAT: "FLOAT", onnx.TensorProto.BOOL: "BOOL", onnx.TensorProto.UINT8: "UINT8"}


@pytest.fixture(scope="module")
def product_network():
    network = SIAM(SIAMConfig(width="w32", input_size=512, window=9, max_people=16))
    load_checkpoint(network, "synthetic")  # fully convolutional: the shipped weights fit any input size
    return network.eval()


@pytest.fixture(scope="module")
def built(product_network, tmp_path_factory):
    """Both precisions built once into one cache: {precision: (onnx paths, folder, key, build log)}."""
    cache = tmp_path_factory.mktemp("engines")
    trt = load("tensorrt_rtx")
    out = {}
    for precision in ("fp32", "fp16"):
        onnx_key = OnnxKey.for_network(product_network, dtype=precision)
        paths = cached_onnx(product_network, cache, key=onnx_key)
        said = []
        folder, key = ensure_engines(paths, engine_key(onnx_key, trt, TARGETS), trt, cache, say=said.append)
        out[precision] = (paths, folder, key, said)
    return cache, trt, out


def onnx_io(path):
    graph = onnx.load(str(path), load_external_data=False).graph
    def desc(v, io):
        t = v.type.tensor_type
        return {"name": v.name, "io": io, "shape": [d.dim_value for d in t.shape.dim], "dtype": ONNX_TO_TRT[t.elem_type]}
    return [desc(v, "input") for v in graph.input] + [desc(v, "output") for v in graph.output]


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_both_graphs_build_for_rtx_targets_without_a_gpu(built, precision):
    cache, trt, out = built
    paths, folder, key, said = out[precision]
    assert key.targets == TARGETS and key.flavour == "tensorrt_rtx" and key.gpu_name == ""
    assert check_entry(folder, key, ENTRY_FILES).valid
    assert any(line.startswith(f"building TensorRT engines ({precision}, sm86+sm89+sm120, TensorRT-RTX")
               for line in said)
    record = json.loads((folder / BUILD_FILE).read_text())
    for engine, onnx_path in zip(ENGINE_FILES, (paths.frame_net, paths.temporal_net)):
        # the network TensorRT parsed and built has exactly the ONNX graph's inputs and outputs
        assert record[engine]["io"] == onnx_io(onnx_path), engine
        data = (folder / engine).read_bytes()
        assert len(data) == record[engine]["bytes"] > 1 << 20
        assert all(t["name"].encode() in data for t in record[engine]["io"])  # the plan binds those names
        assert record[engine]["build_seconds"] > 0


def test_fp16_engines_hold_fp16_weights(built):
    _, _, out = built
    for engine in ENGINE_FILES:
        fp32, fp16 = ((out[p][1] / engine).stat().st_size for p in ("fp32", "fp16"))
        assert fp16 < 0.75 * fp32, engine  # half-width weights (the SMPL head and heatmap stay fp32)
    frame = json.loads((out["fp16"][1] / BUILD_FILE).read_text())["frame_net.engine"]["io"]
    assert [t["dtype"] for t in frame] == ["UINT8", "FLOAT", "FLOAT", "FLOAT", "FLOAT"]  # FP16 inside, same I/O


def test_a_valid_entry_is_reused_without_building(built):
    cache, trt, out = built
    paths, folder, key, _ = out["fp16"]
    mtime = (folder / ENGINE_FILES[0]).stat().st_mtime_ns
    said = []
    assert ensure_engines(paths, key, trt, cache, say=said.append) == (folder, key)
    # a GPU among the targets finds the same prebuilt entry
    assert ensure_engines(paths, dataclasses.replace(key, targets=("sm89",)), trt, cache, say=said.append) == (folder, key)
    assert said == [] and (folder / ENGINE_FILES[0]).stat().st_mtime_ns == mtime


@pytest.mark.parametrize("change, reason", [
    ({"trt_version": "1.6.0.1"}, "trt_version: cached '1.7.1.116', wanted '1.6.0.1'"),
    ({"targets": ("sm80",)}, "targets: cached ['sm86', 'sm89', 'sm120'], wanted ['sm80']"),
    ({"weights": "fedcba9876543210"}, "onnx.weights: cached"),
    ({"dtype": "fp32"}, "onnx.dtype: cached 'fp16', wanted 'fp32'"),
])
def test_another_version_target_weights_or_graph_dtype_is_refused_with_its_reason(built, change, reason):
    cache, _, out = built
    _, folder, key, _ = out["fp16"]
    onnx_change = {k: v for k, v in change.items() if k in ("weights", "dtype")}
    other = dataclasses.replace(key, onnx=dataclasses.replace(key.onnx, **onnx_change), **{
        k: v for k, v in change.items() if k not in onnx_change})
    check = check_entry(folder, other, ENTRY_FILES)
    assert not check.valid and reason in check.reason, check.reason
    # nothing else in the cache serves it either, but the fp32 pair the fixture built
    assert check_entry(entry_dir(cache, "tensorrt", other), other, ENTRY_FILES).valid == ("dtype" in change)


def test_a_changed_target_really_rebuilds(built):
    cache, trt, out = built
    paths, folder, key, _ = out["fp16"]
    said = []
    new_folder, new_key = ensure_engines(paths, dataclasses.replace(key, targets=("sm80",)), trt, cache,
                                         say=said.append)
    assert new_folder != folder and new_key.targets == ("sm80",) and check_entry(new_folder, new_key, ENTRY_FILES).valid
    assert "targets: cached ['sm86', 'sm89', 'sm120'], wanted ['sm80']" in said[0]


def test_build_engine_command_builds_and_then_reuses(tmp_path, capsys):
    args = ["build-engine", "--input-size", "64", "--window", "3", "--max-people", "4", "--checkpoint", "",
            "--target", "sm86,sm89", "--target", "sm120", "--precision", "fp32", "--cache", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "TensorRT-RTX" in out and "building TensorRT engines (fp32, sm86+sm89+sm120" in out
    assert "fp32 engines for sm86+sm89+sm120 ready in" in out and "frame_net.engine" in out and "MiB" in out
    assert main(args) == 0
    again = capsys.readouterr().out
    assert "building TensorRT engines" not in again and "ready in" in again
    metas = list((tmp_path / "tensorrt").glob(f"*/{KEY_FILE}"))
    assert len(metas) == 1 and json.loads(metas[0].read_text())["key"]["targets"] == ["sm86", "sm89", "sm120"]


@pytest.mark.parametrize("args, message", [
    (["--target", "sm90"], "unknown target(s) sm90"),
    (["--target", "sm75"], "TensorRT-RTX compiles no FP32 matrix multiply for Turing"),
    (["--target", "current"], "--target current needs a CUDA GPU"),
    (["--precision", "int8"], "--precision takes fp16 and/or fp32"),
])
def test_build_engine_command_rejects_what_it_cannot_build(tmp_path, capsys, args, message):
    if args == ["--target", "current"] and torch.cuda.is_available():
        pytest.skip("a GPU is here: current is buildable")
    code = main(["build-engine", "--input-size", "64", "--checkpoint", "", "--cache", str(tmp_path), *args])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "tensorrt").exists()
