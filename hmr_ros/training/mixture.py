"""A weighted mixture of clip sources (``datasets.clips``: real datasets, pseudo-labels, shards) as an endless
stream of training samples and batches."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from hmr_ros.datasets.augment import augment
from hmr_ros.datasets.clips import Source
from hmr_ros.training.dataset import clip_sample, collate


class MixtureClips(torch.utils.data.IterableDataset):
    """An endless stream of clip samples (``clip_sample``), each from a source drawn with probability proportional
    to its weight. Every DataLoader worker draws its own stream from ``SeedSequence([seed, worker])``: its own
    source picks, epoch orders and augmentations."""

    def __init__(self, sources: list[Source], cfg, seed: int = 0, augment_with=None):
        super().__init__()
        if not sources or any(w <= 0 for _, _, w in sources):
            raise ValueError("mixture_batches: give at least one source, every weight > 0")
        self.sources, self.cfg, self.seed, self.augment_with = sources, cfg, seed, augment_with

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0 if info is None else info.id]))
        weights = np.array([w for _, _, w in self.sources], np.float64)
        streams = [iter(make(rng)) for _, make, _ in self.sources]

        def next_sample(i: int):
            for _ in range(2):
                for clip in streams[i]:
                    if self.augment_with is not None:
                        clip = augment(clip, rng, self.augment_with)
                    try:
                        return clip_sample(clip, self.cfg)
                    except ValueError:  # too many people or too short for this network: skip it
                        continue
                streams[i] = iter(self.sources[i][1](rng))  # the next epoch of this source, in a new order
            raise ValueError(f"mixture_batches: source {self.sources[i][0]} gives no usable clip")

        while True:
            yield next_sample(int(rng.choice(len(self.sources), p=weights / weights.sum())))


def mixture_batches(sources: list[Source], cfg, batch_clips: int, seed: int = 0, augment_with=None,
                    workers: int = 0) -> Iterator:
    """Endless ``ClipBatch``es of ``batch_clips`` clips from :class:`MixtureClips`; a source that runs out starts
    another epoch. Clips with more people than ``cfg.max_people`` or shorter than the window are skipped.
    ``augment_with``: a body model to augment every clip (``datasets.augment``: crop, flip, colour). ``workers``:
    DataLoader processes that read, decode and pose clips in parallel (0 = in this process), each with its own
    stream, so the batches (not their statistics) depend on the worker count."""
    dataset = MixtureClips(sources, cfg, seed, augment_with)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_clips, collate_fn=collate, num_workers=workers,
                                         persistent_workers=workers > 0, prefetch_factor=2 if workers > 0 else None)
    return iter(loader)
