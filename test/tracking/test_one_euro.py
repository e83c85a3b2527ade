"""One-Euro filters: vector filter and the SO(3) rotation filter."""
import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hmr_ros.geometry.rotations_np import geodesic_angle, quat_from_rotvec, quat_mul
from hmr_ros.tracking.one_euro import OneEuroFilter, SO3OneEuroFilter, smoothing_factor

FPS = 30.0


def test_smoothing_factor_is_the_first_order_lowpass_alpha():
    # tau = 1 / (2 pi fc); alpha = 1 / (1 + tau / dt)
    assert smoothing_factor(0.1, 1.0) == pytest.approx(1.0 / (1.0 + 1.0 / (2 * math.pi) / 0.1))
    assert 0.0 < smoothing_factor(1 / FPS, 0.1) < smoothing_factor(1 / FPS, 10.0) < 1.0


def test_first_sample_passes_and_constant_input_stays_constant():
    f = OneEuroFilter(min_cutoff_hz=1.0, beta=1.0)
    x = np.array([1.0, -2.0, 3.0])
    for k in range(50):
        np.testing.assert_allclose(f(x, k / FPS), x)


def test_scalar_input_keeps_its_shape():
    f = OneEuroFilter()
    assert np.shape(f(2.0, 0.0)) == ()
    assert np.shape(f(3.0, 0.1)) == ()


def test_step_response_converges_monotonically():
    f = OneEuroFilter(min_cutoff_hz=1.0, beta=0.0)
    f(np.zeros(3), 0.0)
    prev = 0.0
    for k in range(1, 91):  # 3 s
        y = f(np.ones(3), k / FPS)[0]
        assert prev <= y <= 1.0
        prev = y
    # First-order low-pass at 1 Hz: time constant 0.16 s; after 3 s nothing is left of the step.
    assert prev == pytest.approx(1.0, abs=1e-6)


def test_beta_reduces_lag_on_a_ramp():
    lags = []
    for beta in (0.0, 5.0):
        f = OneEuroFilter(min_cutoff_hz=1.0, beta=beta)
        for k in range(60):
            t = k / FPS
            y = f(np.array([1.5 * t]), t)  # 1.5 m/s
        lags.append(1.5 * t - y[0])
    assert lags[1] < 0.5 * lags[0]


def test_noise_is_reduced():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff_hz=1.0, beta=0.5)
    noisy = rng.normal(0.0, 0.03, (300, 3))
    out = np.stack([f(x, k / FPS) for k, x in enumerate(noisy)])
    assert out[30:].std() < 0.4 * noisy.std()


def test_repeated_stamp_returns_the_current_estimate():
    f = OneEuroFilter()
    f(np.zeros(2), 0.0)
    a = f(np.ones(2), 0.1)
    np.testing.assert_allclose(f(np.full(2, 5.0), 0.1), a)


def test_bad_parameters_and_shapes_raise():
    with pytest.raises(ValueError, match="cutoff"):
        OneEuroFilter(min_cutoff_hz=0.0)
    with pytest.raises(ValueError, match="beta"):
        SO3OneEuroFilter(beta=-1.0)
    f = OneEuroFilter()
    f(np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="shape"):
        f(np.zeros(4), 0.1)
    with pytest.raises(ValueError, match=r"\(J, 3\)"):
        SO3OneEuroFilter()(np.zeros(3), 0.0)


# ---------------------------------------------------------------------------------------------------------
# SO(3) filter
# ---------------------------------------------------------------------------------------------------------
def test_so3_constant_input_stays_constant():
    rng = np.random.default_rng(2)
    rv = rng.normal(size=(24, 3))
    f = SO3OneEuroFilter(min_cutoff_hz=1.0, beta=0.5)
    for k in range(30):
        out = f(rv, k / FPS)
    assert np.all(geodesic_angle(quat_from_rotvec(out), quat_from_rotvec(rv)) < 1e-6)  # arccos resolution


