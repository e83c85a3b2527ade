"""``python -m hmr_ros render-shards``: render varied synthetic clips once into compressed shards."""
from __future__ import annotations

import argparse

from hmr_ros.cli.common import image_size


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render-shards", help="render varied synthetic clips into OUT/<split>/clip_*.npz")
    p.add_argument("--out", required=True, help="output directory (clips go to OUT/<split>/)")
    p.add_argument("--clips", type=int, required=True, help="number of clips")
    p.add_argument("--seed", type=int, default=0, help="split seed (see hmr_ros.sim.shards)")
    p.add_argument("--split", default="train", choices=["train", "bench"])
    p.add_argument("--start", type=int, default=0, help="index of the first clip (to extend a split)")
    p.add_argument("--frames", type=int, default=16, help="frames per clip")
    p.add_argument("--size", type=image_size, default=None,
                   help="WxH for every clip (default: random landscape/portrait)")
    p.add_argument("--people", type=int, default=None, help="people per clip (default: random 1-8)")
    p.add_argument("--format", default="jpeg", choices=["jpeg", "png"], help="frame encoding (png is lossless)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality")
    p.add_argument("--workers", type=int, default=1, help="rendering processes")
    p.set_defaults(func=run)


def run(args) -> int:
    import time
    from pathlib import Path

    from hmr_ros.sim.shards import clip_seeds, write_shards

    kwargs = {"num_frames": args.frames}
    if args.size:
        kwargs["size"] = args.size
    if args.people is not None:
        kwargs["num_people"] = args.people
    seeds = clip_seeds(args.split, args.clips, args.seed, args.start)
    out = Path(args.out) / args.split
    t0 = time.perf_counter()
    paths = write_shards(out, seeds, start_index=args.start, image_format=args.format, quality=args.quality,
                         workers=args.workers, **kwargs)
    size = sum(p.stat().st_size for p in paths)
    print(f"wrote {len(paths)} clips ({size / 1e6:.1f} MB) to {out} in {time.perf_counter() - t0:.1f} s")
    return 0
