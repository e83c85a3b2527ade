"""Varied clips: deterministic per seed, ground truth consistent with the body model, the camera and the image."""
import numpy as np
import pytest
import torch

from hmr_ros.geometry.rotations import axis_angle_to_rotmat
from hmr_ros.sim.motions import MOTIONS
from hmr_ros.sim.scene import BACKGROUNDS, SIZES, sample_camera
from hmr_ros.sim.varied import FAR_M, NEAR_M, make_varied_clip


@pytest.fixture(scope="module")
def clip(body):
    return make_varied_clip(5, num_frames=4, size=(160, 120), num_people=4, body_model=body)


def test_clip_shapes_meta_and_people(clip, body):
    assert len(clip.frames) == 4 and clip.K.shape == (3, 3) and 10 <= clip.fps <= 30
    assert clip.meta["seed"] == 5 and clip.meta["background"] in BACKGROUNDS
    assert 0.5 <= clip.meta["camera_height_m"] <= 2.5 and abs(clip.meta["pitch_rad"]) <= np.deg2rad(20) + 1e-9
    assert np.deg2rad(40) - 1e-9 <= clip.meta["hfov_rad"] <= np.deg2rad(100) + 1e-9
    for t, f in enumerate(clip.frames):
        assert f.rgb.shape == (120, 160, 3) and f.rgb.dtype == np.uint8
        assert f.stamp == pytest.approx(t / clip.fps)
        assert 1 <= len(f.people) <= 4
        for k, p in enumerate(f.people):
            assert p.track_id == k and p.motion in MOTIONS
            assert p.vertices.shape == (body.num_vertices, 3) and p.joints_2d.shape == (24, 2)
            assert p.joints_visible.dtype == bool and np.array_equal(p.joints_visible,
                                                                     p.joints_in_image & ~p.joints_occluded)
            assert np.abs(p.betas).max() <= 3.0
            assert NEAR_M - 0.2 <= p.joints[0, 2] <= FAR_M + 0.2  # root depth, camera optical z


def test_ground_truth_is_the_body_model_plus_translation(clip, body):
    for p in clip.frames[1].people:
        R = axis_angle_to_rotmat(torch.as_tensor(np.concatenate([p.global_orient, p.body_pose]).reshape(24, 3)))
        out = body(torch.as_tensor(p.betas)[None], R[None].float())
        assert np.allclose(out.vertices[0].numpy() + p.translation, p.vertices, atol=1e-4)
        assert np.allclose(out.joints[0].numpy() + p.translation, p.joints, atol=1e-4)


def test_projections_boxes_and_centres_match_the_camera(clip):
    for f in clip.frames:
        for p in f.people:
            uvw = p.joints.astype(np.float64) @ clip.K.T
            assert np.allclose(p.joints_2d, uvw[:, :2] / uvw[:, 2:], atol=1e-3)
            x0, y0, x1, y1 = p.box
            assert (p.joints_2d[:, 0] >= x0).all() and (p.joints_2d[:, 0] <= x1).all()
            assert (p.joints_2d[:, 1] >= y0).all() and (p.joints_2d[:, 1] <= y1).all()
            assert np.allclose(p.centre, p.joints_2d[0])


def test_feet_stand_on_the_floor(clip):
    h, pitch = clip.meta["camera_height_m"], clip.meta["pitch_rad"]
    R = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    for p in clip.frames[0].people:
        level = p.vertices.astype(np.float64) @ R  # optical -> level frame (y down, gravity)
        assert level[:, 1].max() == pytest.approx(h, abs=1e-3)


def test_renders_are_deterministic_per_seed(clip, body):
    again = make_varied_clip(5, num_frames=4, size=(160, 120), num_people=4, body_model=body)
    other = make_varied_clip(6, num_frames=4, size=(160, 120), num_people=4, body_model=body)
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(clip.frames, again.frames))
    assert np.array_equal(clip.frames[3].people[0].vertices, again.frames[3].people[0].vertices)
    assert not np.array_equal(clip.frames[0].rgb, other.frames[0].rgb)


def test_visible_people_are_drawn_and_counted(clip):
    for f in clip.frames:
        for p in f.people:
            if p.visible_pixels > 0:
                assert p.joints_in_image.any() or p.box[2] >= 0  # at least partly on screen
        assert sum(p.visible_pixels for p in f.people) < 120 * 160


def test_cameras_cover_the_documented_ranges():
    cams = [sample_camera(np.random.default_rng(s)) for s in range(200)]
    assert {(c.width, c.height) for c in cams} == set(SIZES)  # landscape and portrait
    assert 0.5 <= min(c.height_m for c in cams) and max(c.height_m for c in cams) <= 2.5
    assert max(abs(c.pitch) for c in cams) <= np.deg2rad(20)
    assert np.deg2rad(40) <= min(c.hfov for c in cams) and max(c.hfov for c in cams) <= np.deg2rad(100)


def test_people_counts_vary_from_one_to_eight(body):
    counts = [len(make_varied_clip(s, num_frames=1, size=(64, 48), body_model=body, effects=False).frames[0].people)
              for s in range(8)]
    assert min(counts) >= 1 and max(counts) <= 8 and len(set(counts)) >= 3


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_people"):
        make_varied_clip(0, num_people=9)
