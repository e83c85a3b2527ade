"""TensorFlow.js graph-model weights, read without TensorFlow: the manifest and its binary shards -> numpy arrays.

A TF.js graph model is ``model.json`` (``modelTopology``: the GraphDef as JSON; ``weightsManifest``: groups of
``{"paths": [shard files], "weights": [{"name", "shape", "dtype", "quantization"?}]}``) plus the shard files, in
which the tensors lie back to back in manifest order. A quantised entry stores its values in a smaller type:
``float16`` as IEEE halves, ``uint8``/``uint16`` as ``value = q * scale + min``. Nothing here runs the graph; the
backbone modules pick the tensors they need by name.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_, "float16": np.float16,
           "uint8": np.uint8, "uint16": np.uint16}


class ManifestError(ValueError):
    """The model.json or its shards are not a readable TF.js graph model (message names the file)."""


@dataclass(frozen=True)
class GraphModel:
    """A loaded TF.js graph model: ``weights`` by node name (float32 / int32 arrays in the manifest's shapes) and
    ``nodes`` (the GraphDef's node list: dicts with ``name``, ``op``, ``input``, ``attr``)."""

    path: Path
    weights: dict[str, np.ndarray]
    nodes: list[dict]

    def constant(self, name: str) -> np.ndarray:
        """The weight named ``name`` (``StatefulPartitionedCall/`` prefix optional); KeyError naming the file."""
        for key in (name, "StatefulPartitionedCall/" + name):
            if key in self.weights:
                return self.weights[key]
        raise KeyError(f"{self.path}: no weight named {name!r}")


def _decode(entry: dict, raw: memoryview, where: str) -> tuple[np.ndarray, int]:
    """One manifest entry from the start of ``raw`` -> (array, bytes consumed)."""
    shape = tuple(int(s) for s in entry.get("shape", []))
    count = int(np.prod(shape)) if shape else 1
    dtype = entry.get("dtype")
    quant = entry.get("quantization")
    stored = (quant or {}).get("dtype", dtype)
    if dtype not in _DTYPES or stored not in _DTYPES:
        raise ManifestError(f"{where}: weight {entry.get('name')!r} has unsupported dtype {dtype!r}/{stored!r}")
    stored_dtype = np.dtype(_DTYPES[stored]).newbyteorder("<")
    nbytes = count * stored_dtype.itemsize
    if nbytes > len(raw):
        raise ManifestError(f"{where}: the weight shards end inside {entry.get('name')!r} (truncated file?)")
    values = np.frombuffer(raw[:nbytes], dtype=stored_dtype, count=count)
    if quant and stored in ("uint8", "uint16"):
        values = values.astype(np.float32) * float(quant["scale"]) + float(quant["min"])
    return values.astype(_DTYPES[dtype]).reshape(shape), nbytes


def read_graph_model(model_json: str | os.PathLike) -> GraphModel:
    """Read ``model.json`` and the shards it names (next to it) -> ``GraphModel``.

    Raises FileNotFoundError for a missing file, ManifestError for anything malformed: not JSON, not a graph model,
    a shard shorter or longer than its manifest says.
    """
    path = Path(model_json)
    if not path.is_file():
        raise FileNotFoundError(f"TF.js model not found: {path}")
    try:
        doc = json.loads(path.read_text())
        nodes = doc["modelTopology"]["node"]
        groups = doc["weightsManifest"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
        raise ManifestError(f"{path} is not a TF.js graph model ({type(e).__name__}: {e})") from None
    weights: dict[str, np.ndarray] = {}
    for group in groups:
        shards = [path.parent / p for p in group["paths"]]
        for shard in shards:
            if not shard.is_file():
                raise FileNotFoundError(f"TF.js weight shard not found: {shard} (named by {path})")
        raw = memoryview(b"".join(s.read_bytes() for s in shards))
        where = f"{path} ({', '.join(s.name for s in shards)})"
        offset = 0
        for entry in group["weights"]:
            weights[entry["name"]], used = _decode(entry, raw[offset:], where)
            offset += used
        if offset != len(raw):
            raise ManifestError(f"{where}: {len(raw) - offset} bytes after the last weight (wrong shard?)")
    return GraphModel(path, weights, nodes)
