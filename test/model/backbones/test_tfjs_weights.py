"""Reading TF.js graph-model weights without TensorFlow: every stored type comes back as the manifest says, by name,
and a truncated, padded or foreign file is one clear error naming it."""
import json

import numpy as np
import pytest

from hmr_ros.model.backbones.tfjs_weights import ManifestError, read_graph_model


def write_model(folder, entries, chunks, shards=1, extra=b""):
    """model.json + its shard files: ``entries`` the manifest's weights, ``chunks`` their bytes in order."""
    blob = b"".join(chunks) + extra
    cut = len(blob) // shards
    names = [f"group1-shard{i + 1}of{shards}.bin" for i in range(shards)]
    for i, name in enumerate(names):
        (folder / name).write_bytes(blob[i * cut:(i + 1) * cut if i < shards - 1 else len(blob)])
    doc = {"format": "graph-model", "modelTopology": {"node": [{"name": "x", "op": "Placeholder"}]},
           "weightsManifest": [{"paths": names, "weights": entries}]}
    (folder / "model.json").write_text(json.dumps(doc))
    return folder / "model.json"


def test_float16_uint8_and_int32_entries_decode_to_their_values_and_shapes(tmp_path):
    halves = np.array([[0.5, -2.0, 3.25]], np.float16)
    quant = np.array([0, 128, 255], np.uint8)
    ints = np.array([7, -3], "<i4")
    path = write_model(tmp_path, [
        {"name": "StatefulPartitionedCall/conv/w", "shape": [1, 3], "dtype": "float32",
         "quantization": {"dtype": "float16", "original_dtype": "float32"}},
        {"name": "q", "shape": [3], "dtype": "float32", "quantization": {"dtype": "uint8", "min": -1.0, "scale": 0.01}},
        {"name": "k", "shape": [2], "dtype": "int32"},
        {"name": "plain", "shape": [], "dtype": "float32"},
    ], [halves.tobytes(), quant.tobytes(), ints.tobytes(), np.float32(1.5).tobytes()], shards=2)
    model = read_graph_model(path)
    w = model.constant("conv/w")                    # the StatefulPartitionedCall/ prefix is optional
    assert w.dtype == np.float32 and w.shape == (1, 3) and w.tolist() == [[0.5, -2.0, 3.25]]
    np.testing.assert_allclose(model.weights["q"], [-1.0, 0.28, 1.55], atol=1e-6)
    assert model.weights["k"].dtype == np.int32 and model.weights["k"].tolist() == [7, -3]
    assert model.weights["plain"].shape == () and float(model.weights["plain"]) == 1.5
    assert model.nodes[0]["op"] == "Placeholder"
    with pytest.raises(KeyError, match="no weight named 'nope'"):
        model.constant("nope")


def test_truncated_padded_missing_and_foreign_files_are_named(tmp_path):
    entry = [{"name": "w", "shape": [4], "dtype": "float32"}]
    with pytest.raises(ManifestError, match="truncated"):
        read_graph_model(write_model(tmp_path, entry, [np.zeros(3, np.float32).tobytes()]))
    with pytest.raises(ManifestError, match="2 bytes after the last weight"):
        read_graph_model(write_model(tmp_path, entry, [np.zeros(4, np.float32).tobytes()], extra=b"xx"))
    (tmp_path / "group1-shard1of1.bin").unlink()
    with pytest.raises(FileNotFoundError, match="group1-shard1of1.bin"):
        read_graph_model(tmp_path / "model.json")
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not a TF.js graph model"):
        read_graph_model(tmp_path / "model.json")
    with pytest.raises(FileNotFoundError, match="TF.js model not found"):
        read_graph_model(tmp_path / "absent.json")
    bad = [{"name": "w", "shape": [1], "dtype": "complex64"}]
    with pytest.raises(ManifestError, match="unsupported dtype"):
        read_graph_model(write_model(tmp_path, bad, [b"12345678"]))
