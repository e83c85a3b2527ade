"""One-Euro filters (Casiez et al., CHI 2012) for vectors and for rotations on SO(3).

The One-Euro filter is a first-order low-pass filter whose cutoff frequency rises with the signal's speed:
``cutoff_hz = min_cutoff_hz + beta * |speed|``. Slow motion is smoothed strongly (kills jitter), fast motion
is followed with little lag. The speed is itself low-passed at ``d_cutoff_hz``. Time steps come from the
stamps, so irregular frame rates and dropped frames are handled.

Rotations are filtered on the manifold, not per component of an axis-angle vector: the measurement is
expressed as a tangent vector at the previous estimate (``log(q_prev^-1 * q_meas)``), the filter moves a
fraction ``alpha`` along that geodesic (``q_prev * exp(alpha * delta)``). Quaternion sign (q and -q are the
same rotation) and the +-pi wrap of axis-angle therefore cannot produce jumps, and the output is a unit
quaternion (a proper rotation) by construction.

Quaternions here are ``(..., 4)`` arrays in (w, x, y, z) order (:mod:`hmr_ros.geometry.rotations_np`).
"""
from __future__ import annotations

import math

import numpy as np

from hmr_ros.geometry.rotations_np import quat_conj, quat_from_rotvec, quat_mul, rotvec_from_quat


def smoothing_factor(dt_s: float | np.ndarray, cutoff_hz: float | np.ndarray) -> np.ndarray:
    """Exponential-smoothing factor of a first-order low-pass filter.

    Args:
        dt_s: time step in seconds (> 0).
        cutoff_hz: cutoff frequency in Hz (> 0), scalar or array.
    Returns:
        alpha in (0, 1]: ``x_hat = x_hat_prev + alpha * (x - x_hat_prev)``.
    """
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt_s)


# ----------------------------------------------------------------------------------------------------------
# Filters
# ----------------------------------------------------------------------------------------------------------
class _OneEuroParams:
    """Validated One-Euro parameters; subclasses define ``reset()`` (their state), called once here."""

    def __init__(self, min_cutoff_hz: float = 1.0, beta: float = 0.0, d_cutoff_hz: float = 1.0) -> None:
        if min_cutoff_hz <= 0.0 or d_cutoff_hz <= 0.0:
            raise ValueError(
                f"One-Euro cutoffs must be > 0 Hz, got min_cutoff_hz={min_cutoff_hz}, d_cutoff_hz={d_cutoff_hz}"
            )
        if beta < 0.0:
            raise ValueError(f"One-Euro beta must be >= 0, got {beta}")
        self.min_cutoff_hz = float(min_cutoff_hz)
        self.beta = float(beta)
        self.d_cutoff_hz = float(d_cutoff_hz)
        self.reset()


