"""The training state: what a run needs to continue bit-exactly, in ``<out>.state.safetensors`` next to its
checkpoint (weights, AdamW moments, scheduler, step, RNG, and the weight average when the run keeps one; tensors in
safetensors, the rest as JSON metadata, no pickle). Written by ``train`` with every checkpoint, read by
``TrainConfig(resume=True)``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping

import torch

from hmr_ros.training.ema import WeightAverage

__all__ = ["STATE_FORMAT", "train_state_path", "save_train_state", "load_train_state"]

#: Marks a training-state file (and its layout version) in its metadata.
STATE_FORMAT = "hmr_ros.train_state/1"


def train_state_path(out_path: str | Path) -> Path:
    """Where the training state of the checkpoint ``out_path`` lives: ``run.safetensors`` -> ``run.state.safetensors``."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.stem + ".state.safetensors")


def save_train_state(path: str | Path, model: torch.nn.Module, opt: torch.optim.Optimizer,
                     sched: torch.optim.lr_scheduler.LRScheduler, step: int, steps: int,
                     extra: Mapping | None = None, average: WeightAverage | None = None) -> None:
    """Write everything a run needs to continue bit-exactly after ``step`` optimiser steps, atomically.

    Tensors (safetensors): ``model.<name>`` (state dict), ``ema.<name>`` (the weight average, when kept),
    ``optim.<i>.<key>`` (AdamW state of parameter i),
    ``rng.cpu`` / ``rng.cuda`` (torch generators). Metadata (JSON strings): ``format``, ``step``, ``steps``,
    ``param_groups`` (hyper-parameters, parameter indices), ``scheduler`` (its state dict without the lambdas, which
    are code), ``optim_scalars`` (non-tensor AdamW state) and ``extra`` (e.g. the network config).
    """
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if average is not None:
        tensors.update({f"ema.{k}": v.detach().contiguous().cpu() for k, v in average.shadow.items()})
    opt_state = opt.state_dict()
    scalars: dict[str, dict] = {}
    for i, entry in opt_state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{i}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(i), {})[key] = value
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    sched_state = {k: v for k, v in sched.state_dict().items() if k != "lr_lambdas"}
    meta = {"format": STATE_FORMAT, "step": str(step), "steps": str(steps),
            "param_groups": json.dumps(opt_state["param_groups"]), "scheduler": json.dumps(sched_state),
            "optim_scalars": json.dumps(scalars), "extra": json.dumps(dict(extra or {}), sort_keys=True)}
    if average is not None:
        meta["ema"] = json.dumps({"decay": average.decay, "updates": average.updates})
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)  # a crash mid-write leaves the previous state intact


def load_train_state(path: str | Path, model: torch.nn.Module, opt: torch.optim.Optimizer,
                     sched: torch.optim.lr_scheduler.LRScheduler, average: WeightAverage | None = None) -> dict:
    """Restore what :func:`save_train_state` wrote into a model, optimiser and scheduler built as for the first run
    (and the torch RNG). Returns the metadata with ``step`` and ``steps`` as ints and ``extra`` decoded.

    Raises FileNotFoundError when the file is missing, ValueError when it is no training state or does not fit.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training state not found: {path} (written next to the checkpoint by a run with "
                                "an output path; nothing to resume)")
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
        if meta.get("format") != STATE_FORMAT:
            raise ValueError(f"{path}: not a training state (format {meta.get('format')!r}, expected {STATE_FORMAT})")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(model_state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{path}: the saved weights do not fit this network ({exc})") from exc
    saved_average = json.loads(meta.get("ema", "null"))
    if (saved_average is None) != (average is None) or (average and saved_average["decay"] != average.decay):
        raise ValueError(f"{path}: the run kept {'no weight average' if saved_average is None else saved_average}; "
                         f"resume it with the same --ema, not {average.decay if average else 'none'}")
    if average is not None:
        average.load({k[len("ema."):]: v for k, v in tensors.items() if k.startswith("ema.")},
                     saved_average["updates"])
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, i, name = key.split(".", 2)
            state.setdefault(int(i), {})[name] = value
    for i, entry in json.loads(meta["optim_scalars"]).items():
        state.setdefault(int(i), {}).update(entry)
    opt.load_state_dict({"state": state, "param_groups": json.loads(meta["param_groups"])})
    sched_state = json.loads(meta["scheduler"])
    sched_state["lr_lambdas"] = [None] * len(opt.param_groups)
    sched.load_state_dict(sched_state)
    torch.set_rng_state(tensors["rng.cpu"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return {**meta, "step": int(meta["step"]), "steps": int(meta["steps"]), "extra": json.loads(meta["extra"])}
