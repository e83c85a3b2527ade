"""Load official, timm or prefixed HRNet weights into :class:`~hmr_ros.model.backbones.hrnet.HRNet`, strictly matched.

Accepted key sets (all share the backbone names of the official code, see ``hrnet.py``):

================  ===================================================================================
``hrnet-cls``     HRNet-Image-Classification, and timm ``hrnet_w32``/``hrnet_w48`` (timm keeps the official
                  names: ``incre_modules.*``, ``downsamp_modules.*``, ``final_layer.*``, ``classifier.*``)
``hrnet-pose``    deep-high-resolution-net.pytorch: ``final_layer.{weight,bias}`` (one 1x1 conv) and a
                  last stage-4 module without ``fuse_layers.1..3`` -- needs ``HRNet(layout="pose")``
``timm-features`` timm ``features_only=True`` (default ``feature_location="incre"``): ``incre_modules.*`` only
``backbone``      no head at all (timm ``feature_location=""``, or a state dict of our own HRNet)
``other``         a ``backbone.``-prefixed model whose heads are not HRNet's (e.g. mmpose ``keypoint_head.*``)
================  ===================================================================================

Keys may carry ``module.`` (DataParallel) and/or ``backbone.`` (mmpose, detectors) prefixes. When a ``backbone.``
prefix is present, every key outside it belongs to some head and is ignored. Head keys are never loaded; they are
listed in the report. BatchNorm ``num_batches_tracked`` counters are skipped (old checkpoints lack them and they do
not affect inference) and counted. Everything else is strict: a missing, unexpected or wrongly shaped backbone
key raises ``ValueError`` naming the keys.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

# The HRNet class comes in as the model (``type(model)``), not as an import: hrnet.py calls this module from
# ``HRNet.load_pretrained``, and the two must not import each other.

__all__ = ["HRNetLoadReport", "load_hrnet_weights", "HEAD_PREFIXES"]

#: Top-level modules of the official classification and pose heads (also timm's names).
HEAD_PREFIXES = ("incre_modules.", "downsamp_modules.", "final_layer.", "classifier.")

_SAFE_SUFFIXES = (".safetensors",)
_PICKLE_SUFFIXES = (".pth", ".pt", ".pkl", ".tar", ".bin")
_WRAPPER_KEYS = ("state_dict", "model")  # training checkpoints nest the weights under one of these
_BATCH_COUNTER = "num_batches_tracked"
_LIST_LIMIT = 20


@dataclass
class HRNetLoadReport:
    """What :func:`load_hrnet_weights` did.

    Attributes:
        source_format: ``"hrnet-cls"``, ``"hrnet-pose"``, ``"timm-features"``, ``"backbone"`` or ``"other"``
            (see the module docstring).
        loaded: number of tensors copied into the model.
        ignored: head keys (as found in the source, prefixes included) that were not loaded.
        skipped_batch_counters: BatchNorm ``num_batches_tracked`` entries skipped.
        prefix: the prefix stripped from backbone keys (``""``, ``"module."``, ``"backbone."`` ...).
    """

    source_format: str
    loaded: int
    ignored: list[str] = field(default_factory=list)
    skipped_batch_counters: int = 0
    prefix: str = ""

    def __str__(self) -> str:
        prefix = f", prefix {self.prefix!r} stripped" if self.prefix else ""
        text = (
            f"HRNet weights ({self.source_format}{prefix}): loaded {self.loaded} tensors, "
            f"ignored {len(self.ignored)} head keys, skipped {self.skipped_batch_counters} BN batch counters"
        )
        if self.ignored:
            heads = sorted({_head_name(key) for key in self.ignored})
            text += f" (heads: {', '.join(heads)})"
        return text


def _head_name(key: str) -> str:
    """First component of a head key after removing ``module.``/``backbone.`` wrappers."""
    parts = [p for p in key.split(".") if p not in ("module", "backbone")]
    return parts[0] if parts else key


# --------------------------------------------------------------------------------------------------------------
# Reading sources
# --------------------------------------------------------------------------------------------------------------
def _read_file(path: Path, allow_pickle: bool) -> Mapping[str, object]:
    if not path.is_file():
        raise ValueError(f"HRNet checkpoint not found: {path}")
    suffix = path.suffix.lower()
    if suffix in _SAFE_SUFFIXES:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError) as err:
            raise ValueError(f"cannot read safetensors file {path}: {err}") from err
    if suffix in _PICKLE_SUFFIXES:
        if not allow_pickle:
            raise ValueError(
                f"{path} is a pickle-based checkpoint ({suffix}); unpickling can execute code, so it is only read "
                "with load_hrnet_weights(..., allow_pickle=True) for a file you trust. Better: convert it once to "
                ".safetensors."
            )
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises several types for corrupt or non-tensor pickles
            raise ValueError(f"cannot read {path} with torch.load(weights_only=True): {err}") from err
    raise ValueError(
        f"unsupported HRNet checkpoint type {path.name!r}; expected {_SAFE_SUFFIXES[0]} "
        f"(or {', '.join(_PICKLE_SUFFIXES)} with allow_pickle=True)"
    )


def _as_state_dict(obj: Mapping[str, object], origin: str) -> dict[str, Tensor]:
    """Unwrap ``{"state_dict": {...}}``-style training checkpoints and check every value is a tensor."""
    if not isinstance(obj, Mapping):
        raise ValueError(f"{origin}: expected a mapping of parameter names to tensors, got {type(obj).__name__}")
    for wrapper in _WRAPPER_KEYS:
        if isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
            break
    if not obj:
        raise ValueError(f"{origin}: the checkpoint holds no tensors")
    not_tensors = [str(k) for k, v in obj.items() if not isinstance(v, Tensor)]
    if not_tensors:
        raise ValueError(
            f"{origin}: expected a mapping of parameter names to tensors; non-tensor entries: {_listing(not_tensors)}"
        )
    return dict(obj)


# --------------------------------------------------------------------------------------------------------------
# Key mapping
# --------------------------------------------------------------------------------------------------------------
def _without_module(key: str) -> str:
    """Drop (possibly repeated) ``module.`` prefixes left by DataParallel / DistributedDataParallel."""
    while key.startswith("module."):
        key = key[len("module."):]
    return key


def _split_backbone(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], list[str], str]:
    """Split source keys into backbone tensors (official names) and ignored head keys.

    Returns:
        (backbone state dict, ignored source keys, stripped prefix of the backbone keys)
    """
    in_backbone_namespace = any(_without_module(k).startswith("backbone.") for k in state)
    backbone: dict[str, Tensor] = {}
    ignored: list[str] = []
    prefixes: set[str] = set()
    for original, value in state.items():
        key = _without_module(original)
        if in_backbone_namespace:
            if not key.startswith("backbone."):  # a head next to the backbone (mmpose `keypoint_head.`, ...)
                ignored.append(original)
                continue
            key = key[len("backbone."):]
        if key.startswith(HEAD_PREFIXES):
            ignored.append(original)
            continue
        if key in backbone:
            raise ValueError(f"two source keys map to the HRNet key {key!r} (one is {original!r})")
        backbone[key] = value
        prefixes.add(original[: len(original) - len(key)])
    return backbone, ignored, " / ".join(sorted(prefixes))


def _detect_format(ignored: list[str]) -> str:
    """Name the checkpoint family from its head keys (the backbone keys are the same in all of them)."""
    heads = {_head_name(k) for k in ignored}
    if not heads:
        return "backbone"
    if not heads <= {p.rstrip(".") for p in HEAD_PREFIXES}:
        return "other"
    if "classifier" in heads or "downsamp_modules" in heads:
        return "hrnet-cls"
    # The pose head is one bare conv (`final_layer.weight`); the classification one a Sequential (`final_layer.0.*`).
    if any(_without_module(k).removeprefix("backbone.") == "final_layer.weight" for k in ignored):
        return "hrnet-pose"
    if heads == {"incre_modules"}:
        return "timm-features"
    return "other"


# --------------------------------------------------------------------------------------------------------------
# Strict check and load
# --------------------------------------------------------------------------------------------------------------
def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:_LIST_LIMIT])
    more = f", ... ({len(keys) - _LIST_LIMIT} more)" if len(keys) > _LIST_LIMIT else ""
    return f"[{shown}{more}]"


def _hints(model: nn.Module, source: dict[str, Tensor], missing: list[str], unexpected: list[str]) -> list[str]:
    """Name the likely cause of a mismatch: the wrong layout or the wrong width."""
    hints = []
    last = f"stage4.{len(model.stage4) - 1}.fuse_layers."
    coarse_fuse = tuple(f"{last}{i}." for i in range(1, 4))
    if model.layout == "cls" and any(k.startswith(coarse_fuse) for k in missing) and not any(
        k.startswith(coarse_fuse) for k in source
    ):
        hints.append(
            "the checkpoint has no fuse_layers 1..3 in the last stage-4 module: it is a pose HRNet "
            f"checkpoint; build the model with HRNet({model.width!r}, layout='pose')"
        )
    if model.layout == "pose" and any(k.startswith(coarse_fuse) for k in unexpected):
        hints.append(
            "the checkpoint fuses all branches in the last stage-4 module: it is a classification HRNet "
            f"checkpoint; build the model with HRNet({model.width!r}, layout='cls')"
        )
    width_key = "transition1.0.0.weight"
    if width_key in source:
        width = source[width_key].shape[0]
        name = f"w{width}"  # HRNet widths are named by C, the channels of branch 0 (= transition1.0's)
        if name in type(model).WIDTHS and model.width != name:
            hints.append(f"the checkpoint is HRNet-W{width}; build the model with HRNet({name!r}, ...)")
    return hints


def _check_strict(model: nn.Module, source: dict[str, Tensor], origin: str) -> None:
    expected = {k: v for k, v in model.state_dict().items() if not k.endswith(_BATCH_COUNTER)}
    missing = [k for k in expected if k not in source]
    unexpected = [k for k in source if k not in expected]
    mismatched = [
        f"{k}: checkpoint {tuple(source[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in source and source[k].shape != v.shape
    ]
    if not (missing or unexpected or mismatched):
        return
    lines = [f"{origin} does not match HRNet({model.width!r}, layout={model.layout!r}):"]
    for name, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched)):
        if keys:
            lines.append(f"  {name} ({len(keys)}): {_listing(keys)}")
    lines += [f"  hint: {h}" for h in _hints(model, source, missing, unexpected)]
    raise ValueError("\n".join(lines))


def load_hrnet_weights(
    model: nn.Module, source: str | os.PathLike | Mapping[str, Tensor], *, allow_pickle: bool = False
) -> HRNetLoadReport:
    """Copy HRNet backbone weights into ``model`` (in place) after mapping and strictly checking the keys.

    Args:
        model: the backbone to fill.
        source: a ``.safetensors`` path, a state dict, or (only with ``allow_pickle=True``, for a file you
            trust) a ``.pth``/``.pt``/``.pkl`` path read with ``torch.load(weights_only=True)``. Training
            checkpoints that nest the weights under ``"state_dict"`` or ``"model"`` are unwrapped.
        allow_pickle: opt-in to read pickle-based files.

    Returns:
        An :class:`HRNetLoadReport`; ``str(report)`` is a one-line summary.

    Raises:
        ValueError: unreadable/unsupported file, non-tensor values, or backbone keys that do not match the
            model exactly (the message lists the missing, unexpected and mis-shaped keys and a likely cause).
    """
    if isinstance(source, (str, os.PathLike)):
        origin = str(source)
        raw = _read_file(Path(source), allow_pickle)
    else:
        origin = "state dict"
        raw = source
    state = _as_state_dict(raw, origin)

    backbone, ignored, prefix = _split_backbone(state)
    counters = [k for k in backbone if k.endswith(_BATCH_COUNTER)]
    for key in counters:
        del backbone[key]
    _check_strict(model, backbone, origin)

    # Strict on everything but the BN batch counters, which _check_strict already excluded.
    model.load_state_dict(backbone, strict=False)
    return HRNetLoadReport(
        source_format=_detect_format(ignored),
        loaded=len(backbone),
        ignored=ignored,
        skipped_batch_counters=len(counters),
        prefix=prefix,
    )


def init_backbone(
    backbone: nn.Module, source: str | os.PathLike | Mapping[str, Tensor], *, allow_pickle: bool = False
) -> tuple[HRNetLoadReport, list[str]]:
    """Initialise a (``cls``-layout, as in SIAM) backbone from an ImageNet or a pose HRNet checkpoint.

    ImageNet/timm/backbone checkpoints load strictly (:func:`load_hrnet_weights`). A pose checkpoint lacks the
    last stage-4 module's fusions into branches 1-3 (its network outputs branch 0 only): it is loaded strictly into
    a pose-layout HRNet, every tensor the two layouts share is copied, and those fusions keep their fresh
    initialisation, to be learnt in training.

    Returns:
        The load report and the backbone keys left at their initial values (empty unless a pose checkpoint was
        given to a ``cls`` backbone).

    Raises:
        ValueError: as :func:`load_hrnet_weights` (the error of the backbone's own layout).
    """
    try:
        return load_hrnet_weights(backbone, source, allow_pickle=allow_pickle), []
    except ValueError as own_layout_error:
        if backbone.layout != "cls":
            raise
        pose = type(backbone)(backbone.width, "pose")
        try:
            report = load_hrnet_weights(pose, source, allow_pickle=allow_pickle)
        except ValueError:
            raise own_layout_error from None
    result = backbone.load_state_dict(pose.state_dict(), strict=False)
    if result.unexpected_keys:  # the pose layout is a subset of the cls layout; anything else is a bug
        raise ValueError(f"pose HRNet keys not in the cls layout: {result.unexpected_keys}")
    return report, sorted(result.missing_keys)