class OneEuroFilter(_OneEuroParams):
    """One-Euro filter for vectors, in the units of the signal (e.g. metres).

    The signal is an array of shape (..., D); the speed that raises the cutoff is the Euclidean norm of the
    low-passed derivative over the last axis (isotropic for 3D positions). A scalar is treated as (1,).

    Args:
        min_cutoff_hz: cutoff in Hz when the signal does not move (lower = smoother, more lag when slow).
        beta: cutoff increase per unit of speed, in Hz / (signal unit / s) (higher = less lag when fast).
        d_cutoff_hz: cutoff in Hz of the low-pass filter on the derivative.
    """

    def reset(self) -> None:
        """Forget the state; the next sample is passed through unchanged."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    @property
    def value(self) -> np.ndarray | None:
        """The current estimate, or None before the first sample."""
        return None if self._x is None else self._x.copy()

    def __call__(self, x: np.ndarray | float, stamp_s: float) -> np.ndarray:
        """Filter one sample taken at ``stamp_s`` (seconds). Returns the estimate, same shape as ``x``.

        A sample whose stamp is not after the previous one leaves the state unchanged and returns the
        current estimate (a duplicate frame must not divide by a zero time step).
        """
        arr = np.asarray(x, dtype=np.float64)
        shape = arr.shape
        v = arr.reshape(1) if arr.ndim == 0 else arr
        if self._x is None:
            self._x, self._dx, self._t = v.copy(), np.zeros_like(v), float(stamp_s)
            return v.reshape(shape).copy()
        if v.shape != self._x.shape:
            raise ValueError(f"OneEuroFilter expected a sample of shape {self._x.shape}, got {v.shape}")
        dt = float(stamp_s) - self._t
        if dt <= 0.0:
            return self._x.reshape(shape).copy()
        dx = (v - self._x) / dt
        self._dx = self._dx + smoothing_factor(dt, self.d_cutoff_hz) * (dx - self._dx)
        speed = np.linalg.norm(self._dx, axis=-1, keepdims=True)
        alpha = smoothing_factor(dt, self.min_cutoff_hz + self.beta * speed)
        self._x = self._x + alpha * (v - self._x)
        self._t = float(stamp_s)
        return self._x.reshape(shape).copy()


class SO3OneEuroFilter(_OneEuroParams):
    """One-Euro filter for a set of J rotations, done on SO(3).

    Each rotation has its own speed (rad/s) and hence its own cutoff. The filter step is the geodesic
    interpolation ``q_hat = q_prev * exp(alpha * log(q_prev^-1 * q_meas))``; the derivative is the tangent
    vector ``log(q_prev^-1 * q_meas) / dt`` (rad/s) low-passed at ``d_cutoff_hz``.

    Args:
        min_cutoff_hz: cutoff in Hz for a still joint.
        beta: cutoff increase per rad/s of joint angular speed, in Hz / (rad/s) = 1/rad.
        d_cutoff_hz: cutoff in Hz of the low-pass filter on the angular velocity.
    """

    def reset(self) -> None:
        """Forget the state; the next sample is passed through unchanged."""
        self._q: np.ndarray | None = None
        self._w: np.ndarray | None = None
        self._t: float | None = None

    def filter_quat(self, quat: np.ndarray, stamp_s: float) -> np.ndarray:
        """Filter (J, 4) quaternions (w, x, y, z) of either sign taken at ``stamp_s`` (seconds).

        Returns (J, 4) unit quaternions, sign-continuous with the previous output.
        """
        q = np.asarray(quat, dtype=np.float64)
        if q.ndim != 2 or q.shape[1] != 4:
            raise ValueError(f"SO3OneEuroFilter expected (J, 4) quaternions (w, x, y, z), got {q.shape}")
        q = q / np.linalg.norm(q, axis=-1, keepdims=True)
        if self._q is None:
            self._q, self._w, self._t = q.copy(), np.zeros((q.shape[0], 3)), float(stamp_s)
            return q.copy()
        if q.shape != self._q.shape:
            raise ValueError(f"SO3OneEuroFilter expected {self._q.shape[0]} rotations, got {q.shape[0]}")
        dt = float(stamp_s) - self._t
        if dt <= 0.0:
            return self._q.copy()
        # Tangent vector at the previous estimate; rotvec_from_quat picks the short way, so the sign of q
        # and the axis-angle wrap at pi do not matter.
        delta = rotvec_from_quat(quat_mul(quat_conj(self._q), q))
        self._w = self._w + smoothing_factor(dt, self.d_cutoff_hz) * (delta / dt - self._w)
        speed = np.linalg.norm(self._w, axis=-1, keepdims=True)
        alpha = smoothing_factor(dt, self.min_cutoff_hz + self.beta * speed)
        q_new = quat_mul(self._q, quat_from_rotvec(alpha * delta))
        self._q = q_new / np.linalg.norm(q_new, axis=-1, keepdims=True)  # keep unit norm against drift
        self._t = float(stamp_s)
        return self._q.copy()

    def __call__(self, rotvec: np.ndarray, stamp_s: float) -> np.ndarray:
        """Filter (J, 3) axis-angle rotations (radians) -> (J, 3) axis-angle, each angle in [0, pi]."""
        rv = np.asarray(rotvec, dtype=np.float64)
        if rv.ndim != 2 or rv.shape[1] != 3:
            raise ValueError(f"SO3OneEuroFilter expected (J, 3) axis-angle rotations, got {rv.shape}")
        return rotvec_from_quat(self.filter_quat(quat_from_rotvec(rv), stamp_s))
