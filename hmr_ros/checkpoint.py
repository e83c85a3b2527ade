"""SIAM checkpoints: safetensors only (no pickle: loading a checkpoint must never run code).

A checkpoint holds the full ``SIAM`` state dict plus the ``SIAMConfig`` as JSON metadata, so a mismatch between
the file and the network you build is reported by name (keys, shapes, config fields) instead of failing later.

Bundled weights (``hmr_ros/weights/``, trained by this project; docs/training.md says how each was made and what it
does and does not see): ``resolve_checkpoint("synthetic")``, its own synthetic people; ``"real"``, those weights
fine-tuned on real street video labelled by the BlazePose teacher; ``"movenet"``, SIAM-M: MoveNet MultiPose's
published backbone (pretrained on real photos, Apache-2.0) with heads this project trained, which sees people of any
scene.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from hmr_ros.model.siam import RETIRED_STATE_KEYS, SIAM

CONFIG_KEY = "hmr_ros.siam_config"
_SHOWN = 12  # keys listed per category in an error message
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: name -> file in WEIGHTS_DIR of the weights this project trained and ships: "synthetic" (procedural people only,
#: 128 px), "real" (fine-tuned from it on real street video labelled by the keypoint teacher, 384 px) and "movenet"
#: (SIAM-M on MoveNet's backbone, trained without any vtest frame, 384 px)
BUNDLED = {"synthetic": "siam_w32_s128_synthetic.safetensors", "real": "siam_w32_s384_real.safetensors",
           "movenet": "siam_movenet_s384.safetensors"}


def resolve_checkpoint(name_or_path: str | os.PathLike | None) -> Path | None:
    """A bundled name ("synthetic", "real") -> its file; a path -> that path; None or "" -> None (untrained)."""
    if not name_or_path:
        return None
    if str(name_or_path) in BUNDLED:
        return WEIGHTS_DIR / BUNDLED[str(name_or_path)]
    return Path(os.path.expanduser(str(name_or_path)))


def save_checkpoint(model: SIAM, path: str | os.PathLike, dtype: torch.dtype | None = None) -> None:
    """Write ``model``'s weights and config to a ``.safetensors`` file; ``dtype=torch.float16`` halves the file
    (floating tensors only; loading casts back to the model's dtype)."""
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    save_file(state, str(path), metadata={CONFIG_KEY: json.dumps(model.config.to_dict(), sort_keys=True)})


def _stored_config(meta: dict) -> dict:
    """SIAMConfig fields from a checkpoint's metadata, in today's names ({} when it has none).

    Files written before the backbone contract name the HRNet width ``variant`` and have no ``backbone`` field:
    they were all HRNet, so ``variant`` reads as ``width`` with ``backbone="hrnet"``."""
    if CONFIG_KEY not in meta:
        return {}
    stored = json.loads(meta[CONFIG_KEY])
    if "variant" in stored:
        stored["width"] = stored.pop("variant")
        stored.setdefault("backbone", "hrnet")
    return stored


def read_config(path: str | os.PathLike) -> dict:
    """The SIAMConfig fields stored in a checkpoint's metadata ({} when it has none)."""
    with safe_open(str(path), framework="pt") as f:
        return _stored_config(f.metadata() or {})


def _listing(title: str, items: list[str]) -> str:
    more = f" ... (+{len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
    return f"\n  {title} ({len(items)}): " + ", ".join(items[:_SHOWN]) + more


def load_checkpoint(model: SIAM, path: str | os.PathLike, part: str = "") -> dict:
    """Load weights into ``model`` strictly (``path`` may name bundled weights, see ``resolve_checkpoint``).
    Returns the config stored in the file (may be empty). ``part`` (e.g. ``"frame_net."``) loads only the tensors
    under that prefix, strictly there, and leaves the rest of the model as it is (a new temporal network on a
    trained frame network).

    Raises FileNotFoundError for a missing file, ValueError for a non-safetensors file, or for missing,
    unexpected or wrongly shaped tensors (listed by name).
    """
    path = resolve_checkpoint(path)
    if path is None or not path.is_file():
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
    stored = _stored_config(meta)
    asked = (model.config.backbone, model.config.width)
    trained = (stored.get("backbone", asked[0]), stored.get("width", asked[1]))
    loads_frame_net = not part or "frame_net.".startswith(part)  # a temporal network alone sees tokens only
    if trained != asked and loads_frame_net:  # the common mistake, in one line instead of a thousand missing keys
        raise ValueError(f"checkpoint {path} is a {trained[0]} {trained[1]} network, but backbone {asked[0]!r} width "
                         f"{asked[1]!r} was asked for: leave backbone and width at 'auto' (or set {trained[0]} / "
                         f"{trained[1]})")
    # buffers older versions saved that are now run-time settings (score_threshold): not a mismatch
    state = {k: v for k, v in state.items() if k not in RETIRED_STATE_KEYS}

    expected = model.state_dict()
    if part:
        state = {k: v for k, v in state.items() if k.startswith(part)}
        expected = {k: v for k, v in expected.items() if k.startswith(part)}
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
    model.load_state_dict(state, strict=not part)
    return stored
