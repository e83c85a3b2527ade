"""Synthetic clips: shapes, determinism, ground truth consistent with the body model and the image."""
import numpy as np
import pytest
import torch

from hmr_ros.geometry.rotations import axis_angle_to_rotmat
from hmr_ros.sim.clips import CAMERA_HEIGHT_M, make_clip, walking_pose


@pytest.fixture(scope="module")
def clip(body):
    return make_clip(num_frames=5, width=160, height=120, num_people=2, fps=10.0, seed=3, body_model=body)


def test_shapes_and_stamps(clip, body):
    assert len(clip.frames) == 5 and clip.fps == 10.0
    assert clip.K.shape == (3, 3) and np.allclose(clip.K[:2, 2], [80, 60])
    assert np.array_equal(clip.faces, body.faces)
    for i, frame in enumerate(clip.frames):
        assert frame.rgb.shape == (120, 160, 3) and frame.rgb.dtype == np.uint8
        assert frame.stamp == pytest.approx(i / 10.0)
        assert len(frame.people) == 2
        for p in frame.people:
            assert p.betas.shape == (10,) and p.global_orient.shape == (3,) and p.body_pose.shape == (69,)
            assert p.translation.shape == (3,) and p.joints.shape == (24, 3)
            assert p.vertices.shape == (body.num_vertices, 3)


def test_deterministic_by_seed(clip, body):
    again = make_clip(num_frames=5, width=160, height=120, num_people=2, fps=10.0, seed=3, body_model=body)
    other = make_clip(num_frames=5, width=160, height=120, num_people=2, fps=10.0, seed=4, body_model=body)
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(clip.frames, again.frames))
    assert np.array_equal(clip.frames[2].people[1].vertices, again.frames[2].people[1].vertices)
    assert not np.array_equal(clip.frames[0].people[0].betas, other.frames[0].people[0].betas)


def test_ground_truth_is_the_body_model_plus_translation(clip, body):
    for frame in clip.frames[::2]:
        for p in frame.people:
            R = axis_angle_to_rotmat(torch.as_tensor(np.concatenate([p.global_orient, p.body_pose]).reshape(24, 3)))
            out = body(torch.as_tensor(p.betas)[None], R[None].float())
            assert np.allclose(out.vertices[0].numpy() + p.translation, p.vertices, atol=1e-4)
            assert np.allclose(out.joints[0].numpy() + p.translation, p.joints, atol=1e-4)


def test_people_stand_upright_on_the_floor_3_to_6_m_away_and_inside_the_image(clip):
    K = clip.K
    for frame in clip.frames:
        for p in frame.people:
            v = p.vertices.astype(np.float64)
            assert 3.0 < v[:, 2].min() and v[:, 2].max() < 6.5
            assert v[:, 1].max() == pytest.approx(CAMERA_HEIGHT_M, abs=1e-4)  # lowest point on the floor
            assert p.joints[15, 1] < p.joints[0, 1] < p.joints[7, 1]  # head above pelvis above ankle (y down)
            uv = (v @ K.T)[:, :2] / v[:, 2:3]
            assert (uv >= 0).all() and (uv[:, 0] < 160).all() and (uv[:, 1] < 120).all()


def test_people_are_drawn_where_they_project(clip):
    frame = clip.frames[0]
    empty = make_clip(num_frames=1, width=160, height=120, num_people=0, seed=3).frames[0].rgb
    changed = (frame.rgb != empty).any(-1)
    for p in frame.people:
        u, v, w = clip.K @ p.joints[0].astype(np.float64)  # pelvis
        assert changed[int(v / w), int(u / w)]
    assert changed.mean() < 0.5


def test_people_walk(clip):
    first, last = clip.frames[0].people, clip.frames[-1].people
    for a, b in zip(first, last):
        assert np.linalg.norm(b.translation[[0, 2]] - a.translation[[0, 2]]) > 0.1  # moved
        assert np.array_equal(a.betas, b.betas)  # same person


def test_walking_pose_is_a_valid_alternating_gait():
    phase = np.linspace(0, 2 * np.pi, 9)
    R = walking_pose(phase)
    assert R.shape == (9, 24, 3, 3)
    assert np.allclose(R @ np.swapaxes(R, -1, -2), np.eye(3), atol=1e-10)
    assert np.allclose(R[:, 0], np.eye(3))
    # at a quarter cycle the left thigh points forward (+z) and the right one backward
    down = np.array([0.0, -1.0, 0.0])
    assert (R[2, 1] @ down)[2] > 0.2 and (R[2, 2] @ down)[2] < -0.2


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_frames"):
        make_clip(num_frames=0)
