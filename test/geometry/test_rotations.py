"""Rotation conversions: round trips, singular angles (0 and pi), valid rotation outputs."""
import math

import pytest
import torch

from hmr_ros.geometry.rotations import (
    axis_angle_to_quaternion,
    axis_angle_to_rotmat,
    quaternion_to_axis_angle,
    quaternion_to_rotmat,
    rot6d_to_rotmat,
    rotmat_to_axis_angle,
    rotmat_to_quaternion,
    rotmat_to_rot6d,
)

D = torch.float64


def random_axis_angle(n, gen, max_angle=math.pi):
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=gen, dtype=D), dim=-1)
    angle = torch.rand(n, 1, generator=gen, dtype=D) * max_angle
    return axis * angle


def assert_rotation(R, tol=1e-10):
    eye = torch.eye(3, dtype=R.dtype).expand(R.shape)
    assert torch.allclose(R.transpose(-1, -2) @ R, eye, atol=tol)
    assert torch.allclose(torch.linalg.det(R), torch.ones(R.shape[:-2], dtype=R.dtype), atol=tol)


def test_rodrigues_matches_matrix_exponential():
    aa = random_axis_angle(500, torch.Generator().manual_seed(0))
    R = axis_angle_to_rotmat(aa)
    assert torch.allclose(R, torch.linalg.matrix_exp(_skew(aa)), atol=1e-12)
    assert_rotation(R)


def _skew(v):
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], -1).reshape(*v.shape[:-1], 3, 3)


def test_axis_angle_round_trip_random_rotations():
    aa = random_axis_angle(1000, torch.Generator().manual_seed(1), max_angle=math.pi - 1e-3)
    assert torch.allclose(rotmat_to_axis_angle(axis_angle_to_rotmat(aa)), aa, atol=1e-10)


@pytest.mark.parametrize("angle", [0.0, 1e-12, 1e-8, 1e-5, 1e-3, 2e-3])
def test_axis_angle_near_zero_is_exact_and_has_finite_gradient(angle):
    aa = torch.tensor([[0.3, -0.5, 0.8]], dtype=D)
    aa = (aa / aa.norm() * angle).requires_grad_(True)
    R = axis_angle_to_rotmat(aa)
    assert torch.allclose(R, torch.linalg.matrix_exp(_skew(aa.detach())), atol=1e-15)
    back = rotmat_to_axis_angle(R)
    assert torch.allclose(back, aa.detach(), atol=1e-15)
    back.sum().backward()
    assert torch.isfinite(aa.grad).all()


@pytest.mark.parametrize("eps", [0.0, 1e-9, 1e-6, 1e-3])
def test_axis_angle_near_pi(eps):
    gen = torch.Generator().manual_seed(2)
    axis = torch.nn.functional.normalize(torch.randn(64, 3, generator=gen, dtype=D), dim=-1)
    aa = axis * (math.pi - eps)
    R = axis_angle_to_rotmat(aa)
    back = rotmat_to_axis_angle(R)
    assert torch.allclose(back.norm(dim=-1), torch.full((64,), math.pi - eps, dtype=D), atol=1e-7)
    # at exactly pi, +axis and -axis are the same rotation: compare the rotations
    assert torch.allclose(axis_angle_to_rotmat(back), R, atol=1e-12)
    if eps >= 1e-6:
        assert torch.allclose(back, aa, atol=1e-6)


def test_rot6d_round_trip_and_column_convention():
    R = axis_angle_to_rotmat(random_axis_angle(300, torch.Generator().manual_seed(3)))
    x6 = rotmat_to_rot6d(R)
    assert torch.equal(x6[:, :3], R[:, :, 0]) and torch.equal(x6[:, 3:], R[:, :, 1])
    assert torch.allclose(rot6d_to_rotmat(x6), R, atol=1e-12)


def test_rot6d_of_arbitrary_vectors_is_a_rotation_spanning_the_first_column():
    x6 = torch.randn(4, 7, 6, generator=torch.Generator().manual_seed(4), dtype=D)
    R = rot6d_to_rotmat(x6)
    assert R.shape == (4, 7, 3, 3)
    assert_rotation(R)
    a1 = torch.nn.functional.normalize(x6[..., :3], dim=-1)
    assert torch.allclose(R[..., :, 0], a1, atol=1e-12)
    # the second column lies in the plane of a1 and a2
    normal = torch.cross(x6[..., :3], x6[..., 3:], dim=-1)
    assert torch.allclose((R[..., :, 1] * normal).sum(-1), torch.zeros(4, 7, dtype=D), atol=1e-10)


def test_quaternion_helpers_agree():
    aa = random_axis_angle(200, torch.Generator().manual_seed(5), max_angle=math.pi - 1e-4)
    q = axis_angle_to_quaternion(aa)
    assert torch.allclose(q.norm(dim=-1), torch.ones(200, dtype=D), atol=1e-12)
    assert torch.allclose(quaternion_to_rotmat(q), axis_angle_to_rotmat(aa), atol=1e-12)
    assert torch.allclose(quaternion_to_axis_angle(q), aa, atol=1e-10)
    assert torch.allclose(quaternion_to_axis_angle(-q), aa, atol=1e-10)  # q and -q: same rotation
    assert torch.allclose(rotmat_to_quaternion(axis_angle_to_rotmat(aa)), q * torch.sign(q[:, :1]), atol=1e-10)


def test_batched_leading_dims_and_float32():
    aa = random_axis_angle(24, torch.Generator().manual_seed(6)).reshape(2, 3, 4, 3).float()
    R = axis_angle_to_rotmat(aa)
    assert R.shape == (2, 3, 4, 3, 3) and R.dtype == torch.float32
    assert_rotation(R.double(), tol=1e-5)
    assert rotmat_to_axis_angle(R).shape == (2, 3, 4, 3)
    assert rotmat_to_rot6d(R).shape == (2, 3, 4, 6)


def test_wrong_shapes_raise_value_error():
    with pytest.raises(ValueError, match=r"\(\.\.\., 6\)"):
        rot6d_to_rotmat(torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, 3\)"):
        rotmat_to_axis_angle(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        axis_angle_to_rotmat(torch.zeros(2, 4))
