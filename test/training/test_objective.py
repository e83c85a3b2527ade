"""The geometric terms of the objective: 3D joints, vertices, reprojected 2D joints and acceleration.

Every term is zero for the ground truth itself, positive with a gradient for anything else, and measures what its
definition says: the 2D term is the letterbox distance of joints placed by the inference camera
(``hmr_ros.camera.perspective_root``) and projected by hand.
"""
import numpy as np
import pytest
import torch

from hmr_ros.camera import Letterbox, perspective_root
from hmr_ros.geometry.projection import project
from hmr_ros.geometry.rotations import axis_angle_to_rotmat
from hmr_ros.model.siam import SIAM, SIAMConfig
from hmr_ros.sim.clips import make_clip
from hmr_ros.training.dataset import clip_sample, collate, letterbox_row
from hmr_ros.training.losses import (
    LOSS_TERMS, VERTEX_STRIDE, LossWeights, SkeletonBody, frame_predictions, output_losses, siam_losses,
)

S, T, K = 64, 3, 2
CFG = SIAMConfig(width="w18", input_size=S, window=T, max_people=K)
OUT = CFG.output_index
GEOMETRIC = ("joints3d", "joints2d", "verts", "accel")
ONLY = {name: LossWeights(**{n: float(n == name) for n in LOSS_TERMS}) for name in GEOMETRIC}


@pytest.fixture(scope="module")
def clips(body):
    """Two clips with both people annotated in every frame (so the acceleration term has triples)."""
    found = []
    for seed in range(20):
        clip = make_clip(num_frames=T, width=96, height=72, num_people=2, fps=12.0, seed=seed, body_model=body)
        sample = clip_sample(clip, CFG)
        if bool(sample.mask.all()):
            found.append((clip, sample))
        if len(found) == 2:
            return found
    raise AssertionError("no two-person clips with everybody annotated")


@pytest.fixture(scope="module")
def batch(clips):
    return collate([s for _, s in clips])


@pytest.fixture(scope="module")
def truth(clips):
    """Ground-truth rotmats (B, T, K, 24, 3, 3) and betas (B, T, K, 10) of every frame."""
    rot = torch.stack([torch.stack([torch.stack([
        axis_angle_to_rotmat(torch.from_numpy(np.concatenate([p.global_orient, p.body_pose]).reshape(24, 3)
                                              .astype(np.float64))).float()
        for p in f.people]) for f in clip.frames[:T]]) for clip, _ in clips])
    betas = torch.stack([torch.stack([torch.stack([torch.from_numpy(p.betas) for p in f.people])
                                      for f in clip.frames[:T]]) for clip, _ in clips])
    return rot, betas


def losses_of(batch, body, rot, betas, cam, frames, weights=None):
    return output_losses(batch, OUT, rot, betas, cam, weights=weights, body_model=body, frames=frames)


def test_the_ground_truth_costs_nothing(batch, truth, body):
    rot, betas = truth
    assert torch.allclose(rot[:, OUT], batch.rotmats) and torch.equal(betas[:, OUT], batch.betas)
    losses = losses_of(batch, body, batch.rotmats, batch.betas, batch.cam, truth)
    for name in GEOMETRIC:
        assert float(losses[name]) == pytest.approx(0.0, abs=1e-7), name


@pytest.mark.parametrize("name", GEOMETRIC)
def test_each_term_is_positive_and_has_a_gradient_away_from_the_truth(name, batch, truth, body):
    rot, betas = truth
    g = torch.Generator().manual_seed(0)
    bend = axis_angle_to_rotmat(0.2 * torch.randn(*rot.shape[:-2], 3, generator=g))
    p_rot = (rot @ bend).requires_grad_(True)                       # every joint of every frame bent
    p_betas = (betas + 0.3 * torch.randn(betas.shape, generator=g)).requires_grad_(True)
    p_cam = (batch.cam * torch.tensor([1.1, 1.0, 1.0]) + torch.tensor([0.0, 0.05, -0.05])).requires_grad_(True)
    losses = losses_of(batch, body, p_rot[:, OUT], p_betas[:, OUT], p_cam, (p_rot, p_betas), ONLY[name])
    assert float(losses[name]) > 1e-4
    assert all(float(v) == 0.0 for k, v in losses.items() if k != name)  # weight 0 = not computed
    losses[name].backward()
    inputs = {"joints2d": (p_rot, p_betas, p_cam)}.get(name, (p_rot, p_betas))
    for x in inputs:
        assert x.grad is not None and torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0


