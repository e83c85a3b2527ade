"""The ONNX/TensorRT artefact cache: keys change with every component, entries are checked for corruption and
mismatch, and writes are atomic. No TensorRT needed: the entries are files these tests write."""
import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hmr_ros.backends.engine_cache import (ENGINE_FILES, ONNX_FILES, PACKAGE_DIR, EngineKey, OnnxKey, check_entry,
                                           default_cache_dir, entry_dir, graph_sources, key_digest, state_dict_hash,
                                           write_entry)
from hmr_ros.model.siam import SIAM, SIAMConfig

ONNX_KEY = OnnxKey(weights="0123456789abcdef", graph="a1b2c3d4e5f6", width="w32", input_size=512, window=9,
                   max_people=16, config='{"mode": "causal"}')
ENGINE_KEY = EngineKey(onnx=dataclasses.replace(ONNX_KEY, dtype="fp16"), flavour="tensorrt", trt_version="10.3.0",
                       targets=("sm89",), gpu_name="NVIDIA GeForce RTX 4090")
RTX_KEY = EngineKey(onnx=dataclasses.replace(ONNX_KEY, dtype="fp16"), flavour="tensorrt_rtx", trt_version="1.7.1.116",
                    targets=("sm120", "sm86", "sm89"))


def write_fake_engines(folder, key, payload=b"serialized engine bytes"):
    def produce(tmp):
        for i, name in enumerate(ENGINE_FILES):
            (tmp / name).write_bytes(payload + bytes([i]))

    return write_entry(folder, key, produce, ENGINE_FILES)


@pytest.mark.parametrize("change", [
    {"weights": "fedcba9876543210"}, {"graph": "ffffffffffff"}, {"input_size": 384}, {"window": 16},
    {"max_people": 10}, {"width": "w48"}, {"config": '{"mode": "centered"}'}, {"dtype": "fp32"},
])
def test_engine_key_changes_with_every_onnx_component(change, tmp_path):
    other = dataclasses.replace(ENGINE_KEY, onnx=dataclasses.replace(ENGINE_KEY.onnx, **change))
    assert key_digest(other) != key_digest(ENGINE_KEY)
    assert entry_dir(tmp_path, "tensorrt", other) != entry_dir(tmp_path, "tensorrt", ENGINE_KEY)


@pytest.mark.parametrize("change", [
    {"gpu_name": "NVIDIA RTX A6000"}, {"targets": ("sm86",)}, {"trt_version": "10.4.0"}, {"flavour": "tensorrt_rtx"},
])
def test_engine_key_changes_with_flavour_version_targets_and_gpu(change, tmp_path):
    other = dataclasses.replace(ENGINE_KEY, **change)
    assert key_digest(other) != key_digest(ENGINE_KEY)
    assert entry_dir(tmp_path, "tensorrt", other) != entry_dir(tmp_path, "tensorrt", ENGINE_KEY)


def test_entry_folder_name_is_readable():
    name = entry_dir("/c", "tensorrt", ENGINE_KEY).name
    assert name.startswith("w32-s512-t9-k16-fp16-nvidia-geforce-rtx-4090-sm89-trt10.3.0-")
    # portable TensorRT-RTX engines: no GPU name, targets in ascending compute capability
    assert entry_dir("/c", "tensorrt", RTX_KEY).name.startswith("w32-s512-t9-k16-fp16-sm86-sm89-sm120-rtx1.7.1.116-")


def test_engine_precision_is_the_graph_dtype():
    assert ENGINE_KEY.precision == "fp16"
    assert dataclasses.replace(ENGINE_KEY, onnx=ONNX_KEY).precision == "fp32"


def test_keys_reject_unknown_dtypes_flavours_and_targets():
    with pytest.raises(ValueError, match="dtype"):
        dataclasses.replace(ONNX_KEY, dtype="int8")
    with pytest.raises(ValueError, match="flavour"):
        dataclasses.replace(ENGINE_KEY, flavour="tensorrt9")
    for targets in ((), ("8.9",), ("current",)):
        with pytest.raises(ValueError, match="targets"):
            dataclasses.replace(ENGINE_KEY, targets=targets)


