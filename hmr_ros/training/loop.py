"""A small training loop for SIAM on the synthetic clips of ``hmr_ros.training.dataset``.

    result = train(SIAMConfig(input_size=256, window=4, max_people=4),
                   TrainConfig(steps=2000, batch_clips=4, lr=3e-4, device="cuda", out_path="siam.safetensors",
                               log_every=50))

AdamW with a linear warm-up and a cosine decay to 10 % of ``lr``, gradient-norm clipping, bfloat16 autocast on CUDA
(no loss scaling needed; the weights and the optimiser stay float32), and a safetensors checkpoint (with the config)
written by :func:`hmr_ros.checkpoint.save_checkpoint` every ``save_every`` steps and at the end. The objective is
:func:`hmr_ros.training.losses.siam_losses` with ``LossWeights``. Next to the checkpoint, ``<out>.state.safetensors``
(:mod:`hmr_ros.training.train_state`) holds what a run needs to continue exactly: ``TrainConfig(..., resume=True)``.
With ``ema`` the checkpoint holds a running average of the weights (:mod:`hmr_ros.training.ema`). Optional: one CSV row per step (``log_csv``) and a
progress line with ETA on stderr (``progress``). Command line: ``python -m hmr_ros train --help``.
"""
from __future__ import annotations

import csv
import math
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import torch
from torch.utils.data import DataLoader

from hmr_ros.checkpoint import load_checkpoint, save_checkpoint
from hmr_ros.training import distributed
from hmr_ros.model.siam import SIAM, SIAMConfig
from hmr_ros.training.dataset import SyntheticClipDataset, collate
from hmr_ros.training.shard_dataset import ShardClipDataset
from hmr_ros.training.losses import LOSS_TERMS, ClipBatch, LossWeights, siam_losses
from hmr_ros.training.ema import WeightAverage
from hmr_ros.training.train_state import load_train_state, save_train_state, train_state_path

__all__ = ["TrainConfig", "TrainResult", "train", "synthetic_batches", "shard_batches", "lr_factor", "CSV_COLUMNS",
           "LOSS_NAMES"]

#: What each step reports: the weighted terms of the objective and their sum.
LOSS_NAMES = LOSS_TERMS + ("total",)
#: Columns of ``log_csv``: the optimiser step (1-based), each loss, the learning rate the step used, wall time of the
#: step and the part of it spent waiting for data, in milliseconds.
CSV_COLUMNS = ("step",) + LOSS_NAMES + ("lr", "ms_per_step", "data_ms")
#: A real-data stream resumed at step n is seeded seed + this * n (a prime, so it never meets a rank's offset).
RESUME_SEED_STRIDE = 104_729


@dataclass
class TrainResult:
    """What a run did. history: one dict of loss values (LOSS_NAMES) per step (the mean over the processes under
    torchrun); step_seconds: wall time per step (data wait included); out_path: the checkpoint written (None when no
    path was given, and on every process but rank 0); model: the trained network."""

    config: SIAMConfig
    history: list[dict[str, float]] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    out_path: Path | None = None
    model: torch.nn.Module | None = None