def test_so3_output_is_a_rotation_under_noisy_input():
    rng = np.random.default_rng(3)
    f = SO3OneEuroFilter(min_cutoff_hz=1.0, beta=0.5)
    for k in range(100):
        q = f.filter_quat(rng.normal(size=(24, 4)), k / FPS)  # arbitrary, unnormalised input
        np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
        m = Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix()
        np.testing.assert_allclose(m @ m.transpose(0, 2, 1), np.broadcast_to(np.eye(3), m.shape), atol=1e-9)
        np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-9)


def test_so3_step_response_converges_along_the_geodesic():
    f = SO3OneEuroFilter(min_cutoff_hz=1.0, beta=0.0)
    f(np.zeros((1, 3)), 0.0)
    target = np.array([[0.0, 0.0, 1.2]])
    prev_err = math.inf
    for k in range(1, 91):
        out = f(target, k / FPS)
        err = float(geodesic_angle(quat_from_rotvec(out), quat_from_rotvec(target))[0])
        assert err <= prev_err
        # geodesic interpolation: the axis never leaves z
        np.testing.assert_allclose(out[0, :2], 0.0, atol=1e-12)
        prev_err = err
    assert prev_err < 1e-6


def test_so3_ignores_quaternion_sign_flips():
    rng = np.random.default_rng(4)
    t = np.arange(60) / FPS
    truth = np.stack([np.array([[0.4 * np.sin(2 * tt), 0.3, 1.0 + 0.5 * tt]]) for tt in t])  # (T, 1, 3)
    q = quat_from_rotvec(truth)
    flips = np.where(rng.random((len(t), 1, 1)) < 0.5, -1.0, 1.0)
    f_ref, f_flip = SO3OneEuroFilter(1.0, 0.5), SO3OneEuroFilter(1.0, 0.5)
    prev = None
    for k, tt in enumerate(t):
        a = f_ref.filter_quat(q[k], tt)
        b = f_flip.filter_quat(flips[k] * q[k], tt)
        np.testing.assert_allclose(a, b, atol=1e-12)  # the same rotation, and the same sign
        if prev is not None:
            assert float(np.dot(b[0], prev[0])) > 0.99  # sign-continuous output, no jump
        prev = b


def test_so3_handles_the_axis_angle_wrap_at_pi():
    # (pi - 0.01) about x and -(pi - 0.01) about x are rotations 0.02 rad apart, but their axis-angle vectors
    # are opposite: a per-component filter would pull the estimate towards the identity (pi away).
    axis = np.array([1.0, 0.0, 0.0])
    a, b = axis * (math.pi - 0.01), -axis * (math.pi - 0.01)
    f = SO3OneEuroFilter(min_cutoff_hz=1.0, beta=0.5)
    for k in range(40):
        out = f((a if k % 2 == 0 else b)[None], k / FPS)
        qo = quat_from_rotvec(out)
        assert float(geodesic_angle(qo, quat_from_rotvec(a[None]))[0]) <= 0.02 + 1e-9
        assert float(geodesic_angle(qo, quat_from_rotvec(b[None]))[0]) <= 0.02 + 1e-9
        assert np.linalg.norm(out) <= math.pi + 1e-9


def test_so3_reduces_rotation_jitter():
    rng = np.random.default_rng(5)
    truth = quat_from_rotvec(np.array([[0.2, 1.0, -0.4]]))
    f = SO3OneEuroFilter(min_cutoff_hz=1.0, beta=0.5)
    raw_err, out_err = [], []
    for k in range(200):
        noisy = quat_mul(truth, quat_from_rotvec(rng.normal(0.0, math.radians(3.0), (1, 3))))
        out = f.filter_quat(noisy, k / FPS)
        if k >= 30:
            raw_err.append(geodesic_angle(noisy, truth)[0])
            out_err.append(geodesic_angle(out, truth)[0])
    assert np.mean(out_err) < 0.5 * np.mean(raw_err)
