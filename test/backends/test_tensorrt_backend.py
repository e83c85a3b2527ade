"""TensorRT backend. The cache decisions (reuse a valid engine, rebuild a corrupt/mismatched one and say why)
run everywhere on files these tests write; building and running engines needs ``import tensorrt`` and a CUDA
GPU, and those tests skip with that reason where either is missing."""
import dataclasses

import pytest
import torch

from hmr_ros.cli import main
from hmr_ros.backends import create_backend
from hmr_ros.backends.engine_cache import ENGINE_FILES, EngineKey, OnnxKey, check_entry, entry_dir, write_entry
from hmr_ros.backends.onnx_backend import cached_onnx
from hmr_ros.backends.tensorrt_backend import (TensorRTBackend, ensure_engines, tensorrt_available,
                                               timing_cache_path)
from hmr_ros.backends.torch_backend import TorchBackend
from hmr_ros.backends.export import ExportResult, example_inputs
from hmr_ros.model.siam import SIAM, SIAMConfig

TRT_OK, TRT_WHY = tensorrt_available()
needs_tensorrt = pytest.mark.skipif(
    not (TRT_OK and torch.cuda.is_available()),
    reason=f"needs TensorRT and a CUDA GPU: {TRT_WHY}; torch.cuda.is_available() = {torch.cuda.is_available()}")

ONNX_KEY = OnnxKey(weights="0123456789abcdef", graph="a1b2c3d4e5f6", variant="w32", input_size=64, window=3,
                   max_people=4, config="{}")
KEY = EngineKey(onnx=ONNX_KEY, precision="fp16", gpu_name="NVIDIA GeForce RTX 3090", compute_capability="8.6",
                trt_version="10.3.0")


def cached_engines(cache, key, payload=b"engine"):
    def produce(tmp):
        for name in ENGINE_FILES:
            (tmp / name).write_bytes(payload + name.encode())

    return write_entry(entry_dir(cache, "tensorrt", key), key, produce, ENGINE_FILES)


def test_valid_cached_engine_is_used_without_building(tmp_path):
    folder = cached_engines(tmp_path, KEY)
    notes = []
    onnx = ExportResult(tmp_path / "unused_frame.onnx", tmp_path / "unused_temporal.onnx")
    assert ensure_engines(onnx, KEY, tmp_path, notes=notes) == folder
    assert notes == []  # nothing was built: the build would have needed the (absent) ONNX files and TensorRT


@pytest.mark.parametrize("damage, reason", [
    ("truncate", "corrupt"), ("other_gpu", "gpu_name: cached 'NVIDIA RTX A4000'"), ("missing", "no cached entry"),
])
def test_unusable_cached_engine_takes_the_rebuild_path_and_says_why(tmp_path, damage, reason):
    if damage == "truncate":
        folder = cached_engines(tmp_path, KEY)
        (folder / ENGINE_FILES[0]).write_bytes(b"eng")
    elif damage == "other_gpu":
        cached_engines(tmp_path, dataclasses.replace(KEY, gpu_name="NVIDIA RTX A4000"))
    notes, said = [], []
    onnx = ExportResult(tmp_path / "missing_frame.onnx", tmp_path / "missing_temporal.onnx")
    # The rebuild starts with the builder: without TensorRT it stops there (ImportError); with TensorRT it stops at
    # the ONNX file these tests never wrote. Either way it was the rebuild path, and the reason came first.
    with pytest.raises((ImportError, ValueError, RuntimeError, OSError)):
        ensure_engines(onnx, KEY, tmp_path, notes=notes, say=said.append)
    assert len(notes) == 1 and notes[0].startswith("building TensorRT engines (fp16, NVIDIA GeForce RTX 3090)")
    assert reason in notes[0] and said[0] == notes[0]
    # the failed build left the cache as it was: no half-written entry for KEY
    assert not check_entry(entry_dir(tmp_path, "tensorrt", KEY), KEY, ENGINE_FILES).valid