def lr_factor(step: int, steps: int, warmup: int) -> float:
    """Learning-rate multiplier at ``step`` (0-based): linear warm-up over ``warmup`` steps, then cosine to 0.1."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def synthetic_batches(config: SIAMConfig, batch_clips: int, seed: int, workers: int = 0,
                      **dataset_kwargs) -> Iterator[ClipBatch]:
    """An endless stream of ClipBatches of ``batch_clips`` synthetic clips; ``workers`` DataLoader processes render
    in parallel (0 = in this process). ``dataset_kwargs`` go to :class:`SyntheticClipDataset` (``start`` = first
    clip index, for a resumed run)."""
    dataset = SyntheticClipDataset(config, seed=seed, **dataset_kwargs)
    loader = DataLoader(dataset, batch_size=batch_clips, collate_fn=collate, num_workers=workers,
                        persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None)
    return iter(loader)


def shard_batches(config: SIAMConfig, batch_clips: int, seed: int, directory: str | Path, workers: int = 0,
                  **dataset_kwargs) -> Iterator[ClipBatch]:
    """An endless stream of ClipBatches of ``batch_clips`` clips read from the shard directory ``directory``
    (:class:`ShardClipDataset`; ``workers`` DataLoader processes decode and pose in parallel, 0 = in this process).
    ``dataset_kwargs`` go to the dataset (``start`` = first sample index, for a resumed run)."""
    dataset = ShardClipDataset(config, directory, seed=seed, **dataset_kwargs)
    loader = DataLoader(dataset, batch_size=batch_clips, collate_fn=collate, num_workers=workers,
                        persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None)
    return iter(loader)


def _to(batch: ClipBatch, device: torch.device) -> ClipBatch:
    return batch.to(device, non_blocking=True)


def _open_csv(path: Path, start: int):
    """The CSV log, opened for appending rows after ``start``: a fresh file gets the header; a resumed run keeps
    the rows up to ``start`` and drops later ones (steps the interrupted run logged after its last save)."""
    rows: list[list[str]] = []
    if start > 0 and path.is_file():
        with open(path, newline="") as fh:
            old = list(csv.reader(fh))
        if old and tuple(old[0]) != CSV_COLUMNS:
            raise ValueError(f"log_csv {path}: its columns {old[0]} are not {list(CSV_COLUMNS)}")
        rows = [r for r in old[1:] if r and int(r[0]) <= start]
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "w", newline="")
    writer = csv.writer(fh)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    fh.flush()
    return fh, writer


def _progress(step: int, steps: int, start: int, seconds: list[float]) -> str:
    """``[#####.....]  120/2000   6%  1.41 s/step  ETA 0:44:12``: the mean of the last 20 steps times what is left."""
    done = step - start
    recent = seconds[-20:]
    per = sum(recent) / max(1, len(recent))
    eta = int(round(per * (steps - step)))
    width = 30
    fill = int(width * step / steps)
    return (f"[{'#' * fill}{'.' * (width - fill)}] {step:>{len(str(steps))}d}/{steps} {100 * step / steps:3.0f}%  "
            f"{per:.2f} s/step  ETA {eta // 3600}:{eta // 60 % 60:02d}:{eta % 60:02d}"
            + (f"  (resumed at {start})" if start and done < 20 else ""))


@dataclass
class TrainConfig:
    """How a run trains: schedule, optimiser, where it writes and what it logs. The network is a ``SIAMConfig``;
    the data are :func:`train`'s keyword arguments.

    steps: optimiser steps. batch_clips: clips per step (B; B*T frames go through the backbone).
    lr: peak learning rate (AdamW). device: torch device ("cpu", "cuda", "cuda:1").
    seed: initialisation and data seed. out_path: .safetensors checkpoint to write, or None.
    log_every: print the mean loss per component and the time per step every this many steps (0 = never).
    init_checkpoint: weights to start from (strictly matching the network).
    backbone_weights: without ``init_checkpoint``, published backbone weights (.safetensors, e.g. an official HRNet
        ImageNet or pose checkpoint) to initialise the backbone from (the backbone's ``load_pretrained``; what was
        loaded, ignored or left fresh is logged).
    weight_decay: AdamW decoupled weight decay. grad_clip: max global gradient norm (0 = no clipping).
    warmup_steps: linear warm-up length (default min(100, steps // 10)).
    amp: bfloat16 autocast (CUDA and CPU; weights and optimiser stay float32).
    save_every: also write the checkpoint every this many steps (0 = only at the end).
    loss_weights: weight per loss term (``LossWeights`` or a partial {term: weight} mapping; default
        ``LossWeights()``).
    resume: continue the run whose checkpoint is ``out_path`` from its training state (:func:`train_state_path`,
        written with every checkpoint): weights, optimiser, scheduler, step and RNG, so the next steps are exactly
        those of an uninterrupted run with the same arguments and data. The run ends at ``steps`` in total; the
        synthetic stream continues at the next clip (exact with ``workers=0``), while ``data`` is read from its
        start (position it yourself). Excludes ``init_checkpoint``.
    log_csv: also write one CSV row per step (:data:`CSV_COLUMNS`) to this path; flushed every row.
    progress: redraw a progress bar with ETA on stderr after every step.
    accumulate: split each process's share of a batch into this many micro-batches, one forward/backward each
        (gradients summed, then one step): the memory of a smaller batch, the step of the whole one.
    ema: keep a running average of the weights with this decay (:class:`~hmr_ros.training.ema.WeightAverage`;
        0 = none) and write it, not the last step's weights, as the checkpoint (and as ``TrainResult.model``).
    temporal_checkpoint: a checkpoint whose temporal network (SIA, FD, SMPL head: they see tokens, not pixels) starts
        this one's, whatever its backbone; with ``backbone_weights`` a new frame network meets a trained temporal one.
    freeze_backbone: the backbone keeps its weights (no gradient, not in the optimiser, eval mode): a pretrained
        real-image backbone stays what it was, and a step costs the backbone's forward pass only.
    """

    steps: int
    batch_clips: int = 4
    lr: float = 3e-4
    device: str | torch.device = "cpu"
    seed: int = 0
    out_path: str | Path | None = None
    log_every: int = 0
    init_checkpoint: str | Path | None = None
    backbone_weights: str | Path | None = None
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    warmup_steps: int | None = None
    amp: bool = True
    save_every: int = 0
    loss_weights: LossWeights | Mapping[str, float] | None = None
    resume: bool = False
    log_csv: str | Path | None = None
    progress: bool = False
    accumulate: int = 1
    ema: float = 0.0
    freeze_backbone: bool = False
    temporal_checkpoint: str | Path | None = None

    def validate(self) -> None:
        """ValueError naming what cannot run."""
        if (self.steps < 1 or self.batch_clips < 1 or not self.lr > 0 or self.log_every < 0 or self.save_every < 0
                or self.accumulate < 1):
            raise ValueError(f"train: need steps >= 1, batch_clips >= 1, lr > 0, log_every/save_every >= 0, "
                             f"accumulate >= 1; got steps={self.steps}, batch_clips={self.batch_clips}, "
                             f"lr={self.lr}, log_every={self.log_every}, save_every={self.save_every}, "
                             f"accumulate={self.accumulate}")
        if self.out_path is not None and Path(self.out_path).suffix != ".safetensors":
            raise ValueError(f"train: out_path must end in .safetensors, got {self.out_path}")
        if self.resume and (self.out_path is None or self.init_checkpoint):
            raise ValueError("train: resume needs out_path (the training state sits next to the checkpoint) and "
                             "no init_checkpoint (the state holds the weights)")
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"train: ema is a decay in [0, 1) (0 = no weight average), got {self.ema}")
        if self.init_checkpoint and self.backbone_weights:
            raise ValueError("train: give init_checkpoint or backbone_weights, not both (a checkpoint holds a "
                             "backbone)")


