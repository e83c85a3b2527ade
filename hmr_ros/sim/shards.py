"""Render the varied synthetic clips once into shards on disk (the file format is ``hmr_ros.clip_files``).

Seeds and splits. Clip ``i`` of a split gets the integer seed :func:`clip_seeds` derives with numpy's
``SeedSequence``:

- ``train``: ``SeedSequence([seed, i])`` -- the same entropy ``hmr_ros.training.dataset`` uses per clip;
- ``bench``: ``SeedSequence([BENCH_NAMESPACE, seed, i])`` with the 128-bit constant :data:`BENCH_NAMESPACE`
  (four 32-bit words that small user seeds never produce), default ``seed`` 0: a fixed, held-out benchmark that
  no training seed reaches. Never train on ``bench``.

The clip seed is the first 63 bits of ``generate_state(2, np.uint64)``, passed to
:func:`hmr_ros.sim.varied.make_varied_clip`; rendering is deterministic per seed and arguments.
"""
from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from hmr_ros.clip_files import VERSION, write_clip

__all__ = ["BENCH_NAMESPACE", "SPLITS", "clip_seeds", "write_shards"]

BENCH_NAMESPACE = 0x686D725F726F735F62656E63685F7631  # b"hmr_ros_bench_v1"
SPLITS = ("train", "bench")


def clip_seeds(split: str, count: int, seed: int = 0, start: int = 0) -> list[int]:
    """Seeds of clips ``start .. start + count - 1`` of a split (see the module docstring)."""
    if split not in SPLITS:
        raise ValueError(f"clip_seeds: split must be one of {SPLITS}, got {split!r}")
    if seed < 0 or count < 0 or start < 0:
        raise ValueError(f"clip_seeds: seed, count and start must be >= 0, got {seed}, {count}, {start}")
    prefix = [] if split == "train" else [BENCH_NAMESPACE]
    return [int(np.random.SeedSequence(prefix + [seed, i]).generate_state(2, np.uint64)[0] >> np.uint64(1))
            for i in range(start, start + count)]


def _render_one(job: tuple) -> str:
    path, seed, image_format, quality, clip_kwargs = job
    from hmr_ros.sim.varied import make_varied_clip

    write_clip(path, make_varied_clip(seed, **clip_kwargs), image_format, quality)
    return str(path)


def write_shards(out_dir: str | Path, seeds: Sequence[int], *, start_index: int = 0, image_format: str = "jpeg",
                 quality: int = 95, workers: int = 1, **clip_kwargs) -> list[Path]:
    """Render ``make_varied_clip(seed, **clip_kwargs)`` for each seed into ``out_dir/clip_{start_index + i}.npz``
    (6 digits) and write ``manifest.json``; ``workers`` > 1 renders in that many processes."""
    if image_format not in ("jpeg", "png"):
        raise ValueError(f"write_shards: image_format must be 'jpeg' or 'png', got {image_format!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"clip_{start_index + i:06d}.npz" for i in range(len(seeds))]
    jobs = [(p, int(s), image_format, quality, clip_kwargs) for p, s in zip(paths, seeds)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_render_one, jobs))
    else:
        for job in jobs:
            _render_one(job)
    manifest = {"version": VERSION, "files": [p.name for p in paths], "seeds": [int(s) for s in seeds],
                "image_format": image_format, "quality": quality,
                "clip_kwargs": {k: (list(v) if isinstance(v, tuple) else v) for k, v in clip_kwargs.items()}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return paths
