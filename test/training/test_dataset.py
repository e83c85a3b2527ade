"""Synthetic training samples: targets agree with the rendered ground truth through the project's own camera model."""
import dataclasses

import numpy as np
import pytest
import torch

from hmr_ros.camera import Letterbox, perspective_root
from hmr_ros.geometry.rotations import axis_angle_to_rotmat
from hmr_ros.model.siam import SIAMConfig
from hmr_ros.sim.clips import make_clip
from hmr_ros.training.dataset import SyntheticClipDataset, center_cell, clip_sample, collate, root_to_cam
from hmr_ros.clips import crop_clip

S, T, K = 64, 2, 2
CFG = SIAMConfig(input_size=S, window=T, max_people=K)
STRIDE = CFG.stride
GRID = S // STRIDE
SIZES = [(96, 72), (72, 96)]


@pytest.fixture(scope="module")
def dataset(body):
    return SyntheticClipDataset(CFG, seed=0, image_sizes=SIZES, body_model=body)


@pytest.fixture(scope="module")
def samples(dataset):
    return [dataset.sample(i) for i in range(5)]


def present(sample, t):
    return sample.mask[t].nonzero().flatten().tolist()


def test_target_camera_lifts_to_the_ground_truth_root(samples):
    out = CFG.output_index
    checked = 0
    for s in samples:
        m = s.mask[out]
        root = perspective_root(s.cam[m].double(), s.centers[out][m], s.letterboxes[out], s.K_cam)
        assert torch.allclose(root, s.roots[out][m], rtol=0, atol=1e-6)
        checked += int(m.sum())
    assert checked >= len(samples)


def test_root_to_cam_is_the_exact_inverse_of_perspective_root():
    g = torch.Generator().manual_seed(1)
    lb = Letterbox.fit(640, 480, 256)
    K_cam = np.array([[500.0, 0, 321.0], [0, 510.0, 239.0], [0, 0, 1]])
    root = torch.cat([torch.randn(20, 2, generator=g, dtype=torch.float64),
                      2 + 6 * torch.rand(20, 1, generator=g, dtype=torch.float64)], -1)
    centre = 256 * torch.rand(20, 2, generator=g, dtype=torch.float64)
    cam = root_to_cam(root, centre, lb, K_cam)
    assert (cam[:, 0] > 0).all()
    assert torch.allclose(perspective_root(cam, centre, lb, K_cam), root, rtol=0, atol=1e-12)


def test_centres_are_the_grid_cells_of_the_projected_roots(samples):
    for s in samples:
        for t in range(T):
            lb = s.letterboxes[t]
            for k in present(s, t):
                x, y, z = s.roots[t, k].tolist()
                uv = lb.to_letterbox(np.array([s.K_cam[0, 0] * x / z + s.K_cam[0, 2], s.K_cam[1, 1] * y / z + s.K_cam[1, 2]]))
                ix, iy = int(s.index[t, k]) % GRID, int(s.index[t, k]) // GRID
                assert s.centers[t, k].tolist() == [(ix + 0.5) * STRIDE, (iy + 0.5) * STRIDE]
                assert np.all(np.abs(uv - s.centers[t, k].numpy()) <= STRIDE / 2 + 1e-9)


def test_heatmap_peaks_are_exactly_the_annotated_centres(samples):
    for s in samples:
        assert s.heatmaps.shape == (T, 1, GRID, GRID)
        assert float(s.heatmaps.min()) >= 0.0 and float(s.heatmaps.max()) <= 1.0
        for t in range(T):
            flat = s.heatmaps[t, 0].flatten()
            peaks = set((flat == 1.0).nonzero().flatten().tolist())
            assert peaks == {int(s.index[t, k]) for k in present(s, t)}


def test_masks_mark_the_visible_people_in_slot_order(body):
    """A crop that leaves person 0's root outside the image drops exactly that person; slots past the people stay
    empty."""
    cfg = SIAMConfig(input_size=S, window=T, max_people=3)
    clip = make_clip(num_frames=T, width=96, height=72, num_people=2, seed=3, body_model=body)
    us = [clip.K[0, 0] * p.joints[0, 0] / p.joints[0, 2] + clip.K[0, 2] for p in clip.frames[0].people]
    assert abs(us[0] - us[1]) > 8, "the seed must place the two people apart"
    left = us[0] < us[1]  # keep the image half of person 1, cutting person 0's root out
    cut = int(round((us[0] + us[1]) / 2))
    cropped = crop_clip(clip, cut if left else 0, 0, 96 - cut if left else cut, 72)
    s = clip_sample(cropped, cfg)
    assert s.mask.tolist() == [[False, True, False]] * T
    full = clip_sample(clip, cfg)
    assert full.mask.tolist() == [[True, True, False]] * T
    assert torch.isnan(s.roots[:, 0]).all()
    assert torch.allclose(s.roots[:, 1], torch.tensor(np.stack([f.people[1].joints[0] for f in clip.frames[:T]]),
                                                      dtype=torch.float64))


