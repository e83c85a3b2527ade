"""The evaluation metrics on cases whose answer is known by hand."""
import numpy as np
import pytest

from hmr_ros.eval.metrics import (
    MATCH_FRACTION,
    accel_error,
    detection_scores,
    match_people,
    match_threshold,
    mpjpe,
    pa_mpjpe,
    procrustes_align,
    pve,
    root_error,
)


def _skeleton(seed=0, joints=24):
    return np.random.default_rng(seed).normal(0.0, 0.3, (joints, 3))


def _rotation(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def test_mpjpe_of_a_constant_offset_is_zero_after_root_alignment_and_the_offset_without():
    gt = _skeleton()
    pred = gt + np.array([0.03, 0.0, 0.04])  # 5 cm
    assert mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-9)
    assert mpjpe(pred, gt, root_index=None) == pytest.approx(50.0)


def test_mpjpe_of_one_displaced_joint_is_its_displacement_over_the_joint_count():
    gt = _skeleton()
    pred = gt.copy()
    pred[5, 1] += 0.24  # 240 mm on one of 24 joints, root untouched
    assert mpjpe(pred, gt) == pytest.approx(10.0)


def test_mpjpe_is_batched_over_leading_axes():
    gt = np.stack([_skeleton(0), _skeleton(1)])
    pred = gt.copy()
    pred[1, 3, 0] += 0.048
    np.testing.assert_allclose(mpjpe(pred, gt), [0.0, 2.0], atol=1e-9)


def test_pa_mpjpe_of_a_rotated_scaled_translated_copy_is_zero():
    gt = _skeleton()
    pred = 1.7 * gt @ _rotation([1, 2, 3], 2.1).T + np.array([0.5, -1.0, 4.0])
    assert pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-6)
    assert mpjpe(pred, gt) > 100.0  # the plain metric sees the transform


def test_procrustes_never_reflects_a_mirrored_skeleton():
    # A reflection would map the mirrored copy exactly onto gt; a proper rotation cannot.
    gt = _skeleton()
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    assert pa_mpjpe(mirrored, gt) > 10.0
    aligned = procrustes_align(mirrored, gt)
    # The alignment is a similarity: pairwise distances scale uniformly (no shear, no per-axis scale).
    d_in = np.linalg.norm(mirrored[:, None] - mirrored[None], axis=-1)
    d_out = np.linalg.norm(aligned[:, None] - aligned[None], axis=-1)
    ratio = d_out[d_in > 0] / d_in[d_in > 0]
    np.testing.assert_allclose(ratio, ratio[0])


def test_pa_mpjpe_of_a_non_rigid_change_matches_the_hand_computed_residual():
    # A unit "plus" in the xy plane with z offsets (+h, +h, -h, -h): orthogonal to every translation, rotation and
    # scaling of the plus, so the best rotation is the identity; the best scale is s = 4 / (4 + 4 h^2) and every
    # point is left at || (s - 1, 0, s h) || = h / sqrt(1 + h^2).
    gt = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]], float)
    h = 0.1
    pred = gt + np.array([[0, 0, h], [0, 0, h], [0, 0, -h], [0, 0, -h]])
    assert pa_mpjpe(pred, gt) == pytest.approx(1000 * h / np.sqrt(1 + h ** 2))  # 99.50 mm


def test_pve_with_root_alignment_ignores_a_shared_offset_and_counts_vertex_displacements():
    rng = np.random.default_rng(3)
    gt_v = rng.normal(0.0, 0.5, (100, 3))
    gt_root = np.array([0.1, 0.2, 5.0])
    shift = np.array([0.0, 0.0, 0.7])
    pred_v, pred_root = gt_v + shift, gt_root + shift
    assert pve(pred_v, gt_v, pred_root, gt_root) == pytest.approx(0.0, abs=1e-9)
    assert pve(pred_v, gt_v) == pytest.approx(700.0)
    pred_v = pred_v.copy()
    pred_v[:10, 0] += 0.02  # 10 % of the vertices off by 20 mm
    assert pve(pred_v, gt_v, pred_root, gt_root) == pytest.approx(2.0)


def test_accel_of_a_parabola_is_its_constant_second_difference():
    # One joint (plus a fixed root) moving x = 0.5 * a * t^2 with t in frames: the second difference is a each frame.
    T, a = 6, 0.004  # 4 mm / frame^2
    t = np.arange(T, dtype=float)
    pred = np.zeros((T, 2, 3))
    pred[:, 1, 0] = 0.5 * a * t ** 2
    gt = np.zeros((T, 2, 3))  # at rest
    err = accel_error(pred, gt)
    assert err.shape == (T - 2,)
    # The moving joint contributes 4 mm/frame^2, the root 0: mean over the 2 joints is 2.
    np.testing.assert_allclose(err, 2.0)
    # At 30 fps a frame is 1/30 s: 2 mm/frame^2 = 2 * 30^2 mm/s^2.
    np.testing.assert_allclose(accel_error(pred, gt, fps=30.0), 1800.0)


