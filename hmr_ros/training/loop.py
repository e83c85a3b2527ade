"""A small training loop for SIAM on the synthetic clips of ``hmr_ros.training.dataset``.

    result = train(SIAMConfig(input_size=256, window=4, max_people=4), steps=2000, batch_clips=4, lr=3e-4,
                   device="cuda", seed=0, out_path="siam_synthetic.safetensors", log_every=50)

AdamW with a linear warm-up and a cosine decay to 10 % of ``lr``, gradient-norm clipping, bfloat16 autocast on CUDA
(no loss scaling needed; the weights and the optimiser stay float32), and a safetensors checkpoint (with the config)
written by :func:`hmr_ros.checkpoint.save_checkpoint` every ``save_every`` steps and at the end. The objective is
:func:`hmr_ros.training.siam_losses`. Command line: ``python -m hmr_ros train --help``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import torch
from torch.utils.data import DataLoader

from hmr_ros.checkpoint import load_checkpoint, save_checkpoint
from hmr_ros.model.hrnet_checkpoint import init_backbone
from hmr_ros.model.siam import SIAM, SIAMConfig
from hmr_ros.training.dataset import SyntheticClipDataset, collate
from hmr_ros.training.losses import ClipBatch, siam_losses

__all__ = ["TrainResult", "train", "synthetic_batches", "lr_factor"]

LOSS_NAMES = ("heatmap", "pose", "betas", "cam", "total")


@dataclass
class TrainResult:
    """What a run did. history: one dict of loss values (LOSS_NAMES) per step; step_seconds: wall time per step
    (data wait included); out_path: the checkpoint written (None when no path was given)."""

    config: SIAMConfig
    history: list[dict[str, float]] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    out_path: Path | None = None


def lr_factor(step: int, steps: int, warmup: int) -> float:
    """Learning-rate multiplier at ``step`` (0-based): linear warm-up over ``warmup`` steps, then cosine to 0.1."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def synthetic_batches(config: SIAMConfig, batch_clips: int, seed: int, workers: int = 0,
                      **dataset_kwargs) -> Iterator[ClipBatch]:
    """An endless stream of ClipBatches of ``batch_clips`` synthetic clips; ``workers`` DataLoader processes render
    in parallel (0 = in this process). ``dataset_kwargs`` go to :class:`SyntheticClipDataset`."""
    dataset = SyntheticClipDataset(config, seed=seed, **dataset_kwargs)
    loader = DataLoader(dataset, batch_size=batch_clips, collate_fn=collate, num_workers=workers,
                        persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None)
    return iter(loader)


def _to(batch: ClipBatch, device: torch.device) -> ClipBatch:
    return ClipBatch(*(getattr(batch, n).to(device, non_blocking=True) for n in
                       ("images", "heatmaps", "index", "mask", "rotmats", "betas", "cam")))