def test_a_shared_cell_keeps_the_nearer_person(body):
    clip = make_clip(num_frames=T, width=96, height=72, num_people=2, seed=3, body_model=body)
    for frame in clip.frames:  # person 1 directly behind person 0: the same pixel at 1.5x the depth
        p0 = frame.people[0]
        frame.people[1] = dataclasses.replace(frame.people[1], joints=p0.joints * 1.5)
    s = clip_sample(clip, CFG)
    assert s.mask.tolist() == [[True, False]] * T
    assert float((s.heatmaps == 1.0).sum()) == T


def test_pose_and_shape_targets(samples):
    out = CFG.output_index
    for s in samples:
        R = s.rotmats.double()
        assert torch.allclose(R.transpose(-1, -2) @ R, torch.eye(3, dtype=torch.float64).expand_as(R), atol=1e-5)
        assert torch.allclose(torch.linalg.det(R), torch.ones(R.shape[:-2], dtype=torch.float64), atol=1e-5)
        absent = ~s.mask[out]
        assert (s.betas[absent] == 0).all() and (s.cam[absent] == 0).all()
        assert (s.cam[s.mask[out], 0] > 0).all()


def test_rotmats_and_betas_come_from_the_output_frame(body):
    cfg = SIAMConfig(input_size=S, window=3, max_people=2, mode="centered")
    clip = make_clip(num_frames=3, width=96, height=72, num_people=2, seed=0, body_model=body)
    s = clip_sample(clip, cfg)
    assert cfg.output_index == 1 and s.mask[1].all()
    for k, person in enumerate(clip.frames[1].people):
        aa = torch.tensor(np.concatenate([person.global_orient, person.body_pose]).reshape(24, 3))
        assert torch.allclose(s.rotmats[k], axis_angle_to_rotmat(aa), atol=1e-6)
        assert torch.equal(s.betas[k], torch.tensor(person.betas))


def test_dataset_is_reproducible_and_varies(dataset, samples):
    again = dataset.sample(2)
    assert torch.equal(again.images, samples[2].images) and torch.equal(again.cam, samples[2].cam)
    counts = {int(s.mask.any(0).sum()) for s in samples}
    shapes = {(lb.width, lb.height) for s in samples for lb in s.letterboxes}
    assert counts == {1, 2}, counts
    assert len(shapes) > 2, "image size and crop should vary between clips"
    assert all(s.images.shape == (T, S, S, 3) and s.images.dtype == torch.uint8 for s in samples)


def test_workers_split_the_stream_without_repeats(body):
    ds = SyntheticClipDataset(CFG, seed=7, clips=2, image_sizes=SIZES, body_model=body)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    got = sorted((s.cam.sum().item(), s.index.sum().item()) for s in loader)
    want = sorted((ds.sample(i).cam.sum().item(), ds.sample(i).index.sum().item()) for i in range(2))
    assert got == want


def test_collate_builds_a_clip_batch(samples):
    b = collate(samples[:3])
    assert b.images.shape == (3, T, S, S, 3) and b.heatmaps.shape == (3, T, 1, GRID, GRID)
    assert b.index.shape == b.mask.shape == (3, T, K) and b.index.dtype == torch.int64
    assert b.rotmats.shape == (3, K, 24, 3, 3) and b.betas.shape == (3, K, 10) and b.cam.shape == (3, K, 3)


def test_center_cell_clips_to_the_grid():
    cell, flat = center_cell(np.array([[-3.0, 5.0], [63.9, 64.5], [4.0, 7.99]]), S, STRIDE)
    assert cell.tolist() == [[0, 1], [15, 15], [1, 1]]
    assert flat.tolist() == [16, 255, 17]
    with np.errstate(invalid="raise"):  # a root behind the camera projects to NaN: a defined cell, masked later
        assert center_cell(np.array([[np.nan, np.nan]]), S, STRIDE)[1].tolist() == [0]


def test_bad_inputs_are_rejected(body):
    clip = make_clip(num_frames=1, width=64, height=48, num_people=3, seed=0, body_model=body)
    with pytest.raises(ValueError, match="frames"):
        clip_sample(clip, CFG)
    with pytest.raises(ValueError, match="max_people"):
        clip_sample(clip, SIAMConfig(input_size=S, window=1, max_people=2))
    with pytest.raises(ValueError, match="does not fit"):
        crop_clip(clip, 10, 0, 64, 48)
    with pytest.raises(ValueError, match="max_people"):
        SyntheticClipDataset(CFG, max_people=3)
    with pytest.raises(ValueError, match="zoom"):
        SyntheticClipDataset(CFG, zoom=(0.9, 0.5))