def test_the_3d_terms_are_root_relative(batch, body):
    """A wrong camera moves the whole body (the root): the 3D terms do not see it, the 2D term does."""
    cam = batch.cam * torch.tensor([1.5, 1.0, 1.0])
    losses = losses_of(batch, body, batch.rotmats, batch.betas, cam, None)
    assert float(losses["joints3d"]) == 0.0 and float(losses["verts"]) == 0.0
    assert float(losses["joints2d"]) > 0.0


def test_2d_term_is_the_hand_projected_letterbox_distance_over_s(clips, batch, body):
    cam = batch.cam * torch.tensor([0.9, 1.0, 1.0]) + torch.tensor([0.0, 0.1, 0.0])
    w = ONLY["joints2d"]
    got = float(losses_of(batch, body, batch.rotmats, batch.betas, cam, None, w)["joints2d"])
    pose = SkeletonBody(body)(batch.betas.flatten(0, 1), batch.rotmats.flatten(0, 1), vertices=False)[0]
    pose = pose.view(2, K, 24, 3).double()
    dists = []
    for c, (clip, sample) in enumerate(clips):
        lb = sample.letterboxes[OUT]
        root = perspective_root(cam[c].double(), sample.centers[OUT], lb, clip.K).numpy()      # (K, 3)
        for k in range(K):
            joints = pose[c, k].numpy() - pose[c, k, 0].numpy() + root[k]
            pred = lb.to_letterbox(project(joints, clip.K))
            gt_img = project(sample.joints[OUT, k].numpy(), clip.K)
            inside = (gt_img[:, 0] >= 0) & (gt_img[:, 0] < lb.width) & (gt_img[:, 1] >= 0) & (gt_img[:, 1] < lb.height)
            d = np.linalg.norm(pred - lb.to_letterbox(gt_img), axis=-1) / S
            dists.append((np.sqrt(d ** 2 + 1e-6) - 1e-3)[inside].mean())
    assert got == pytest.approx(float(np.mean(dists)), rel=1e-4)


def test_2d_term_ignores_joints_outside_the_image(clips, batch, body):
    """Moving the intrinsics so the whole ground-truth body falls outside the image leaves nothing to compare."""
    far = collate([s for _, s in clips])
    far.letterbox = batch.letterbox.clone()
    far.letterbox[..., 3:] = 1.0  # a 1x1 px source image
    cam = batch.cam * torch.tensor([0.9, 1.0, 1.0])
    assert float(losses_of(far, body, batch.rotmats, batch.betas, cam, None, ONLY["joints2d"])["joints2d"]) == 0.0


def test_skeleton_body_is_the_body_model_on_a_vertex_subsample(body):
    g = torch.Generator().manual_seed(1)
    rot = axis_angle_to_rotmat(0.5 * torch.randn(3, 24, 3, generator=g))
    betas = torch.randn(3, 10, generator=g)
    joints, verts = SkeletonBody(body)(betas, rot)
    full = body(betas, rot)
    assert torch.allclose(joints, full.joints, atol=1e-5)
    assert torch.allclose(verts, full.vertices[:, ::VERTEX_STRIDE], atol=1e-5)


