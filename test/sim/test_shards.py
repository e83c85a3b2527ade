"""Shards: rendered once, read back equal to the rendered clips; train and bench seeds never meet."""
import json

import numpy as np
import pytest

from hmr_ros.cli import main as cli_main
from hmr_ros.sim.shards import BENCH_NAMESPACE, clip_seeds, write_shards
from hmr_ros.clip_files import iter_clips, list_shards, read_clip, write_clip
from hmr_ros.sim.varied import make_varied_clip

KW = dict(num_frames=3, size=(96, 72), num_people=3)


def assert_same_clip(a, b, exact_pixels=True):
    assert np.array_equal(a.K, b.K) and a.fps == b.fps and np.array_equal(a.faces, b.faces) and a.meta == b.meta
    for fa, fb in zip(a.frames, b.frames, strict=True):
        assert fa.stamp == fb.stamp
        if exact_pixels:
            assert np.array_equal(fa.rgb, fb.rgb)
        else:
            assert fa.rgb.shape == fb.rgb.shape and np.abs(fa.rgb.astype(int) - fb.rgb).mean() < 4.0
        for pa, pb in zip(fa.people, fb.people, strict=True):
            for name, va in vars(pa).items():
                vb = getattr(pb, name)
                if isinstance(va, np.ndarray):
                    assert va.dtype == vb.dtype and np.array_equal(va, vb, equal_nan=True), name
                else:
                    assert va == vb, name


def test_png_shards_round_trip_exactly(tmp_path, body):
    clip = make_varied_clip(11, body_model=body, **KW)
    path = write_clip(tmp_path / "clip_000000.npz", clip, image_format="png")
    with np.load(path, allow_pickle=False) as z:  # plain arrays only
        assert z["images"].dtype == np.uint8 and z["joints_2d"].shape == (3, 3, 24, 2)
    assert_same_clip(clip, read_clip(path, body))


def test_jpeg_shards_differ_only_in_the_pixels(tmp_path, body):
    clip = make_varied_clip(12, body_model=body, **KW)
    assert_same_clip(clip, read_clip(write_clip(tmp_path / "c.npz", clip, quality=95), body), exact_pixels=False)


def test_write_shards_renders_each_seed_deterministically(tmp_path, body):
    seeds = clip_seeds("train", 2, seed=7)
    paths = write_shards(tmp_path / "train", seeds, image_format="png", **KW)
    assert [p.name for p in paths] == ["clip_000000.npz", "clip_000001.npz"] == [p.name for p in list_shards(tmp_path / "train")]
    manifest = json.loads((tmp_path / "train" / "manifest.json").read_text())
    assert manifest["seeds"] == seeds and manifest["image_format"] == "png"
    for seed, clip in zip(seeds, iter_clips(tmp_path / "train", body), strict=True):
        assert_same_clip(make_varied_clip(seed, body_model=body, **KW), clip)


def test_train_and_bench_seeds_are_reproducible_and_disjoint():
    train = clip_seeds("train", 500, seed=0)
    assert train == clip_seeds("train", 500, seed=0) and train[100:] == clip_seeds("train", 400, seed=0, start=100)
    assert train[0] == int(np.random.SeedSequence([0, 0]).generate_state(2, np.uint64)[0] >> np.uint64(1))
    bench = clip_seeds("bench", 500)
    assert not set(bench) & set(train) and not set(bench) & set(clip_seeds("train", 500, seed=1))
    assert BENCH_NAMESPACE >= 2 ** 96  # never a training seed
    with pytest.raises(ValueError, match="split"):
        clip_seeds("test", 1)


def test_render_shards_command(tmp_path, body):
    rc = cli_main(["render-shards", "--out", str(tmp_path), "--clips", "1", "--seed", "3", "--split", "bench",
                   "--frames", "2", "--size", "64x48", "--people", "1"])
    assert rc == 0
    (path,) = list_shards(tmp_path / "bench")
    clip = read_clip(path, body)
    assert clip.meta["seed"] == clip_seeds("bench", 1, seed=3)[0]
    assert len(clip.frames) == 2 and clip.frames[0].rgb.shape == (48, 64, 3)
