"""A running average of a network's weights (exponential moving average): what a run that keeps one writes.

Why: fine-tuned on few, noisy labels (a keypoint teacher's, on one street), one run's consecutive checkpoints differ
a lot -- held-out PCK@0.5 swung from 0.75 to 0.62 in 50 steps (docs/training.md) -- and picking the best of them by
its held-out score would select on the test set. The average over the last ~1 / (1 - decay) steps is one choice fixed
in advance, without most of that swing.

    average = WeightAverage(model, decay=0.99)
    for ...: opt.step(); average.update(model)
    with average.applied(model):                  # the model holds the averaged weights inside the block
        save_checkpoint(model, "run.safetensors")
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Mapping

import torch
from torch import nn

__all__ = ["WeightAverage"]


class WeightAverage:
    """The average of every floating-point entry of ``model.state_dict()`` (weights and BatchNorm statistics);
    integer entries (BatchNorm's batch counters) follow the model. Tensors stay on the model's device and dtype."""

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"WeightAverage: decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def rate(self) -> float:
        """Weight of the old average in the next update: ``min(decay, (1 + n) / (10 + n))`` after n updates, so the
        first steps (far from where the run goes) are forgotten fast instead of lingering for 1 / (1 - decay) steps."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the model's current weights in (call after every optimiser step)."""
        rate = self.rate()
        for name, value in model.state_dict().items():
            mine = self.shadow[name]
            if mine.is_floating_point():
                mine.lerp_(value.detach().to(mine.dtype), 1.0 - rate)
            else:
                mine.copy_(value)
        self.updates += 1

    def load(self, tensors: Mapping[str, torch.Tensor], updates: int) -> None:
        """Restore a saved average (``shadow`` and ``updates`` as written); ValueError when the names differ."""
        if set(tensors) != set(self.shadow):
            raise ValueError(f"the saved weight average does not fit this network: {len(tensors)} tensors, "
                             f"{len(set(tensors) ^ set(self.shadow))} names differ")
        for name, value in tensors.items():
            self.shadow[name].copy_(value)
        self.updates = int(updates)

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """The model with the averaged weights inside the block; its own weights are back after it."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield model
        finally:
            model.load_state_dict(own)
