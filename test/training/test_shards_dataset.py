"""Training from pre-rendered shards: ShardClipDataset reads the varied clips of a shard directory, cuts windows,
crops and drops extra people reproducibly, and `train --shards DIR` trains on them."""
import itertools

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from hmr_ros.cli import main
from hmr_ros.model.siam import SIAMConfig
from hmr_ros.geometry.projection import project
from hmr_ros.sim.shards import clip_seeds, write_shards
from hmr_ros.clip_files import list_shards, read_clip
from hmr_ros.clips import crop_clip
from hmr_ros.training.shard_dataset import ShardClipDataset, select_people
from hmr_ros.training.loop import TrainConfig, train

S, T, K = 64, 2, 2
CFG = SIAMConfig(width="w18", input_size=S, window=T, max_people=K)
GRID = S // CFG.stride
FRAMES, PEOPLE = 8, 4  # more people than slots, so every clip exercises the selection


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory, body):
    out = tmp_path_factory.mktemp("shards") / "train"
    write_shards(out, clip_seeds("train", 3, seed=7), num_frames=FRAMES, size=(160, 120), num_people=PEOPLE)
    return out


@pytest.fixture(scope="module")
def dataset(shard_dir, body):
    return ShardClipDataset(CFG, shard_dir, seed=0, body_model=body)


def same(a, b):
    return all(torch.equal(getattr(a, k), getattr(b, k)) for k in ("images", "index", "mask", "cam", "rotmats"))


def test_samples_have_the_network_shapes(dataset):
    samples = list(itertools.islice(iter(dataset), 3))
    for s in samples:
        assert s.images.shape == (T, S, S, 3) and s.images.dtype == torch.uint8
        assert s.heatmaps.shape == (T, 1, GRID, GRID)
        assert s.index.shape == (T, K) and s.mask.shape == (T, K) and s.mask.dtype == torch.bool
        assert s.rotmats.shape == (K, 24, 3, 3) and s.betas.shape == (K, CFG.num_betas) and s.cam.shape == (K, 3)
        assert s.joints.shape == (T, K, 24, 3)
    assert any(bool(s.mask.any()) for s in samples)


def test_an_epoch_visits_every_clip_once_in_a_seeded_order(dataset, shard_dir, body):
    n = len(list_shards(shard_dir))
    assert len(dataset) == n == 3
    orders = [dataset.order(e).tolist() for e in range(6)]
    assert all(sorted(o) == list(range(n)) for o in orders)
    assert len({tuple(o) for o in orders}) > 1  # reshuffled between epochs
    again = ShardClipDataset(CFG, shard_dir, seed=0, body_model=body)
    assert again.order(3).tolist() == orders[3]


def test_the_stream_is_deterministic_per_seed(dataset, shard_dir, body):
    again = ShardClipDataset(CFG, shard_dir, seed=0, body_model=body)
    other = ShardClipDataset(CFG, shard_dir, seed=1, body_model=body)
    assert all(same(dataset.sample(i), again.sample(i)) for i in (0, 4))
    assert not all(same(dataset.sample(i), other.sample(i)) for i in range(3))


def test_a_sample_is_a_window_of_consecutive_frames_of_one_shard(dataset):
    i = 1
    sample = dataset.sample(i)
    clip = read_clip(dataset.paths[int(dataset.order(0)[i])], dataset.body_model())

    def fits(start):  # every annotated root is the root of someone in frame start + t
        for t in range(T):
            truth = np.stack([p.joints[0] for p in clip.frames[start + t].people])
            for k in sample.mask[t].nonzero().flatten().tolist():
                if not np.isclose(truth, sample.roots[t, k].numpy(), atol=1e-6).all(-1).any():
                    return False
        return True

    assert sample.mask.any(dim=1).all(), "the test needs someone annotated in every frame"
    assert any(fits(s) for s in range(FRAMES - T + 1))


def test_an_endless_stream_and_dataloader_workers_split_it(dataset, shard_dir, body):
    one_epoch = ShardClipDataset(CFG, shard_dir, seed=0, epochs=1, body_model=body)
    serial = list(one_epoch)
    assert len(serial) == 3
    assert len(list(itertools.islice(iter(dataset), 7))) == 7  # epochs=None never ends
    loader = DataLoader(one_epoch, batch_size=None, num_workers=2)
    parallel = list(loader)
    assert len(parallel) == 3 and all(same(a, b) for a, b in zip(serial, parallel))
    resumed = ShardClipDataset(CFG, shard_dir, seed=0, epochs=1, body_model=body, start=2)
    assert [same(s, serial[2]) for s in resumed] == [True]