def train(config: SIAMConfig, run: TrainConfig, *, data: Iterable[ClipBatch] | None = None,
          shards: str | Path | None = None, clip_stream: Callable[[int, int], Iterator[ClipBatch]] | None = None,
          workers: int = 0, log: Callable[[str], None] = print, **dataset_kwargs) -> TrainResult:
    """Train the network ``config`` as ``run`` says and save it to ``run.out_path``.

    Args:
        config: the network; its S, T, K also shape the synthetic samples.
        run: steps, optimiser, checkpointing and logging (:class:`TrainConfig`).
        data: ClipBatches to train on instead of the synthetic stream (e.g. one fixed batch repeated); must yield
            at least ``run.steps`` batches.
        clip_stream: this process's batches from a source of its own, instead of the synthetic stream: called once
            with (clips per process, this rank's seed), e.g. a real-data mixture (``training.mixture.mixture_batches``);
            a run resumed at step n draws a fresh stream (seed + ``RESUME_SEED_STRIDE`` * n) rather than replaying
            the first batches. Excludes ``data`` and ``shards``.
        workers: DataLoader processes rendering synthetic clips, or reading shards (ignored with ``data``).
        shards: a shard directory (``render-shards``' ``OUT/train``) to train on instead of rendering clips on the
            fly: :class:`hmr_ros.training.shard_dataset.ShardClipDataset` (endless, reshuffled every epoch; a
            resumed run continues its stream). Excludes ``data``.
        log: where progress lines go.
        dataset_kwargs: passed to :class:`hmr_ros.training.dataset.SyntheticClipDataset`, or with ``shards`` to
            :class:`hmr_ros.training.shard_dataset.ShardClipDataset` (``zoom``, ``max_people``, ``body_model``);
            the losses pose the predictions through ``dataset_kwargs["body_model"]`` when given (the body the clips
            were rendered with), else the procedural body.
    Returns:
        TrainResult; its history and step_seconds cover the steps this call ran (after ``run.resume``, from the
        saved step on).
    """
    run.validate()
    misplaced = sorted(set(dataset_kwargs) & {f.name for f in fields(TrainConfig)})
    if misplaced:  # with ``data`` the dataset keywords go unread: a run setting lands in TrainConfig or nowhere
        raise TypeError(f"train: {misplaced} belong in the TrainConfig, not among the dataset keywords")
    if workers < 0:
        raise ValueError(f"train: need workers >= 0, got {workers}")
    steps, batch_clips, lr, out_path = run.steps, run.batch_clips, run.lr, run.out_path
    progress, log_csv, save_every = run.progress, run.log_csv, run.save_every  # rank > 0 turns these off
    weights = LossWeights.from_mapping(run.loss_weights)
    world = distributed.world_from_env()  # torchrun: this process's share of every batch (training/distributed.py)
    device = distributed.start(world, torch.device(run.device))
    if not world.main:  # rank 0 alone logs, draws progress, writes the CSV and the checkpoints
        log, progress, log_csv, save_every = (lambda message: None), False, None, 0
    distributed.share(batch_clips, world)  # ValueError now, not at the first step, when the batch does not split
    if (batch_clips // world.size) % run.accumulate:
        raise ValueError(f"train: {batch_clips // world.size} clips per process do not split into {run.accumulate} "
                         "micro-batches (--accumulate): use a multiple")
    torch.manual_seed(run.seed)
    model = SIAM(config)
    if run.init_checkpoint:
        load_checkpoint(model, run.init_checkpoint)
    elif run.backbone_weights:
        report, fresh = model.frame_net.backbone.load_pretrained(run.backbone_weights)
        log(f"backbone initialised from {run.backbone_weights}: {report}"
            + (f"; {len(fresh)} tensors the checkpoint's layout lacks keep their fresh init" if fresh else ""))
    if run.temporal_checkpoint:
        load_checkpoint(model, run.temporal_checkpoint, part="temporal_net.")
        log(f"temporal network initialised from {run.temporal_checkpoint}")
    model.to(device).train()
    if run.freeze_backbone:
        model.frame_net.backbone.requires_grad_(False).eval()  # eval: frozen batch-norm statistics too
    distributed.broadcast_weights(model, world)
    average = WeightAverage(model, run.ema) if run.ema else None
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in trained if p.ndim > 1]
    no_decay = [p for n, p in trained if p.ndim <= 1]  # norms and biases
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": run.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    warmup = min(100, steps // 10) if run.warmup_steps is None else run.warmup_steps
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: lr_factor(i, steps, max(warmup, 1)))
    start = 0
    if run.resume:
        state = load_train_state(train_state_path(out_path), model, opt, sched, average)
        start = state["step"]
        if state["extra"].get("config", config.to_dict()) != config.to_dict():
            raise ValueError(f"train: the state was saved for {state['extra']['config']}, not {config.to_dict()}")
        if state["steps"] != steps:
            log(f"resuming a {state['steps']}-step run as a {steps}-step run: the cosine schedule follows the new "
                "length")
    body_model = dataset_kwargs.get("body_model")
    # bf16 autocast on CPU too: AVX-512 BF16 CPUs run a W32 forward+backward 1.75x faster
    use_amp = run.amp and device.type in ("cuda", "cpu")
    if start and data is None and clip_stream is None:  # continue the synthetic stream after the clips already trained on
        dataset_kwargs = {**dataset_kwargs, "start": dataset_kwargs.get("start", 0) + start * batch_clips // world.size}
    if sum(x is not None for x in (data, shards, clip_stream)) > 1:
        raise ValueError("train: give one of data, shards and clip_stream")
    # each rank: its share of every global batch of ``data``; its own stream of synthetic clips or shard samples
    local_clips, rank_seed = batch_clips // world.size, run.seed + 7919 * world.rank
    if data is not None:
        batches = (distributed.shard_batch(b, world) for b in data)
    elif clip_stream is not None:  # resumed: a fresh stream, not a replay of the batches already trained on
        batches = clip_stream(local_clips, rank_seed + RESUME_SEED_STRIDE * start)
    elif shards is not None:
        batches = shard_batches(config, local_clips, rank_seed, shards, workers, **dataset_kwargs)
    else:
        batches = synthetic_batches(config, local_clips, rank_seed, workers, **dataset_kwargs)
    result = TrainResult(config=config, out_path=Path(out_path) if out_path is not None and world.main else None,
                         model=model)
    log(f"training SIAM-{config.width} S={config.input_size} T={config.window} K={config.max_people} on {device}: "
        f"{steps} steps x {batch_clips} clips, lr {lr:g}, amp {'bf16' if use_amp else 'off'}"
        + (f", {world.size} processes x {local_clips} clips" if world.size > 1 else "")
        + (f", resuming after step {start}" if run.resume else "") + (f", clips from {shards}" if shards else ""))

    def save(done: int) -> None:
        with average.applied(model) if average else nullcontext():
            save_checkpoint(model, out_path)
        save_train_state(train_state_path(out_path), model, opt, sched, done, steps,
                         {"config": config.to_dict(), "loss_weights": asdict(weights)}, average)

    csv_file, csv_writer = _open_csv(Path(log_csv), start) if log_csv else (None, None)
    try:
        for step in range(start, steps):
            t0 = time.perf_counter()
            try:
                batch = _to(next(batches), device)
            except StopIteration:
                raise ValueError(f"train: the data ran out after {step} of {steps} steps") from None
            t_data = time.perf_counter() - t0
            lr_now = opt.param_groups[0]["lr"]
            opt.zero_grad(set_to_none=True)
            losses = {}
            for micro in distributed.micro_batches(batch, run.accumulate):  # gradients add up over the micro-batches
                with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                    part = siam_losses(model, micro, weights, body_model)
                if not torch.isfinite(part["total"]):
                    raise FloatingPointError(f"train: non-finite loss at step {step}: "
                                             + ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in part.items()))
                (part["total"] / run.accumulate).backward()
                for k in LOSS_NAMES:
                    losses[k] = losses.get(k, 0.0) + part[k].detach() / run.accumulate
            distributed.average_gradients(model.parameters(), world)  # every rank then takes the same step
            if run.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), run.grad_clip)
            opt.step()
            sched.step()
            if average is not None:
                average.update(model)
            result.history.append(distributed.average({k: float(losses[k].detach()) for k in LOSS_NAMES}, world))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            result.step_seconds.append(time.perf_counter() - t0)
            if csv_writer is not None:
                csv_writer.writerow([step + 1] + [f"{result.history[-1][k]:.6g}" for k in LOSS_NAMES]
                                    + [f"{lr_now:.6g}", f"{1e3 * result.step_seconds[-1]:.1f}", f"{1e3 * t_data:.1f}"])
                csv_file.flush()
            if progress:
                end = "\n" if step + 1 == steps else ""
                print("\r" + _progress(step + 1, steps, start, result.step_seconds), end=end, file=sys.stderr,
                      flush=True)
            if run.log_every and ((step + 1) % run.log_every == 0 or step + 1 == steps):
                recent = result.history[-run.log_every:]
                means = {k: sum(h[k] for h in recent) / len(recent) for k in LOSS_NAMES}
                ms = 1e3 * sum(result.step_seconds[-run.log_every:]) / len(recent)
                log(f"step {step + 1:>6d}/{steps}  " + "  ".join(f"{k} {v:.4f}" for k, v in means.items())
                    + f"  | {ms:.0f} ms/step (last data wait {1e3 * t_data:.0f} ms)  lr {sched.get_last_lr()[0]:.2e}")
            if out_path is not None and save_every and (step + 1) % save_every == 0 and step + 1 < steps:
                save(step + 1)
    finally:
        if csv_file is not None:
            csv_file.close()
    if not world.main:
        return result
    if out_path is not None and start < steps:
        save(steps)
        log(f"wrote {out_path}")
    elif start >= steps:
        log(f"nothing to do: the run already made {start} of {steps} steps")
    if average is not None:
        model.load_state_dict(average.shadow)
    return result