def test_frame_predictions_are_the_streamed_outputs(batch):
    """Frame t's prediction is what the network outputs when frame t is the newest of a stream that began at frame
    0: the window holds frames 0..t at its end and masked slots before them, as FrameBuffer presents it."""
    torch.manual_seed(0)
    model = SIAM(CFG).eval()
    g = torch.Generator().manual_seed(2)
    tokens = torch.randn(2, T, K, CFG.dim, generator=g)
    centers = torch.rand(2, T, K, 2, generator=g) * CFG.input_size
    mask = batch.mask.clone()
    mask[0, 0, 1] = False
    with torch.no_grad():
        every = frame_predictions(model, tokens, mask, centers)
        rot, betas, cam = every.rotmats, every.betas, every.cam
        for t in range(T):
            pad = T - 1 - t
            win = torch.cat([torch.zeros(2, pad, K, CFG.dim), tokens[:, :t + 1]], dim=1)
            win_mask = torch.cat([torch.zeros(2, pad, K, dtype=torch.bool), mask[:, :t + 1]], dim=1)
            win_centers = torch.cat([torch.zeros(2, pad, K, 2), centers[:, :t + 1]], dim=1)
            r, b_, c, _ = model.temporal_net(win, win_mask, win_centers)
            assert torch.allclose(rot[:, t], r, atol=1e-5) and torch.allclose(cam[:, t], c, atol=1e-5)
            assert torch.allclose(betas[:, t], b_, atol=1e-5)


def test_the_network_objective_reports_every_term_and_trains_them(batch, body):
    torch.manual_seed(0)
    model = SIAM(CFG).train()
    losses = siam_losses(model, batch, body_model=body)
    assert set(losses) == set(LOSS_TERMS) | {"total"}
    assert float(losses["total"]) == pytest.approx(sum(float(losses[n]) for n in LOSS_TERMS), rel=1e-6)
    assert all(float(losses[n]) > 0 for n in LOSS_TERMS)
    losses["total"].backward()
    assert float(sum(p.grad.abs().sum() for p in model.temporal_net.smpl_head.parameters())) > 0


def test_old_objective_skips_the_body_model(batch):
    torch.manual_seed(0)
    model = SIAM(CFG).train()
    losses = siam_losses(model, batch, LossWeights.old_objective())
    assert all(float(losses[n]) == 0.0 for n in GEOMETRIC)


def test_collate_carries_the_geometry(clips, batch):
    for c, (clip, sample) in enumerate(clips):
        assert torch.allclose(batch.joints[c, :, :, 0].double(), sample.roots, atol=1e-6)
        assert torch.allclose(batch.centers[c].double(), sample.centers)
        assert torch.allclose(batch.K_cam[c].double(), torch.from_numpy(clip.K))
        want = torch.tensor([letterbox_row(lb) for lb in sample.letterboxes], dtype=torch.float32)
        assert torch.equal(batch.letterbox[c], want)
        assert isinstance(sample.letterboxes[0], Letterbox)
    assert batch.joints.shape == (2, T, K, 24, 3) and batch.letterbox.shape == (2, T, 5)


def test_unknown_or_negative_weights_are_rejected():
    with pytest.raises(ValueError, match="unknown"):
        LossWeights.from_mapping({"joint3d": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        LossWeights.from_mapping({"accel": -1.0})


def test_a_batch_with_nobody_in_the_output_frame_trains_on_the_heatmap_alone(batch, body):
    """A crop or a far camera can leave nobody annotated: the body-model terms are then 0, not a crash (a CPU run
    died on such a batch at step ~900 before pose_features kept the (0, 207) shape)."""
    import dataclasses

    empty = dataclasses.replace(batch, mask=torch.zeros_like(batch.mask))
    torch.manual_seed(0)
    model = SIAM(CFG).train()
    losses = siam_losses(model, empty, body_model=body)
    assert all(float(losses[n]) == 0.0 for n in GEOMETRIC)
    assert torch.isfinite(losses["total"]) and float(losses["heatmap"]) > 0
    losses["total"].backward()
