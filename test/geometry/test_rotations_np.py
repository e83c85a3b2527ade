"""numpy rotation helpers: exp/log round trips, composition, and agreement with the torch toolkit."""
import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hmr_ros.geometry import rotations as rot_torch
from hmr_ros.geometry.rotations_np import (
    geodesic_angle,
    quat_conj,
    quat_from_rotvec,
    quat_mul,
    rotmat_from_quat,
    rotmat_from_rotvec,
    rotvec_from_quat,
)

ANGLES = [0.0, 1e-9, 1e-4, 0.5, 2.0, math.pi - 1e-6]
AXIS = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])


def random_rotvecs(n, seed, max_angle=math.pi):
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    return axis * rng.uniform(0.0, max_angle, (n, 1))


@pytest.mark.parametrize("angle", ANGLES)
def test_exp_log_round_trip(angle):
    rv = AXIS * angle
    q = quat_from_rotvec(rv)
    assert np.linalg.norm(q) == pytest.approx(1.0)
    np.testing.assert_allclose(rotvec_from_quat(q), rv, atol=1e-9)
    np.testing.assert_allclose(rotvec_from_quat(-q), rv, atol=1e-9)  # sign-invariant
    ref = Rotation.from_rotvec(rv).as_quat()  # scipy: (x, y, z, w)
    np.testing.assert_allclose(np.abs(np.dot(q, np.r_[ref[3], ref[:3]])), 1.0, atol=1e-12)


def test_log_takes_the_short_way_round():
    # 1.5 pi about z is -0.5 pi about z
    np.testing.assert_allclose(rotvec_from_quat(quat_from_rotvec([0.0, 0.0, 1.5 * math.pi])),
                               [0.0, 0.0, -0.5 * math.pi], atol=1e-12)


def test_quat_mul_matches_rotation_composition():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=3), rng.normal(size=3)
    ab = rotvec_from_quat(quat_mul(quat_from_rotvec(a), quat_from_rotvec(b)))
    ref = (Rotation.from_rotvec(a) * Rotation.from_rotvec(b)).as_rotvec()
    assert Rotation.from_rotvec(ab).approx_equal(Rotation.from_rotvec(ref), atol=1e-9)
    # b first, then a: the matrix of the product is R_a @ R_b
    np.testing.assert_allclose(rotmat_from_rotvec(ab), rotmat_from_rotvec(a) @ rotmat_from_rotvec(b), atol=1e-12)


def test_conjugate_is_the_inverse_and_geodesic_angle_is_the_relative_angle():
    q = quat_from_rotvec(random_rotvecs(50, 2))
    np.testing.assert_allclose(quat_mul(q, quat_conj(q)), np.broadcast_to([1.0, 0, 0, 0], q.shape), atol=1e-12)
    delta = AXIS * 0.7
    np.testing.assert_allclose(geodesic_angle(q, quat_mul(q, quat_from_rotvec(delta))), 0.7, atol=1e-7)
    np.testing.assert_allclose(geodesic_angle(q, -q), 0.0, atol=1e-7)  # sign-invariant (arccos resolution)


@pytest.mark.parametrize("angle", ANGLES + [math.pi])
def test_rotmat_is_a_rotation_by_the_angle_about_the_axis(angle):
    R = rotmat_from_rotvec(AXIS * angle)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(R @ AXIS, AXIS, atol=1e-12)  # the axis is fixed
    assert np.trace(R) == pytest.approx(1.0 + 2.0 * math.cos(angle), abs=1e-12)
    np.testing.assert_allclose(rotmat_from_quat(quat_from_rotvec(AXIS * angle)), R, atol=1e-12)


def test_batched_shapes_are_kept():
    rv = random_rotvecs(24, 3).reshape(2, 12, 3)
    assert quat_from_rotvec(rv).shape == (2, 12, 4)
    assert rotvec_from_quat(quat_from_rotvec(rv)).shape == (2, 12, 3)
    assert rotmat_from_rotvec(rv).shape == (2, 12, 3, 3)
    assert quat_mul(quat_from_rotvec(rv), quat_from_rotvec(rv[:1])).shape == (2, 12, 4)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        quat_from_rotvec(np.zeros(4))
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        rotvec_from_quat(np.zeros(3))


def test_agrees_with_the_torch_toolkit():
    rv = np.concatenate([random_rotvecs(500, 4), random_rotvecs(20, 5, max_angle=1e-5), np.zeros((1, 3))])
    t = torch.as_tensor(rv, dtype=torch.float64)
    np.testing.assert_allclose(quat_from_rotvec(rv), rot_torch.axis_angle_to_quaternion(t).numpy(), atol=1e-12)
    np.testing.assert_allclose(rotmat_from_rotvec(rv), rot_torch.axis_angle_to_rotmat(t).numpy(), atol=1e-12)
    q = quat_from_rotvec(rv)
    np.testing.assert_allclose(rotvec_from_quat(q),
                               rot_torch.quaternion_to_axis_angle(torch.as_tensor(q)).numpy(), atol=1e-10)
    np.testing.assert_allclose(rotmat_from_quat(q), rot_torch.quaternion_to_rotmat(torch.as_tensor(q)).numpy(),
                               atol=1e-12)
