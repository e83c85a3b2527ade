"""Training samples from pre-rendered shards (:mod:`hmr_ros.sim.shards`, ``python -m hmr_ros render-shards``).

Shards take the renderer out of the training loop: :class:`ShardClipDataset` reads the varied clips of a shard
directory, each epoch in a seeded shuffled order, and cuts a random window of T consecutive frames
(:func:`clip_window`) and the same random crop as :class:`hmr_ros.training.dataset.SyntheticClipDataset` from each;
people beyond ``max_people`` are dropped (:func:`select_people`). The samples and their targets are those of
:func:`hmr_ros.training.dataset.clip_sample`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator

import numpy as np
from torch.utils.data import IterableDataset, get_worker_info

from hmr_ros.smpl.body_model import BodyModel, load_body_model
from hmr_ros.model.siam import SIAMConfig
from hmr_ros.clips import Clip
from hmr_ros.clip_files import list_shards, read_clip
from hmr_ros.training.dataset import ClipSample, clip_sample
from hmr_ros.clips import random_crop

__all__ = ["ShardClipDataset", "clip_window", "select_people"]


def clip_window(clip: Clip, start: int, length: int) -> Clip:
    """Frames ``start .. start + length - 1`` of ``clip`` (the same people, K, meta)."""
    if not (0 <= start and 1 <= length and start + length <= len(clip.frames)):
        raise ValueError(f"clip_window: frames {start}..{start + length - 1} are not in a clip of "
                         f"{len(clip.frames)} frames")
    return dataclasses.replace(clip, frames=clip.frames[start:start + length])


def select_people(clip: Clip, max_people: int) -> Clip:
    """Keep at most ``max_people`` of the clip's people (the same ones in every frame, in their list order).

    With more people than that, the most visible are kept: the largest ``visible_pixels`` summed over the frames
    (pixels where the person is the nearest surface), or, for clips without occlusion ground truth, the smallest
    mean root depth. Ties keep list order. The others stay in the images but get no annotation: mostly people far
    away or hidden behind others, the ones the network could least learn from.
    """
    P = len(clip.frames[0].people) if clip.frames else 0
    if P <= max_people:
        return clip
    if any(len(f.people) != P for f in clip.frames):
        raise ValueError("select_people: every frame must list the same people")
    if all(p.visible_pixels is not None for f in clip.frames for p in f.people):
        score = -np.array([sum(f.people[k].visible_pixels for f in clip.frames) for k in range(P)], np.float64)
    else:
        score = np.array([np.mean([f.people[k].joints[0][2] for f in clip.frames]) for k in range(P)])
    keep = sorted(np.argsort(score, kind="stable")[:max_people].tolist())
    frames = [dataclasses.replace(f, people=[f.people[k] for k in keep]) for f in clip.frames]
    return dataclasses.replace(clip, frames=frames)


class ShardClipDataset(IterableDataset):
    """:class:`ClipSample` s from the pre-rendered clips of a shard directory (:func:`hmr_ros.sim.shards.write_shards`),
    epoch after epoch, reproducible from ``seed``.

    Sample i of the stream belongs to epoch ``e = i // n`` (n clips in the directory) and reads clip
    ``order_e[i % n]``, where ``order_e`` is the permutation drawn from ``SeedSequence([seed, ORDER_TAG, e])``.
    From that clip it takes T = ``cfg.window`` consecutive frames starting at a random frame (clips hold more frames than a window,
    16 from ``render-shards``), applies the random crop of :class:`SyntheticClipDataset` (:func:`random_crop`, side
    ``zoom`` of the image) and keeps at most ``max_people`` people (:func:`select_people`: the most visible). The
    window start and the crop come from ``SeedSequence([seed, i])``. DataLoader worker w of n takes samples w, w + n,
    ... of the stream, so the workers share out each epoch's shuffled shard list and the stream is the same for
    any worker count.

    Args:
        cfg: the network the samples are for.
        directory: a shard directory (``clip_*.npz``, e.g. ``OUT/train`` of ``render-shards``).
        seed: stream seed (shuffling, windows, crops).
        epochs: passes over the directory, None for an endless stream.
        zoom: range of the crop side as a fraction of the image (1.0 = no crop).
        max_people: people kept per clip (1..cfg.max_people); None = cfg.max_people.
        body_model: the body model the shards were rendered with (default the procedural one, loaded on first use
            per process); :func:`hmr_ros.sim.shards.read_clip` poses the stored parameters with it.
        start: index of the first sample (a resumed run continues the stream where it stopped).
    """

    # Tags keep the shuffles, the per-sample draws and the shard seeds (``SeedSequence([seed, i])``, render-shards'
    # train split) on separate random streams even when the same seed names all three.
    ORDER_TAG, SAMPLE_TAG = 0x6F72646572, 0x73616D706C65  # b"order", b"sample"

    def __init__(self, cfg: SIAMConfig, directory: str | Path, seed: int = 0, epochs: int | None = None,
                 zoom: tuple[float, float] = (0.7, 1.0), max_people: int | None = None,
                 body_model: BodyModel | None = None, start: int = 0):
        super().__init__()
        cfg.validate()
        self.paths = list_shards(directory)
        if not self.paths:
            raise ValueError(f"ShardClipDataset: no clip_*.npz shards in {directory} (render them with "
                             "`python -m hmr_ros render-shards`)")
        people = cfg.max_people if max_people is None else max_people
        if not 1 <= people <= cfg.max_people:
            raise ValueError(f"ShardClipDataset: max_people={people}, expected 1..{cfg.max_people} (the network's "
                             "slots)")
        if not 0.2 <= zoom[0] <= zoom[1] <= 1.0:
            raise ValueError(f"ShardClipDataset: zoom must be (lo, hi) with 0.2 <= lo <= hi <= 1, got {zoom!r}")
        if epochs is not None and epochs < 0:
            raise ValueError(f"ShardClipDataset: epochs must be >= 0 or None, got {epochs}")
        if start < 0:
            raise ValueError(f"ShardClipDataset: start must be >= 0, got {start}")
        self.cfg, self.seed, self.epochs, self.start = cfg, int(seed), epochs, int(start)
        self.zoom, self.max_people = tuple(zoom), people
        self._body_model = body_model

    def __len__(self) -> int:
        """Samples per epoch (clips in the directory)."""
        return len(self.paths)

    def body_model(self) -> BodyModel:
        if self._body_model is None:
            self._body_model = load_body_model("procedural")
        return self._body_model

    def order(self, epoch: int) -> np.ndarray:
        """(n,) int64: the clip indices epoch ``epoch`` visits, in that order."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.ORDER_TAG, int(epoch)]))
        return rng.permutation(len(self.paths))

    def sample(self, i: int) -> ClipSample:
        """Sample number ``i`` of the stream (deterministic)."""
        epoch, j = divmod(int(i), len(self.paths))
        path = self.paths[int(self.order(epoch)[j])]
        clip = read_clip(path, self.body_model())
        T = self.cfg.window
        if len(clip.frames) < T:
            raise ValueError(f"ShardClipDataset: {path} has {len(clip.frames)} frames, the window needs {T}")
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.SAMPLE_TAG, int(i)]))
        clip = clip_window(clip, int(rng.integers(len(clip.frames) - T + 1)), T)
        clip = select_people(random_crop(clip, rng, self.zoom), self.max_people)
        return clip_sample(clip, self.cfg)

    def __iter__(self) -> Iterator[ClipSample]:
        info = get_worker_info()
        first, step = (info.id, info.num_workers) if info is not None else (0, 1)
        total = None if self.epochs is None else self.epochs * len(self.paths)
        i = self.start + first
        while total is None or i < total:
            yield self.sample(i)
            i += step
