"""The body fit to 2D keypoints: a body regressed at the wrong depth and with its limbs off lands on the keypoints,
its bones keep their lengths, the rotations it returns pose the body model where the fit says, and a person without
usable keypoints keeps the network's answer."""
import math

import pytest
import torch

from hmr_ros.geometry.projection import project
from hmr_ros.geometry.rotations import axis_angle_to_rotmat, rot6d_to_rotmat
from hmr_ros.model.smpl_head import mean_pose_6d
from hmr_ros.smpl import keypoint_fit as kf
from hmr_ros.smpl.body_model import load_body_model

K = torch.tensor([[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
#: COCO-17 index of each SMPL joint the fit reads (the 12 body joints)
COCO_OF_SMPL = {smpl: coco for coco, smpl in kf.COCO_TO_SMPL.items()}


@pytest.fixture(scope="module")
def body():
    return load_body_model("procedural")


def upright(n: int) -> torch.Tensor:
    return rot6d_to_rotmat(mean_pose_6d())[None].repeat(n, 1, 1, 1).double()


def with_limbs(rotmats: torch.Tensor, seed: int) -> torch.Tensor:
    """The pose with shoulders, elbows, hips and knees bent by up to ~40 degrees about random axes."""
    g = torch.Generator().manual_seed(seed)
    out = rotmats.clone()
    for j in (16, 17, 18, 19, 1, 2, 4, 5):
        aa = (torch.rand(rotmats.shape[0], 3, generator=g, dtype=torch.float64) - 0.5) * 1.4
        out[:, j] = axis_angle_to_rotmat(aa) @ out[:, j]
    return out


def coco_keypoints(joints: torch.Tensor, score: float = 0.9) -> torch.Tensor:
    """(N, 17, 3) COCO keypoints seen exactly at the SMPL joints (ears at the head joint, the rest unseen)."""
    uv = project(joints, K)
    kp = torch.zeros(joints.shape[0], 17, 3, dtype=torch.float64)
    for smpl, coco in COCO_OF_SMPL.items():
        kp[:, coco, :2], kp[:, coco, 2] = uv[:, smpl], score
    for ear in kf.EARS:
        kp[:, ear, :2], kp[:, ear, 2] = uv[:, kf.HEAD], score
    return kp


def test_translation_comes_from_the_keypoints_not_the_networks_depth(body):
    rot = upright(3)
    betas = torch.zeros(3, 10)
    joints = body.joints(betas, rot.float()).double()
    truth = torch.tensor([[0.3, 0.2, 3.0], [-0.5, 0.1, 6.0], [0.0, -0.1, 12.0]], dtype=torch.float64)
    kp = coco_keypoints(joints + truth[:, None])
    uv, score = kf.smpl_keypoints(kp)
    network = truth * torch.tensor([1.0, 1.0, 1.4], dtype=torch.float64)  # 40 % too far: a mesh 0.7x too small
    t = kf.fit_translation(joints, uv, score, K, network)
    # exact keypoints: only the weak pull towards the network's guess stays
    assert (t - truth).norm(dim=1).max() < 0.02 * truth[:, 2].max()
    assert (project(joints + t[:, None], K) - uv)[:, list(COCO_OF_SMPL)].norm(dim=-1).max() < 3.0


def test_too_few_keypoints_keep_the_networks_translation(body):
    rot = upright(1)
    joints = body.joints(torch.zeros(1, 10), rot.float()).double()
    network = torch.tensor([[0.1, 0.0, 5.0]], dtype=torch.float64)
    kp = coco_keypoints(joints + torch.tensor([[0.0, 0.0, 3.0]], dtype=torch.float64))
    kp[:, 7:, 2] = 0.1  # below MIN_SCORE: only the shoulders and the ears remain
    rot_out, t = kf.fit_to_keypoints(joints, rot, network, kp, K)
    torch.testing.assert_close(t, network)


def test_limbs_turn_onto_their_keypoints_keeping_bone_lengths(body):
    n = 4
    betas = torch.zeros(n, 10)
    truth_rot = with_limbs(upright(n), seed=1)
    t = torch.tensor([[0.2, 0.1, 4.0]], dtype=torch.float64).repeat(n, 1)
    truth = body.joints(betas, truth_rot.float()).double() + t[:, None]
    kp = coco_keypoints(truth)
    start = upright(n)
    joints = body.joints(betas, start.float()).double()
    rot, t_fit = kf.fit_to_keypoints(joints, start, t, kp, K, limbs=True)
    posed = body.joints(betas, rot.float()).double() + t_fit[:, None]
    children = [child for _, child in kf.LIMBS]
    before = (project(joints + t[:, None], K) - project(truth, K))[:, children].norm(dim=-1)
    after = (project(posed, K) - project(truth, K))[:, children].norm(dim=-1)
    assert before.mean() > 20.0            # the start is far off (pixels)
    assert after.mean() < 0.25 * before.mean()
    # a turned bone keeps its length: the body model's skeleton, not a stretched one
    for parent, child in kf.LIMBS:
        length = (posed[:, child] - posed[:, parent]).norm(dim=-1)
        rest = (joints[:, child] - joints[:, parent]).norm(dim=-1)
        torch.testing.assert_close(length, rest, atol=1e-5, rtol=0)
    # rotations stay rotations
    eye = torch.eye(3, dtype=torch.float64).expand_as(rot)
    torch.testing.assert_close(rot @ rot.transpose(-1, -2), eye, atol=1e-9, rtol=0)


def test_fit_limbs_returns_rotations_that_pose_the_body_at_its_positions(body):
    n = 2
    betas = torch.zeros(n, 10)
    start = upright(n)
    joints = body.joints(betas, start.float()).double() + torch.tensor([0.0, 0.0, 5.0], dtype=torch.float64)
    truth = body.joints(betas, with_limbs(start, seed=2).float()).double() + torch.tensor([0.0, 0.0, 5.0],
                                                                                             dtype=torch.float64)
    uv, score = kf.smpl_keypoints(coco_keypoints(truth))
    rot, positions = kf.fit_limbs(start, joints, uv, score, K)
    fk = body.joints(betas, rot.float()).double() + torch.tensor([0.0, 0.0, 5.0], dtype=torch.float64)
    torch.testing.assert_close(fk, positions, atol=1e-5, rtol=0)


def test_a_keypoint_of_someone_else_does_not_fold_a_limb(body):
    rot = upright(1)
    joints = body.joints(torch.zeros(1, 10), rot.float()).double() + torch.tensor([0.0, 0.0, 4.0],
                                                                                   dtype=torch.float64)
    uv, score = kf.smpl_keypoints(coco_keypoints(joints))
    # the left ankle's keypoint straight above the knee: turning the shin there would fold it by ~180 degrees
    uv[:, 7] = project(joints[:, 4] + torch.tensor([0.0, -0.4, 0.0], dtype=torch.float64), K)
    new_rot, positions = kf.fit_limbs(rot, joints, uv, score, K)
    torch.testing.assert_close(new_rot[:, 4], rot[:, 4])
    assert kf.MAX_TURN < math.pi


def test_translation_mode_keeps_the_networks_pose(body):
    rot = with_limbs(upright(2), seed=3)
    joints = body.joints(torch.zeros(2, 10), rot.float()).double()
    kp = coco_keypoints(joints + torch.tensor([[0.0, 0.0, 4.0]], dtype=torch.float64))
    kp[..., :2] += 7.0  # keypoints off by a few pixels: the translation moves, no joint turns
    rot_out, t = kf.fit_to_keypoints(joints, rot, torch.tensor([[0.0, 0.0, 5.0]] * 2, dtype=torch.float64), kp, K)
    assert torch.equal(rot_out, rot)
    assert (t[:, 2] - 4.0).abs().max() < 0.2


def test_nan_or_missing_keypoints_leave_the_network_answer(body):
    rot = upright(2)
    joints = body.joints(torch.zeros(2, 10), rot.float()).double()
    network = torch.tensor([[0.1, 0.0, 5.0], [0.0, 0.2, 7.0]], dtype=torch.float64)
    kp = coco_keypoints(joints + network[:, None])
    kp[0, :, :2] = float("nan")   # a corrupt keypoint output
    kp[1, :, 2] = 0.0             # no keypoint head
    for limbs in (False, True):
        rot_out, t = kf.fit_to_keypoints(joints, rot, network, kp, K, limbs=limbs)
        assert torch.isfinite(t).all() and torch.isfinite(rot_out).all()
        torch.testing.assert_close(t[1], network[1])
        torch.testing.assert_close(rot_out[1], rot[1])