def test_people_beyond_the_slots_keep_the_most_visible(shard_dir, body):
    clip = read_clip(list_shards(shard_dir)[0], body)
    assert len(clip.frames[0].people) == PEOPLE
    visible = [sum(f.people[k].visible_pixels for f in clip.frames) for k in range(PEOPLE)]
    kept = select_people(clip, K)
    ids = [p.track_id for p in kept.frames[0].people]
    # the K largest visible-pixel counts, listed in track order
    assert ids == sorted(np.argsort(-np.array(visible), kind="stable")[:K].tolist())
    assert all([p.track_id for p in f.people] == ids for f in kept.frames)
    assert select_people(clip, PEOPLE) is clip


def test_a_crop_keeps_the_2d_annotations_consistent(shard_dir, body):
    clip = read_clip(list_shards(shard_dir)[1], body)
    x0, y0, w, h = 30, 20, 100, 75
    cropped = crop_clip(clip, x0, y0, w, h)
    assert cropped.frames[0].rgb.shape == (h, w, 3) and cropped.meta["crop"] == [x0, y0, w, h]
    assert cropped.meta["seed"] == clip.meta["seed"]
    for f, g in zip(clip.frames, cropped.frames):
        for p, q in zip(f.people, g.people):
            # the cropped camera projects the unchanged 3D joints onto the moved 2D joints
            np.testing.assert_allclose(q.joints_2d, project(q.joints, cropped.K, nan_behind_camera=True), atol=1e-3)
            np.testing.assert_allclose(q.joints_2d, p.joints_2d - [x0, y0], atol=1e-4)
            np.testing.assert_allclose(q.centre, q.joints_2d[0], atol=1e-4)
            np.testing.assert_allclose(q.box, p.box - [x0, y0, x0, y0], atol=1e-4)
            uv = q.joints_2d
            inside = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
            assert (q.joints_in_image == inside).all()
            assert (q.joints_visible == (inside & ~q.joints_occluded)).all()
            assert q.visible_pixels is None  # counted on the uncropped frame: dropped, not wrong
            assert (q.joints_occluded == p.joints_occluded).all() and q.track_id == p.track_id


def test_training_reads_the_shards(shard_dir, body):
    result = train(CFG, TrainConfig(steps=2, batch_clips=2, lr=1e-3, device="cpu", seed=0, out_path=None,
                   log_every=0), shards=shard_dir, body_model=body, log=lambda _: None)
    assert len(result.history) == 2
    assert all(np.isfinite(h["total"]) for h in result.history)


def test_the_command_line_trains_from_shards(shard_dir, tmp_path, capsys):
    out = tmp_path / "shards.safetensors"
    rc = main(["train", "--width", "w18", "--input-size", str(S), "--window", str(T), "--max-people", str(K),
               "--steps", "1", "--batch-clips", "1", "--device", "cpu", "--workers", "0", "--log-every", "1",
               "--shards", str(shard_dir), "--out", str(out)])
    assert rc == 0 and out.is_file()
    assert f"clips from {shard_dir}" in capsys.readouterr().out


def test_an_empty_directory_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="no clip_"):
        ShardClipDataset(CFG, tmp_path)
    with pytest.raises(ValueError, match="one of data, shards and clip_stream"):
        train(CFG, TrainConfig(steps=1, batch_clips=1, lr=1e-3, device="cpu", seed=0, out_path=None, log_every=0),
              data=[], shards=tmp_path, log=lambda _: None)


def test_the_mixture_reads_finished_shards_only(shard_dir, tmp_path):
    """A render still writing leaves clip_N.npz.tmp.npz files: the real-data mixture must not read them."""
    import shutil

    from hmr_ros.datasets.clips import shard_clips

    folder = tmp_path / "train"
    shutil.copytree(shard_dir, folder)
    shutil.copy(folder / "clip_000000.npz", folder / "clip_000003.npz.tmp.npz")
    clips = list(shard_clips(folder, window=T, rng=np.random.default_rng(0)))
    assert len(clips) == len(list_shards(shard_dir)) == 3
    assert all(len(c.frames) == T for c in clips)