def test_forced_rebuild_says_why_even_with_a_valid_engine(tmp_path):
    cached_engines(tmp_path, KEY)
    notes = []
    onnx = ExportResult(tmp_path / "missing_frame.onnx", tmp_path / "missing_temporal.onnx")
    with pytest.raises((ImportError, ValueError, RuntimeError, OSError)):
        ensure_engines(onnx, KEY, tmp_path, force="--force given", notes=notes, say=lambda m: None)
    assert notes and notes[0].endswith("--force given")
    assert check_entry(entry_dir(tmp_path, "tensorrt", KEY), KEY, ENGINE_FILES).valid  # old entry kept


def test_timing_cache_is_per_gpu_and_tensorrt_version(tmp_path):
    a = timing_cache_path(tmp_path, KEY)
    assert a.name == "timing-nvidia-geforce-rtx-3090-sm86-trt10.3.0.cache"
    assert timing_cache_path(tmp_path, dataclasses.replace(KEY, trt_version="10.4.0")) != a
    assert timing_cache_path(tmp_path, dataclasses.replace(KEY, precision="fp32")) == a  # shared across precisions


@pytest.mark.skipif(TRT_OK, reason="TensorRT is installed: the missing-TensorRT messages cannot be observed here")
def test_without_tensorrt_the_backend_and_build_engine_say_why(tmp_path, capsys):
    torch.manual_seed(0)
    net = SIAM(SIAMConfig(input_size=64, window=2, max_people=2))
    with pytest.raises(ValueError, match="tensorrt is not importable"):
        create_backend("tensorrt", net, "cpu", cache_dir=tmp_path)
    code = main(["build-engine", "--variant", "w32", "--input-size", "512", "--precision", "fp16",
                 "--cache", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "cannot build TensorRT engines here" in err and "tensorrt is not importable" in err
    assert not any(tmp_path.iterdir())  # nothing exported or built


# --- engines: only where TensorRT and a GPU exist -------------------------------------------------------------

@pytest.fixture(scope="module")
def small_network():
    torch.manual_seed(0)
    return SIAM(SIAMConfig(input_size=64, window=3, max_people=4)).eval()


@needs_tensorrt
@pytest.mark.parametrize("precision, tol", [("fp32", 1e-3), ("fp16", 5e-2)])
def test_engine_matches_torch(small_network, tmp_path, precision, tol):
    backend = TensorRTBackend(small_network, "cuda", precision, tmp_path)
    ref = TorchBackend(small_network, "cpu")  # the engine build left the network on the CPU
    (image,), window = example_inputs(small_network, seed=5)
    with torch.inference_mode():
        got, want = backend.temporal(*window), ref.temporal(*window)
        frame, want_frame = backend.frame(image), ref.frame(image)
    for g, w in zip(got, want):
        assert (g.cpu() - w).abs().max() < tol
    assert torch.equal(frame.mask.cpu(), want_frame.mask) and torch.equal(frame.centers.cpu(), want_frame.centers)
    assert (frame.tokens.cpu() - want_frame.tokens).abs().max() < tol
    assert frame.tokens.device.type == "cuda" and frame.mask.dtype == torch.bool


@needs_tensorrt
def test_cached_engine_is_reused_and_a_corrupt_one_rebuilt(small_network, tmp_path):
    first = TensorRTBackend(small_network, "cuda", "fp16", tmp_path)
    engine = first.folder / ENGINE_FILES[0]
    mtime = engine.stat().st_mtime_ns
    second = TensorRTBackend(small_network, "cuda", "fp16", tmp_path)
    assert engine.stat().st_mtime_ns == mtime and not any("building" in s for s in second.selection)
    engine.write_bytes(engine.read_bytes()[:100])
    third = TensorRTBackend(small_network, "cuda", "fp16", tmp_path)
    assert any("building" in s and "corrupt" in s for s in third.selection)
    assert check_entry(third.folder, third.key, ENGINE_FILES).valid
    assert cached_onnx(small_network, tmp_path).frame_net.is_file()