def test_weights_hash_follows_the_weights_and_the_network_key_the_shapes():
    torch.manual_seed(0)
    a = SIAM(SIAMConfig(input_size=64, window=2, max_people=2))
    torch.manual_seed(0)
    b = SIAM(SIAMConfig(input_size=64, window=2, max_people=2))
    assert state_dict_hash(a) == state_dict_hash(b)
    with torch.no_grad():
        b.temporal_net.smpl_head.parameters().__next__().add_(1e-3)
    assert state_dict_hash(a) != state_dict_hash(b)
    ka = OnnxKey.for_network(a)
    assert (ka.input_size, ka.window, ka.max_people, ka.width) == (64, 2, 2, "w32")
    torch.manual_seed(0)
    c = SIAM(SIAMConfig(input_size=96, window=2, max_people=2))
    assert key_digest(OnnxKey.for_network(c, weights=ka.weights)) != key_digest(ka)


def test_valid_entry_is_accepted(tmp_path):
    folder = write_fake_engines(entry_dir(tmp_path, "tensorrt", ENGINE_KEY), ENGINE_KEY)
    check = check_entry(folder, ENGINE_KEY, ENGINE_FILES)
    assert check.valid, check.reason
    meta = json.loads((folder / "key.json").read_text())
    assert meta["key"]["onnx"]["input_size"] == 512 and meta["key"]["trt_version"] == "10.3.0"


def test_missing_entry_says_so(tmp_path):
    check = check_entry(entry_dir(tmp_path, "tensorrt", ENGINE_KEY), ENGINE_KEY, ENGINE_FILES)
    assert not check.valid and "no cached entry" in check.reason


def test_missing_entry_names_what_differs_in_the_closest_cached_one(tmp_path):
    old = dataclasses.replace(ENGINE_KEY, trt_version="10.0.1")
    write_fake_engines(entry_dir(tmp_path, "tensorrt", old), old)
    check = check_entry(entry_dir(tmp_path, "tensorrt", ENGINE_KEY), ENGINE_KEY, ENGINE_FILES)
    assert not check.valid
    assert "trt_version: cached '10.0.1', wanted '10.3.0'" in check.reason


def test_truncated_engine_is_corrupt(tmp_path):
    folder = write_fake_engines(entry_dir(tmp_path, "tensorrt", ENGINE_KEY), ENGINE_KEY)
    path = folder / ENGINE_FILES[1]
    path.write_bytes(path.read_bytes()[:5])
    check = check_entry(folder, ENGINE_KEY, ENGINE_FILES)
    assert not check.valid and "corrupt" in check.reason and ENGINE_FILES[1] in check.reason


def test_same_size_bit_flip_is_corrupt(tmp_path):
    folder = write_fake_engines(entry_dir(tmp_path, "tensorrt", ENGINE_KEY), ENGINE_KEY)
    path = folder / ENGINE_FILES[0]
    data = bytearray(path.read_bytes())
    data[3] ^= 0xFF
    path.write_bytes(bytes(data))
    check = check_entry(folder, ENGINE_KEY, ENGINE_FILES)
    assert not check.valid and "SHA-256" in check.reason


def test_missing_artefact_and_unreadable_key_file_are_reported(tmp_path):
    folder = write_fake_engines(entry_dir(tmp_path, "tensorrt", ENGINE_KEY), ENGINE_KEY)
    (folder / ENGINE_FILES[0]).unlink()
    assert "missing" in check_entry(folder, ENGINE_KEY, ENGINE_FILES).reason
    (folder / "key.json").write_text("{not json")
    check = check_entry(folder, ENGINE_KEY, ENGINE_FILES)
    assert not check.valid and "corrupt" in check.reason and "key.json" in check.reason


def test_entry_made_for_another_key_is_mismatched(tmp_path):
    other = dataclasses.replace(ENGINE_KEY, gpu_name="NVIDIA A100-SXM4-80GB", targets=("sm80",))
    folder = write_fake_engines(tmp_path / "entry", other)
    check = check_entry(folder, ENGINE_KEY, ENGINE_FILES)
    assert not check.valid and "another configuration" in check.reason
    assert "gpu_name" in check.reason and "targets: cached ['sm80'], wanted ['sm89']" in check.reason


def test_failed_write_leaves_no_entry_and_rewrite_replaces_a_stale_one(tmp_path):
    folder = entry_dir(tmp_path, "tensorrt", ENGINE_KEY)

    def broken(tmp):
        (tmp / ENGINE_FILES[0]).write_bytes(b"half")
        raise RuntimeError("builder crashed")

    with pytest.raises(RuntimeError, match="builder crashed"):
        write_entry(folder, ENGINE_KEY, broken, ENGINE_FILES)
    assert not folder.exists() and list(folder.parent.iterdir()) == []
    write_fake_engines(folder, ENGINE_KEY, b"old")
    write_fake_engines(folder, ENGINE_KEY, b"new")
    assert (folder / ENGINE_FILES[0]).read_bytes() == b"new\x00"
    assert check_entry(folder, ENGINE_KEY, ENGINE_FILES).valid
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]


