"""The benchmark's splits: which clips each one holds and how a clip is rendered from its spec.

Seeds: training renders clip i of a run from ``SeedSequence([seed, i])`` and hands ``make_clip`` a seed drawn from
``[0, 2**31)``. Benchmark clips use ``make_clip`` seeds from ``BENCH_SEED_BASE = 2**32`` up, a range training can
never draw, so no benchmark clip is ever a training clip.

The ``varied`` splits render :func:`hmr_ros.sim.varied.make_varied_clip` clips (1-8 people, mixed motions,
occlusions, random scenes) whose seeds come from the ``bench`` namespace of :func:`hmr_ros.sim.shards.clip_seeds`
(split seed 0), which no ``train`` seed reaches; the per-motion breakdown then uses each person-frame's motion label,
and accel tracks follow ``track_id``. ``evaluate_checkpoint(..., shards=DIR)`` reads such clips from a shard directory
(``render-shards --split bench``) instead of rendering them, after checking every clip's seed is a bench seed.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from hmr_ros.clips import Clip
from hmr_ros.sim.clips import make_clip
from hmr_ros.sim.shards import clip_seeds
from hmr_ros.clip_files import list_shards, read_clip
from hmr_ros.sim.varied import make_varied_clip
from hmr_ros.smpl.body_model import BodyModel

__all__ = ["BENCH_SEED_BASE", "ClipSpec", "SPLITS", "render_clip", "as_rendered", "shard_clips"]

#: First ``make_clip`` seed of the benchmark; training draws its seeds below 2**31.
BENCH_SEED_BASE = 2 ** 32


@dataclass(frozen=True)
class ClipSpec:
    """One benchmark clip: ``make_clip(num_frames, width, height, num_people, fps, seed)``, or with
    ``generator="varied"`` ``make_varied_clip(seed, num_frames=, size=(width, height), num_people=, fps=)`` where a
    None field is drawn from the seed (the report lists the rendered values: the size and frame rate drawn, the
    people actually placed)."""

    name: str
    seed: int
    num_people: int | None
    num_frames: int
    width: int | None
    height: int | None
    fps: float | None
    generator: str = "make_clip"


def _bench() -> tuple[ClipSpec, ...]:
    # 10 clips, 1-4 people, landscape and portrait, 10-30 fps (training draws 10-30): ~2 min on 2 busy CPU cores
    # at input 128 (rendering ~1/3 of it). Images are half the training size: people cover the same fraction of
    # the frame (the focal length scales with the width), so the letterboxed network input is the same.
    people = (1, 1, 2, 2, 2, 3, 3, 3, 4, 4)
    sizes = ((320, 240), (240, 320))
    fps = (15.0, 10.0, 30.0, 15.0, 25.0)
    return tuple(ClipSpec(f"bench{i:02d}", BENCH_SEED_BASE + 1000 + i, n, 20, *sizes[i % 2], fps[i % len(fps)])
                 for i, n in enumerate(people))


def _varied(prefix: str, people: tuple[int, ...], num_frames: int, size: tuple[int, int] | None = None,
            fps: float | None = None, start: int = 0) -> tuple[ClipSpec, ...]:
    seeds = clip_seeds("bench", len(people), seed=0, start=start)
    w, h = size if size is not None else (None, None)
    return tuple(ClipSpec(f"{prefix}{i:02d}", seed, n, num_frames, w, h, fps, "varied")
                 for i, (seed, n) in enumerate(zip(seeds, people)))


SPLITS: dict[str, tuple[ClipSpec, ...]] = {
    "bench": _bench(),
    # CI: seconds, not minutes; still two people and enough frames for acceleration triples.
    "tiny": (ClipSpec("tiny00", BENCH_SEED_BASE + 0, 1, 5, 192, 144, 15.0),
             ClipSpec("tiny01", BENCH_SEED_BASE + 1, 2, 5, 192, 144, 15.0)),
    # 16 clips of 16 frames (a render-shards clip), 1..8 people twice; size, frame rate, scene and motions drawn
    # from the bench seeds 0..15.
    "varied": _varied("varied", tuple(range(1, 9)) * 2, 16),
    # CI: bench seeds from 10000 on (apart from "varied"), small frames, a lone person and a crowd of three.
    "varied-tiny": _varied("vtiny", (1, 3), 5, size=(192, 144), fps=15.0, start=10_000),
}


def render_clip(spec: ClipSpec, body_model: BodyModel) -> Clip:
    """The clip ``spec`` describes, posed with ``body_model`` (:func:`make_clip` or :func:`make_varied_clip`)."""
    if spec.generator == "varied":
        size = None if spec.width is None else (spec.width, spec.height)
        return make_varied_clip(spec.seed, num_frames=spec.num_frames, size=size, num_people=spec.num_people,
                                fps=spec.fps, body_model=body_model)
    return make_clip(num_frames=spec.num_frames, width=spec.width, height=spec.height, num_people=spec.num_people,
                     fps=spec.fps, seed=spec.seed, body_model=body_model)


def as_rendered(spec: ClipSpec, clip: Clip) -> ClipSpec:
    """``spec`` with the values the clip was rendered with (drawn fields filled, the people actually placed)."""
    h, w = clip.frames[0].rgb.shape[:2]
    return dataclasses.replace(spec, num_people=len(clip.frames[0].people), num_frames=len(clip.frames), width=w,
                               height=h, fps=float(clip.fps))


def shard_clips(directory: str | Path, body_model: BodyModel) -> Iterator[tuple[ClipSpec, Clip]]:
    """The clips of a ``bench`` shard directory, each checked to carry the bench seed of its index."""
    paths = list_shards(directory)
    if not paths:
        raise ValueError(f"no clip_*.npz shards in {directory} (render them with `python -m hmr_ros render-shards "
                         "--split bench`)")
    for path in paths:
        index = int(re.fullmatch(r"clip_(\d+)", path.stem).group(1))
        clip = read_clip(path, body_model)
        seed = int(clip.meta.get("seed", -1))
        # refuse anything else: training shards (or a hand-made directory) would turn the benchmark into a train
        # score without a word
        if seed != clip_seeds("bench", 1, seed=0, start=index)[0]:
            raise ValueError(f"{path}: seed {seed} is not clip {index} of the bench split (seed 0); render the "
                             "benchmark with `python -m hmr_ros render-shards --split bench`")
        yield as_rendered(ClipSpec(path.stem, seed, None, 0, None, None, None, "varied"), clip), clip
