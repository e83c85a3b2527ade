"""Pinhole projection: a hand-computed case, batching, skew, and points at or behind the camera."""
import numpy as np
import pytest

from hmr_ros.geometry.projection import project

K = np.array([[800.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]])


def test_a_point_projects_where_the_pinhole_formula_says():
    # u = 800 * 0.5 / 2 + 320 = 520, v = 600 * (-0.25) / 2 + 240 = 165
    np.testing.assert_allclose(project(np.array([0.5, -0.25, 2.0]), K), [520.0, 165.0])
    np.testing.assert_allclose(project(np.array([0.0, 0.0, 7.0]), K), [320.0, 240.0])  # principal point


def test_shapes_broadcast_over_leading_axes_and_match_the_homogeneous_product():
    rng = np.random.default_rng(0)
    pts = rng.uniform([-2, -2, 1], [2, 2, 9], (3, 5, 3))
    uv = project(pts, K)
    assert uv.shape == (3, 5, 2) and uv.dtype == np.float64
    uvw = pts @ K.T
    np.testing.assert_allclose(uv, uvw[..., :2] / uvw[..., 2:], rtol=1e-12)


def test_skew_is_applied():
    K_skew = K.copy()
    K_skew[0, 1] = 10.0
    np.testing.assert_allclose(project(np.array([0.0, 1.0, 2.0]), K_skew), [320.0 + 5.0, 540.0])


def test_points_at_or_behind_the_camera_land_far_off_image_not_nan_or_mirrored():
    uv = project(np.array([[0.1, 0.1, 0.0], [0.1, 0.1, -1.0]]), K)
    assert np.all(np.isfinite(uv)) and np.all(uv > 1e6)


def test_annotations_can_ask_for_nan_behind_the_camera():
    pts = np.array([[0.5, -0.25, 2.0], [0.1, 0.1, 0.0], [0.1, 0.1, -1.0]])
    uv = project(pts, K, nan_behind_camera=True)
    np.testing.assert_allclose(uv[0], [520.0, 165.0])
    assert np.isnan(uv[1:]).all()


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        project(np.zeros((4, 2)), K)
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        project(np.zeros(3), np.eye(2))


def test_torch_tensors_project_with_the_same_formula_keep_dtype_and_carry_gradients():
    import torch
    rng = np.random.default_rng(1)
    pts = rng.uniform([-2, -2, 1], [2, 2, 9], (4, 6, 3))
    t = torch.tensor(pts, dtype=torch.float32, requires_grad=True)
    uv = project(t, K)
    assert isinstance(uv, torch.Tensor) and uv.dtype == torch.float32 and uv.shape == (4, 6, 2)
    np.testing.assert_allclose(uv.detach().numpy(), project(pts, K), rtol=1e-5)
    uv.sum().backward()
    assert torch.isfinite(t.grad).all() and (t.grad[..., 0] > 0).all()  # u grows with x
    behind = project(torch.tensor([[0.1, 0.1, -1.0]]), K, nan_behind_camera=True)
    assert torch.isnan(behind).all()


def test_a_batch_of_cameras_projects_each_leading_index_through_its_own_K():
    rng = np.random.default_rng(2)
    Ks = np.stack([K, K * [[2.0], [0.5], [1.0]]])  # (2, 3, 3): fx doubled, fy halved in the second
    pts = rng.uniform([-1, -1, 2], [1, 1, 6], (2, 3, 5, 3))
    uv = project(pts, Ks)
    for b in range(2):
        np.testing.assert_allclose(uv[b], project(pts[b], Ks[b]))
    with pytest.raises(ValueError, match=r"\(B, 3, 3\)"):
        project(pts[:1], Ks)