def test_producer_must_write_every_artefact(tmp_path):
    with pytest.raises(ValueError, match="did not write"):
        write_entry(tmp_path / "e", ENGINE_KEY, lambda tmp: (tmp / ENGINE_FILES[0]).write_bytes(b"x"), ENGINE_FILES)


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "hmr_ros"


def test_graph_sources_are_the_hmr_ros_modules_the_export_imports(tiny_net):
    sources = graph_sources()
    assert "hmr_ros/geometry/rotations.py" in sources  # the SMPL head's 6D -> matrix, traced into temporal_net
    assert {"hmr_ros/model/siam.py", "hmr_ros/model/smpl_head.py", "hmr_ros/backends/export.py"} <= set(sources)
    assert not any(s.startswith(("hmr_ros/tracking/", "hmr_ros/ros/", "hmr_ros/training/")) for s in sources)
    assert "hmr_ros/estimator.py" not in sources and "hmr_ros/backends/engine_cache.py" not in sources
    torch.manual_seed(0)
    key = OnnxKey.for_network(SIAM(tiny_net), weights="w")
    assert key.graph_sources == sources and key.torch_version == torch.__version__


def test_graph_sources_are_exactly_what_a_fresh_interpreter_loads_for_the_export():
    # Everything the export loads beyond the backends package it lives in must be hashed, and nothing more; a
    # package's __init__ is hashed where graph code imports from it (model/backbones: the factory), not where the
    # import only passes through it on the way to a submodule.
    code = ("import json, sys, hmr_ros.backends; before = set(sys.modules); "
            "import hmr_ros.backends.export, hmr_ros.model.siam; "
            "print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items() "
            "if n.startswith('hmr_ros') and n not in before and getattr(m, '__file__', None))))")
    files = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                                      cwd=PACKAGE_DIR.parent).stdout)
    loaded = {Path(f).resolve().relative_to(PACKAGE_DIR.parent).as_posix() for f in files}
    sources = set(graph_sources())
    assert sources <= loaded and {f for f in loaded if not f.endswith("__init__.py")} <= sources
    assert "hmr_ros/model/backbones/__init__.py" in sources and "hmr_ros/__init__.py" not in sources


@pytest.fixture
def package(tmp_path):
    """A private copy of the hmr_ros sources, to edit."""
    copy = tmp_path / "hmr_ros"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_editing_a_graph_source_changes_the_key_and_editing_other_code_does_not(package, tmp_path, tiny_net):
    torch.manual_seed(0)
    net = SIAM(tiny_net)

    def key() -> OnnxKey:
        return OnnxKey.for_network(net, weights="0123456789abcdef", package_dir=package)

    before = key()
    assert before == OnnxKey.for_network(net, weights="0123456789abcdef")  # the copy hashes like the original
    with open(package / "tracking" / "tracker.py", "ab") as f:
        f.write(b"\n# not graph code\n")
    assert key() == before
    with open(package / "geometry" / "rotations.py", "ab") as f:
        f.write(b"\n# a change the trace would see\n")
    after = key()
    assert after.graph != before.graph and key_digest(after) != key_digest(before)
    folder = write_entry(entry_dir(tmp_path / "cache", "onnx", before), before,
                         lambda tmp: [(tmp / n).write_bytes(b"graph") for n in ONNX_FILES], ONNX_FILES)
    check = check_entry(folder, after, ONNX_FILES)
    assert not check.valid and "graph: cached" in check.reason


def test_imports_are_followed_wherever_and_however_they_are_written(package):
    head = package / "model" / "smpl_head.py"
    head.write_text(head.read_text() + "\n\ndef later():\n    from ..sim import clips  # noqa\n")
    siam = package / "model" / "siam.py"
    siam.write_text(siam.read_text() + "\nimport hmr_ros.tracking.one_euro  # noqa\n")
    sources = graph_sources(package)
    assert {"hmr_ros/sim/clips.py", "hmr_ros/tracking/one_euro.py"} <= set(sources)
