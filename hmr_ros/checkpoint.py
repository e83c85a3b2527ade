"""SIAM checkpoints: safetensors only (no pickle: loading a checkpoint must never run code).

A checkpoint holds the full ``SIAM`` state dict plus the ``SIAMConfig`` as JSON metadata, so a mismatch between
the file and the network you build is reported by name (keys, shapes, config fields) instead of failing later.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from hmr_ros.model.siam import SIAM

CONFIG_KEY = "hmr_ros.siam_config"
_SHOWN = 12  # keys listed per category in an error message


def save_checkpoint(model: SIAM, path: str | os.PathLike) -> None:
    """Write ``model``'s weights and config to a ``.safetensors`` file."""
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={CONFIG_KEY: json.dumps(model.config.to_dict(), sort_keys=True)})


def _listing(title: str, items: list[str]) -> str:
    more = f" ... (+{len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
    return f"\n  {title} ({len(items)}): " + ", ".join(items[:_SHOWN]) + more


def load_checkpoint(model: SIAM, path: str | os.PathLike) -> dict:
    """Load weights into ``model`` strictly. Returns the config stored in the file (may be empty).

    Raises FileNotFoundError for a missing file, ValueError for a non-safetensors file, or for missing,
    unexpected or wrongly shaped tensors (listed by name).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix != ".safetensors":
        raise ValueError(f"checkpoint {path}: only .safetensors files are loaded (pickle-based .pt/.pth/.ckpt can "
                         "run arbitrary code; convert them once with a trusted script)")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"checkpoint {path} is not a readable safetensors file: {e}") from e
    stored = json.loads(meta[CONFIG_KEY]) if CONFIG_KEY in meta else {}

    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(f"{k} file {tuple(state[k].shape)} != model {tuple(v.shape)}"
                    for k, v in expected.items() if k in state and state[k].shape != v.shape)
    if missing or unexpected or shapes:
        msg = f"checkpoint {path} does not match the network built from {model.config}"
        if stored:
            diff = {k: (v, getattr(model.config, k, None)) for k, v in stored.items()
                    if getattr(model.config, k, None) != v}
            if diff:
                msg += "\n  config fields differing (file, model): " + ", ".join(f"{k}={a!r}/{b!r}" for k, (a, b) in diff.items())
        if missing:
            msg += _listing("missing in file", missing)
        if unexpected:
            msg += _listing("unexpected in file", unexpected)
        if shapes:
            msg += _listing("shape mismatches", shapes)
        raise ValueError(msg)
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"checkpoint {path} holds non-finite values" + _listing("tensors", sorted(bad)))
    model.load_state_dict(state, strict=True)
    return stored


def weights_hash(path: str | os.PathLike) -> str:
    """SHA-256 (hex, first 16) of a checkpoint file: the weights part of engine cache keys."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]