def train(config: SIAMConfig, steps: int, batch_clips: int, lr: float, device: str | torch.device, seed: int,
          out_path: str | Path | None, log_every: int, init_checkpoint: str | Path | None = None, *,
          data: Iterable[ClipBatch] | None = None, workers: int = 0, weight_decay: float = 1e-4,
          grad_clip: float = 1.0, warmup_steps: int | None = None, amp: bool = True, save_every: int = 0,
          backbone_weights: str | Path | None = None,
          log: Callable[[str], None] = print, **dataset_kwargs) -> TrainResult:
    """Train a SIAM network from scratch (or from ``init_checkpoint``) and save it to ``out_path``.

    Args:
        config: the network; its S, T, K also shape the synthetic samples.
        steps: optimiser steps. batch_clips: clips per step (B; B*T frames go through the backbone).
        lr: peak learning rate (AdamW). device: torch device ("cpu", "cuda", "cuda:1").
        seed: initialisation and data seed. out_path: .safetensors checkpoint to write, or None.
        log_every: print the mean loss per component and the time per step every this many steps (0 = never).
        init_checkpoint: weights to start from (strictly matching ``config``'s network).
        backbone_weights: without ``init_checkpoint``, an official HRNet ImageNet or pose checkpoint
            (.safetensors) to initialise the backbone from (``hmr_ros.model.hrnet_checkpoint.init_backbone``;
            what was loaded, ignored or left fresh is logged).
        data: ClipBatches to train on instead of the synthetic stream (e.g. one fixed batch repeated); must yield
            at least ``steps`` batches.
        workers: DataLoader processes rendering synthetic clips (ignored with ``data``).
        weight_decay: AdamW decoupled weight decay. grad_clip: max global gradient norm (0 = no clipping).
        warmup_steps: linear warm-up length (default min(100, steps // 10)).
        amp: bfloat16 autocast (CUDA and CPU; weights and optimiser stay float32).
        save_every: also write the checkpoint every this many steps (0 = only at the end).
        log: where progress lines go.
        dataset_kwargs: passed to :class:`hmr_ros.synthetic_dataset.SyntheticClipDataset`.
    """
    if steps < 1 or batch_clips < 1 or not lr > 0 or log_every < 0 or save_every < 0 or workers < 0:
        raise ValueError(f"train: need steps >= 1, batch_clips >= 1, lr > 0, log_every/save_every/workers >= 0; got "
                         f"steps={steps}, batch_clips={batch_clips}, lr={lr}, log_every={log_every}, "
                         f"save_every={save_every}, workers={workers}")
    if out_path is not None and Path(out_path).suffix != ".safetensors":
        raise ValueError(f"train: out_path must end in .safetensors, got {out_path}")
    device = torch.device(device)
    torch.manual_seed(seed)
    model = SIAM(config)
    if init_checkpoint and backbone_weights:
        raise ValueError("train: give init_checkpoint or backbone_weights, not both (a checkpoint holds a backbone)")
    if init_checkpoint:
        load_checkpoint(model, init_checkpoint)
    elif backbone_weights:
        report, fresh = init_backbone(model.frame_net.backbone, backbone_weights)
        log(f"backbone initialised from {backbone_weights}: {report}"
            + (f"; {len(fresh)} tensors the checkpoint's layout lacks keep their fresh init" if fresh else ""))
    model.to(device).train()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]  # norms and biases
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    warmup = min(100, steps // 10) if warmup_steps is None else warmup_steps
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: lr_factor(i, steps, max(warmup, 1)))
    # bf16 autocast on CPU too: AVX-512 BF16 CPUs run a W32 forward+backward 1.75x faster
    use_amp = amp and device.type in ("cuda", "cpu")
    batches = iter(data) if data is not None else synthetic_batches(config, batch_clips, seed, workers,
                                                                    **dataset_kwargs)
    result = TrainResult(config=config, out_path=Path(out_path) if out_path is not None else None)
    log(f"training SIAM-{config.variant} S={config.input_size} T={config.window} K={config.max_people} on {device}: "
        f"{steps} steps x {batch_clips} clips, lr {lr:g}, amp {'bf16' if use_amp else 'off'}")
    for step in range(steps):
        t0 = time.perf_counter()
        try:
            batch = _to(next(batches), device)
        except StopIteration:
            raise ValueError(f"train: the data ran out after {step} of {steps} steps") from None
        t_data = time.perf_counter() - t0
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            losses = siam_losses(model, batch)
        total = losses["total"]
        if not torch.isfinite(total):
            raise FloatingPointError(f"train: non-finite loss at step {step}: "
                                     + ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in losses.items()))
        total.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        sched.step()
        result.history.append({k: float(losses[k].detach()) for k in LOSS_NAMES})
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        result.step_seconds.append(time.perf_counter() - t0)
        if log_every and ((step + 1) % log_every == 0 or step + 1 == steps):
            recent = result.history[-log_every:]
            means = {k: sum(h[k] for h in recent) / len(recent) for k in LOSS_NAMES}
            ms = 1e3 * sum(result.step_seconds[-log_every:]) / len(recent)
            log(f"step {step + 1:>6d}/{steps}  " + "  ".join(f"{k} {v:.4f}" for k, v in means.items())
                + f"  | {ms:.0f} ms/step (last data wait {1e3 * t_data:.0f} ms)  lr {sched.get_last_lr()[0]:.2e}")
        if out_path is not None and save_every and (step + 1) % save_every == 0 and step + 1 < steps:
            save_checkpoint(model, out_path)
    if out_path is not None:
        save_checkpoint(model, out_path)
        log(f"wrote {out_path}")
    return result
