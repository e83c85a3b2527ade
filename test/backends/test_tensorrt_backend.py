"""TensorRT backend. The cache decisions (reuse a valid engine, use a prebuilt entry whose targets include this
GPU's, rebuild a corrupt/mismatched one and say why) run everywhere on files these tests write; running engines
needs a CUDA GPU (an RTX-class one for TensorRT-RTX) and those tests skip with that reason elsewhere. Real engine
builds are in test_tensorrt_build.py."""
import dataclasses

import pytest
import torch

from hmr_ros.cli import main
from hmr_ros.backends import create_backend
from hmr_ros.backends.engine_cache import ENGINE_FILES, EngineKey, OnnxKey, check_entry, entry_dir, write_entry
from hmr_ros.backends.onnx_backend import cached_onnx
from hmr_ros.backends.tensorrt_backend import (ENTRY_FILES, TensorRTBackend, ensure_engines, tensorrt_available,
                                               timing_cache_path)
from hmr_ros.backends.tensorrt_flavour import installed, load
from hmr_ros.backends.torch_backend import TorchBackend
from hmr_ros.backends.export import ExportResult, example_inputs
from hmr_ros.model.siam import SIAM, SIAMConfig

TRT_OK, TRT_WHY = tensorrt_available()
needs_tensorrt = pytest.mark.skipif(
    not (TRT_OK and torch.cuda.is_available()),
    reason=f"needs TensorRT and a CUDA GPU: {TRT_WHY}; torch.cuda.is_available() = {torch.cuda.is_available()}")
needs_rtx = pytest.mark.skipif("tensorrt_rtx" not in installed(), reason="tensorrt-rtx is not installed")

ONNX_KEY = OnnxKey(weights="0123456789abcdef", graph="a1b2c3d4e5f6", width="w32", input_size=64, window=3,
                   max_people=4, config="{}", dtype="fp16")
KEY = EngineKey(onnx=ONNX_KEY, flavour="tensorrt_rtx", trt_version="1.7.1.116", targets=("sm89",))
TRT10_KEY = EngineKey(onnx=ONNX_KEY, flavour="tensorrt", trt_version="10.3.0", targets=("sm86",),
                      gpu_name="NVIDIA GeForce RTX 3090")
NO_ONNX = ExportResult("missing_frame.onnx", "missing_temporal.onnx")  # a build attempt fails at the parser


def cached_engines(cache, key, payload=b"engine"):
    def produce(tmp):
        for name in ENTRY_FILES:
            (tmp / name).write_bytes(payload + name.encode())

    return write_entry(entry_dir(cache, "tensorrt", key), key, produce, ENTRY_FILES)


def test_valid_cached_engine_is_used_without_building(tmp_path):
    folder = cached_engines(tmp_path, KEY)
    notes = []
    # no TensorRT object at all: a valid entry never reaches the builder
    assert ensure_engines(NO_ONNX, KEY, None, tmp_path, notes=notes) == (folder, KEY)
    assert notes == []


def test_prebuilt_entry_for_several_targets_serves_a_gpu_among_them(tmp_path):
    wide = dataclasses.replace(KEY, targets=("sm86", "sm89", "sm120"))
    folder = cached_engines(tmp_path, wide)
    assert ensure_engines(NO_ONNX, KEY, None, tmp_path) == (folder, wide)
    # ... but not a GPU outside them, nor other weights
    sm75 = dataclasses.replace(KEY, targets=("sm75",))
    other = dataclasses.replace(KEY, onnx=dataclasses.replace(ONNX_KEY, weights="fedcba9876543210"))
    for key in (sm75, other):
        with pytest.raises(Exception):
            ensure_engines(NO_ONNX, key, None, tmp_path, say=lambda m: None)


@needs_rtx
@pytest.mark.parametrize("damage, reason", [
    ("truncate", "corrupt"), ("other_version", "trt_version: cached '1.6.0.1'"), ("missing", "no cached entry"),
    ("other_dtype", "onnx.dtype: cached 'fp32', wanted 'fp16'"),
])
def test_unusable_cached_engine_takes_the_rebuild_path_and_says_why(tmp_path, damage, reason):
    if damage == "truncate":
        folder = cached_engines(tmp_path, KEY)
        (folder / ENGINE_FILES[0]).write_bytes(b"eng")
    elif damage == "other_version":
        cached_engines(tmp_path, dataclasses.replace(KEY, trt_version="1.6.0.1"))
    elif damage == "other_dtype":
        cached_engines(tmp_path, dataclasses.replace(KEY, onnx=dataclasses.replace(ONNX_KEY, dtype="fp32")))
    notes, said = [], []
    # The rebuild stops at the ONNX files these tests never wrote; it was the rebuild path, and the reason came first.
    with pytest.raises(ValueError, match="could not parse"):
        ensure_engines(NO_ONNX, KEY, load("tensorrt_rtx"), tmp_path, notes=notes, say=said.append)
    assert len(notes) == 1 and notes[0].startswith("building TensorRT engines (fp16, sm89, TensorRT-RTX")
    assert reason in notes[0] and said[0] == notes[0]
    # the failed build left the cache as it was: no half-written entry for KEY
    assert not check_entry(entry_dir(tmp_path, "tensorrt", KEY), KEY, ENTRY_FILES).valid


@needs_rtx
def test_forced_rebuild_says_why_even_with_a_valid_engine(tmp_path):
    cached_engines(tmp_path, KEY)
    notes = []
    with pytest.raises(ValueError, match="could not parse"):
        ensure_engines(NO_ONNX, KEY, load("tensorrt_rtx"), tmp_path, force="--force given", notes=notes,
                       say=lambda m: None)
    assert notes and notes[0].endswith("--force given")
    assert check_entry(entry_dir(tmp_path, "tensorrt", KEY), KEY, ENTRY_FILES).valid  # old entry kept


def test_timing_cache_is_per_gpu_and_tensorrt_version(tmp_path):
    a = timing_cache_path(tmp_path, TRT10_KEY)
    assert a.name == "timing-nvidia-geforce-rtx-3090-sm86-trt10.3.0.cache"
    assert timing_cache_path(tmp_path, dataclasses.replace(TRT10_KEY, trt_version="10.4.0")) != a
    fp32 = dataclasses.replace(TRT10_KEY, onnx=dataclasses.replace(ONNX_KEY, dtype="fp32"))
    assert timing_cache_path(tmp_path, fp32) == a  # shared across precisions


def test_tensorrt_needs_a_cuda_device_and_a_missing_flavour_is_named(tmp_path, capsys):
    torch.manual_seed(0)
    net = SIAM(SIAMConfig(input_size=64, window=2, max_people=2))
    with pytest.raises(ValueError, match="needs a CUDA device"):
        create_backend("tensorrt", net, "cpu", cache_dir=tmp_path)
    if "tensorrt" in installed():
        pytest.skip("TensorRT 10/11 is installed: its missing-library message cannot be observed here")
    code = main(["build-engine", "--input-size", "64", "--flavour", "tensorrt", "--cache", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "cannot build TensorRT engines here" in err and "tensorrt is not importable" in err
    assert "pip install tensorrt-rtx" in err
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
    assert check_entry(third.folder, third.key, ENTRY_FILES).valid
    assert cached_onnx(small_network, tmp_path).frame_net.is_file()
