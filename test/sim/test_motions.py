"""Motions: every label is produced, poses stay inside the documented joint limits, and move smoothly."""
import numpy as np
import pytest

from hmr_ros.sim.motions import (BLEND_S, JOINT_LIMITS_DEG, MOTIONS, euler_to_rotmat, evaluate_timeline,
                                 motion_pose, rotmat_to_euler, sample_params, sample_timeline)

LIMITS = np.deg2rad(JOINT_LIMITS_DEG)


def geodesic(Ra, Rb):
    """Angle (rad) of the rotation between two stacks of rotations."""
    cos = (np.trace(np.swapaxes(Ra, -1, -2) @ Rb, axis1=-2, axis2=-1) - 1) / 2
    return np.arccos(np.clip(cos, -1, 1))


def test_euler_round_trip_inside_the_chart():
    e = np.random.default_rng(0).uniform(-1.4, 1.4, (100, 3))
    R = euler_to_rotmat(e)
    assert np.allclose(R @ np.swapaxes(R, -1, -2), np.eye(3), atol=1e-12)
    assert np.allclose(rotmat_to_euler(R), e, atol=1e-9)


@pytest.mark.parametrize("name", MOTIONS)
def test_every_motion_stays_within_joint_limits_and_moves_smoothly(name):
    rng = np.random.default_rng(MOTIONS.index(name))
    t = np.arange(0, 3.0, 1 / 200)
    for _ in range(5):
        p = sample_params(name, rng, 3.0)
        E, vel, yaw = motion_pose(name, t, p)
        assert E.shape == (len(t), 24, 3) and vel.shape == (len(t), 2) and yaw.shape == (len(t),)
        assert (E[:, 1:] >= LIMITS[1:, :, 0] - 1e-9).all() and (E[:, 1:] <= LIMITS[1:, :, 1] + 1e-9).all()
        R = euler_to_rotmat(E)
        speed = geodesic(R[1:], R[:-1]) * 200  # rad/s per joint
        assert speed.max() < 20.0, f"{name}: {speed.max():.1f} rad/s"


def test_locomotion_moves_the_root_and_turning_yaws():
    rng = np.random.default_rng(1)
    t = np.linspace(0, 2, 50)
    assert motion_pose("walk", t, sample_params("walk", rng, 2))[1][:, 0].min() >= 0.7
    assert motion_pose("run", t, sample_params("run", rng, 2))[1][:, 0].min() >= 2.0
    assert np.abs(motion_pose("sidestep", t, sample_params("sidestep", rng, 2))[1][:, 1]).min() > 0.1
    assert np.abs(motion_pose("turn", t, sample_params("turn", rng, 2))[2]).min() >= 0.8
    assert np.abs(motion_pose("idle", t, sample_params("idle", rng, 2))[1]).max() == 0.0


def test_one_shot_motions_reach_their_pose_and_come_back():
    rng = np.random.default_rng(2)
    t = np.linspace(0, 3, 301)
    E, _, _ = motion_pose("squat", t, sample_params("squat", rng, 3.0))
    knee = E[:, 4, 0]
    assert knee[150] > 1.0 and knee[0] < 0.05 and knee[-1] < 0.05  # deep knee bend mid-segment only
    E, _, _ = motion_pose("wave", t, sample_params("wave", rng, 3.0))
    R = euler_to_rotmat(E)
    # the waving arm: some elbow joint lifts the forearm above the shoulder line at mid segment
    assert max(abs(rotmat_to_euler(R[150, 16])[2] - (-1.25)), abs(rotmat_to_euler(R[150, 17])[2] - 1.25)) > 0.5


def test_timeline_blends_without_jumps_and_labels_every_instant():
    rng = np.random.default_rng(3)
    seen = set()
    for _ in range(10):
        segs = sample_timeline(rng, 8.0)
        assert segs[0].start <= 0 and segs[-1].start + segs[-1].duration >= 8.0
        assert all(s.duration > BLEND_S for s in segs)
        t = np.arange(0, 8.0, 1 / 200)
        m = evaluate_timeline(segs, t)
        assert (m.euler[:, 1:] >= LIMITS[1:, :, 0] - 1e-9).all() and (m.euler[:, 1:] <= LIMITS[1:, :, 1] + 1e-9).all()
        R = euler_to_rotmat(m.euler)
        assert (geodesic(R[1:], R[:-1]) * 200).max() < 20.0
        assert np.abs(np.diff(m.velocity, axis=0)).max() * 200 < 40.0  # m/s^2: no teleporting root
        seen |= {MOTIONS[i] for i in m.label}
    assert seen == set(MOTIONS)
