"""A ring buffer of the last T frames' instance tokens: the feature cache of the temporal network.

The backbone runs once per frame; each frame's K tokens are written into one slot. ``window_view()`` returns the
slots in chronological order (oldest first, newest last), with never-written slots masked out, which is what
``TemporalNet`` consumes. Per-frame cost is O(T * K * D) memory copies, tiny next to the backbone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class FrameSlot:
    """What the estimator keeps of one frame beside its tokens (to turn outputs into 3D later)."""

    stamp: float
    meta: Any  # the estimator's per-frame record (letterbox, intrinsics, image size)


class FrameBuffer:
    """Fixed-size ring of per-frame tensors.

    Args:
        window: T, number of frames kept.
        max_people: K, instance slots per frame.
        dim: D, token width.
    """

    def __init__(self, window: int, max_people: int, dim: int, device: str | torch.device = "cpu"):
        if window < 1 or max_people < 1 or dim < 1:
            raise ValueError(f"FrameBuffer needs window, max_people, dim >= 1; got {window}, {max_people}, {dim}")
        self.window, self.max_people, self.dim = window, max_people, dim
        self.tokens = torch.zeros(window, max_people, dim, device=device)
        self.mask = torch.zeros(window, max_people, dtype=torch.bool, device=device)
        self.centers = torch.zeros(window, max_people, 2, device=device)
        self.scores = torch.zeros(window, max_people, device=device)
        self.slots: list[FrameSlot | None] = [None] * window
        self._next = 0   # slot the next frame is written to
        self._count = 0  # frames written since the last reset (saturates at window)

    def __len__(self) -> int:
        return self._count

    def reset(self) -> None:
        self.mask.zero_()
        self.slots = [None] * self.window
        self._next = 0
        self._count = 0

    def push(self, tokens: torch.Tensor, mask: torch.Tensor, centers: torch.Tensor, scores: torch.Tensor,
             slot: FrameSlot) -> None:
        """Write one frame: tokens (K, D), mask (K,) bool, centers (K, 2) network pixels, scores (K,)."""
        i = self._next
        self.tokens[i] = tokens
        self.mask[i] = mask
        self.centers[i] = centers
        self.scores[i] = scores
        self.slots[i] = slot
        self._next = (i + 1) % self.window
        self._count = min(self._count + 1, self.window)

    def order(self) -> torch.Tensor:
        """(T,) slot indices, oldest first. Unwritten slots come first and are masked."""
        return (torch.arange(self.window) + self._next) % self.window

    def window_view(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Chronological (T, K, D) tokens, (T, K) mask and (T, K, 2) centres (network pixels) for the temporal
        network."""
        idx = self.order().to(self.tokens.device)
        return (self.tokens.index_select(0, idx), self.mask.index_select(0, idx),
                self.centers.index_select(0, idx))

    def frame(self, age: int) -> tuple[FrameSlot | None, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The frame written ``age`` frames ago (0 = newest): (slot, mask (K,), centers (K, 2), scores (K,))."""
        i = (self._next - 1 - age) % self.window
        return self.slots[i], self.mask[i], self.centers[i], self.scores[i]
