"""Data-parallel training across processes, started by ``torchrun`` (one machine or several): the same entry point
as a single process.

    torchrun --nproc-per-node 4 -m hmr_ros train ...                      # 4 GPUs (NCCL) or 4 CPU processes (gloo)
    torchrun --nnodes 2 --node-rank 0 --rdzv-endpoint host:29500 ... -m hmr_ros train ...   # several machines

Every process holds the whole network and trains on its share of each global batch (``batch_clips / world``
clips); after the backward pass the gradients are averaged over the processes with one all-reduce of a flattened
buffer (what DDP's reducer does, without its requirement that the loss go through ``module.forward``: the objective
calls ``frame_net`` and ``temporal_net`` separately). The weights therefore stay identical on every rank; rank 0
alone logs and writes checkpoints. BatchNorm statistics stay per process (SyncBatchNorm needs CUDA), so a run on N
processes matches one process on the same global batch up to that.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """rank: this process (0 = the one that logs and saves); size: processes; local_rank: its GPU on this machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def world_from_env() -> World:
    """The world ``torchrun`` describes in RANK / WORLD_SIZE / LOCAL_RANK (one process without them)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    return World(int(os.environ.get("RANK", "0")), size, int(os.environ.get("LOCAL_RANK", "0")))


def start(world: World, device: torch.device) -> torch.device:
    """Join the process group (NCCL on CUDA, gloo on the CPU) and return this rank's device (cuda:LOCAL_RANK)."""
    if world.size == 1:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def stop(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()


def share(n: int, world: World) -> slice:
    """This rank's clips of a global batch of ``n`` (contiguous, equal shares)."""
    if n % world.size:
        raise ValueError(f"the batch of {n} clips does not split over {world.size} processes: use a multiple")
    per = n // world.size
    return slice(world.rank * per, (world.rank + 1) * per)


def average_gradients(parameters, world: World) -> None:
    """Replace every gradient by its mean over the processes (one all-reduce per dtype)."""
    if world.size == 1:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for g in grads:
        by_dtype.setdefault(g.dtype, []).append(g)
    for group in by_dtype.values():
        flat = torch.cat([g.reshape(-1) for g in group])
        dist.all_reduce(flat)
        flat /= world.size
        offset = 0
        for g in group:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()


def average(values: dict[str, float], world: World) -> dict[str, float]:
    """The mean of each value over the processes (the global batch's losses, for logs and history)."""
    if world.size == 1:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(t)
    return {k: float(v) / world.size for k, v in zip(keys, t)}


def broadcast_weights(model: torch.nn.Module, world: World) -> None:
    """Rank 0's weights and buffers on every rank (they start equal from the same seed; this makes sure)."""
    if world.size == 1:
        return
    for t in list(model.parameters()) + list(model.buffers()):
        dist.broadcast(t.data, src=0)


def shard_batch(batch, world: World):
    """This rank's clips of a global batch (any dataclass of batch-first tensors, e.g. ``ClipBatch``)."""
    import dataclasses

    if world.size == 1:
        return batch
    n = next(v for v in (getattr(batch, f.name) for f in dataclasses.fields(batch)) if v is not None).shape[0]
    part = share(n, world)
    return dataclasses.replace(batch, **{f.name: None if getattr(batch, f.name) is None else getattr(batch, f.name)[part]
                                         for f in dataclasses.fields(batch)})


def micro_batches(batch, count: int) -> list:
    """``batch`` cut into ``count`` equal micro-batches along the clip axis (gradient accumulation)."""
    return [shard_batch(batch, World(i, count)) for i in range(count)]