def test_accel_of_a_constant_velocity_or_a_parabola_shared_with_the_truth_is_zero():
    T = 5
    t = np.arange(T, dtype=float)[:, None, None]
    base = _skeleton(joints=3)[None]
    assert np.allclose(accel_error(base + 0.01 * t, np.repeat(base, T, 0)), 0.0)
    curve = base + 0.002 * t ** 2
    assert np.allclose(accel_error(curve, curve), 0.0)
    assert accel_error(curve[:2], curve[:2]).shape == (0,)


def test_accel_is_root_aligned_by_default_so_whole_body_root_jitter_only_counts_in_the_camera_frame():
    T = 5
    gt = np.repeat(_skeleton(joints=4)[None], T, 0)
    pred = gt.copy()
    pred[2] += np.array([0.0, 0.0, 0.01])  # the whole body jumps 10 mm in frame 2
    assert np.allclose(accel_error(pred, gt), 0.0)
    np.testing.assert_allclose(accel_error(pred, gt, root_index=None), [10.0, 20.0, 10.0])


def test_root_error_splits_depth_and_lateral_and_relates_depth_to_the_distance():
    err = root_error(np.array([[0.3, 0.4, 4.5]]), np.array([[0.0, 0.0, 5.0]]))
    np.testing.assert_allclose(err.depth_m, [0.5])
    np.testing.assert_allclose(err.lateral_m, [0.5])
    np.testing.assert_allclose(err.depth_pct, [10.0])


def test_match_threshold_is_a_fraction_of_the_box_diagonal():
    np.testing.assert_allclose(match_threshold(np.array([[10, 20, 40, 60]])), [MATCH_FRACTION * 50.0])


def test_hungarian_matching_of_two_people_and_three_predictions():
    # Two true people (one joint each, for hand computation) and three predictions:
    #   gt0 at (0, 0), gt1 at (100, 0); p0 at (90, 0), p1 at (5, 0), p2 at (300, 0).
    # Greedy on gt0 would take p1 (5 px) too, so the example checks the total: the optimal assignment is
    # gt0-p1 (5) + gt1-p0 (10); p2 is a false positive (200 px from gt1, above the 20 px threshold).
    gt = np.array([[[0.0, 0.0]], [[100.0, 0.0]]])
    pred = np.array([[[90.0, 0.0]], [[5.0, 0.0]], [[300.0, 0.0]]])
    pairs = match_people(pred, gt, np.array([20.0, 20.0]))
    np.testing.assert_array_equal(pairs, [[0, 1], [1, 0]])


def test_matching_prefers_two_admissible_pairs_over_one_cheaper_pair():
    # gt0 (0) and gt1 (10); p0 at 9, p1 at -8. Unrestricted minimum: gt0-p1 (8) + gt1-p0 (1) = 9, fine. With the
    # threshold 10 the swap gt0-p0 (9) + gt1-p1 (18, inadmissible) must not be chosen.
    gt = np.array([[[0.0, 0.0]], [[10.0, 0.0]]])
    pred = np.array([[[9.0, 0.0]], [[-8.0, 0.0]]])
    pairs = match_people(pred, gt, np.array([10.0, 10.0]))
    np.testing.assert_array_equal(pairs, [[0, 1], [1, 0]])
    # A prediction only admissible for one person, whose cheaper partner would be stolen by a cost-only match:
    # gt0 - p0: 4, gt0 - p1: 1 (admissible for both), gt1 - p1: 6, gt1 - p0: inadmissible (> 10).
    gt = np.array([[[0.0, 0.0]], [[7.0, 0.0]]])
    pred = np.array([[[-4.0, 0.0]], [[1.0, 0.0]]])
    pairs = match_people(pred, gt, np.array([10.0, 10.0]))
    np.testing.assert_array_equal(pairs, [[0, 0], [1, 1]])


def test_matching_rejects_everything_beyond_the_threshold_and_handles_empty_sides():
    gt = np.zeros((1, 3, 2))
    assert match_people(np.full((1, 3, 2), 50.0), gt, np.array([10.0])).shape == (0, 2)
    assert match_people(np.zeros((0, 3, 2)), gt, np.array([10.0])).shape == (0, 2)
    assert match_people(gt, np.zeros((0, 3, 2)), np.zeros(0)).shape == (0, 2)


def test_f1_by_hand():
    s = detection_scores(tp=6, fp=2, fn=4)
    assert (s.precision, s.recall) == pytest.approx((0.75, 0.6))
    assert s.f1 == pytest.approx(2 * 0.75 * 0.6 / 1.35)  # 0.6667
    assert detection_scores(0, 0, 0).f1 == 1.0            # nothing to find, nothing claimed
    assert detection_scores(0, 3, 0).f1 == 0.0            # only false alarms
    assert detection_scores(0, 0, 3).precision == 1.0 and detection_scores(0, 0, 3).f1 == 0.0
