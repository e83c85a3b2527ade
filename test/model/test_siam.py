"""SIAM's two graphs: shapes, masks, permutation equivariance, modes and configuration."""
import pytest
import torch

from hmr_ros.model.siam import SIAM, SIAMConfig

K, T = 4, 3


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return SIAM(SIAMConfig(input_size=64, max_people=K, window=T)).eval()


def window(seed=0, dim=256):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randn(1, T, K, dim, generator=g)
    mask = torch.ones(1, T, K, dtype=torch.bool)
    mask[0, :, 3] = False
    mask[0, 0, :] = False
    centers = torch.rand(1, T, K, 2, generator=g) * 64  # network pixels of the 64 px input
    return tokens, mask, centers


@torch.inference_mode()
def test_frame_net_shapes(model):
    image = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8)
    tokens, centers, scores, mask, keypoints = model.frame_net(image)
    assert tokens.shape == (2, K, 256) and centers.shape == (2, K, 2) and scores.shape == (2, K)
    assert mask.dtype == torch.bool and mask.shape == (2, K)
    assert ((centers >= 0) & (centers <= 64)).all()
    assert (scores[:, :-1] >= scores[:, 1:]).all()  # sorted by score
    # HRNet has no keypoint heads: every keypoint is unknown (score 0), which the body fit ignores
    assert keypoints.shape == (2, K, 17, 3) and not keypoints.any()


@torch.inference_mode()
def test_temporal_net_outputs_valid_smpl_parameters(model):
    rotmats, betas, cam, out = model.temporal_net(*window())
    assert rotmats.shape == (1, K, 24, 3, 3) and betas.shape == (1, K, 10) and cam.shape == (1, K, 3)
    assert out.shape == (1, K, 256)
    eye = torch.eye(3).expand_as(rotmats)
    assert torch.allclose(rotmats @ rotmats.transpose(-1, -2), eye, atol=1e-5)
    assert torch.allclose(torch.linalg.det(rotmats), torch.ones(1, K, 24), atol=1e-5)
    assert (cam[..., 0] > 0).all()


@torch.inference_mode()
def test_absent_people_and_frames_do_not_change_present_people(model):
    tokens, mask, centers = window()
    altered = torch.where(mask.unsqueeze(-1), tokens, 5 * torch.randn_like(tokens))
    moved = torch.where(mask.unsqueeze(-1), centers, 64 * torch.rand_like(centers))
    a, b = model.temporal_net(tokens, mask, centers), model.temporal_net(altered, mask, moved)
    present = mask[0, -1]
    for x, y in zip(a, b):
        assert torch.allclose(x[0, present], y[0, present], atol=1e-5)


@torch.inference_mode()
def test_temporal_net_is_permutation_equivariant_over_people(model):
    tokens, mask, centers = window()
    p = torch.tensor([2, 0, 3, 1])
    a = model.temporal_net(tokens, mask, centers)
    b = model.temporal_net(tokens[:, :, p], mask[:, :, p], centers[:, :, p])
    present = mask[0, -1, p]
    for x, y in zip(a, b):
        assert torch.allclose(x[0, p][present], y[0][present], atol=1e-5)


@torch.inference_mode()
def test_centered_mode_outputs_the_middle_frame_and_sees_the_future():
    torch.manual_seed(0)
    m = SIAM(SIAMConfig(input_size=64, max_people=K, window=T, mode="centered")).eval()
    assert m.config.output_index == 1
    tokens, mask, centers = window()
    changed = tokens.clone()
    changed[:, 2] += torch.randn(256)  # not a constant: LayerNorm ignores uniform shifts
    a, b = m.temporal_net(tokens, mask, centers)[2], m.temporal_net(changed, mask, centers)[2]
    assert not torch.allclose(a[0, :3], b[0, :3], atol=1e-4)


@torch.inference_mode()
def test_temporal_net_sees_how_people_move_not_where_the_image_is():
    """Only centre differences enter SIA: moving everyone by the same offset changes nothing, moving one
    person's earlier centres (their motion) changes that person's output."""
    torch.manual_seed(1)
    m = SIAM(SIAMConfig(input_size=64, max_people=K, window=T)).eval()
    for block in m.temporal_net.sia.blocks:  # a trained network's displacement projection is not zero
        torch.nn.init.normal_(block.attn.relative.weight, std=0.5)
    tokens, mask, centers = window()
    base = m.temporal_net(tokens, mask, centers)
    shifted = m.temporal_net(tokens, mask, centers + torch.tensor([7.0, -3.0]))
    for x, y in zip(base, shifted):
        assert torch.allclose(x, y, atol=1e-4)
    walked = centers.clone()
    walked[0, :-1, 0] += torch.tensor([-8.0, -4.0])[:, None]  # person 0 came from the left
    rot = m.temporal_net(tokens, mask, walked)[0]
    assert not torch.allclose(rot[0, 0], base[0][0, 0], atol=1e-4)


def test_w48_uses_the_wider_backbone():
    counts = SIAM(SIAMConfig(width="w48", input_size=64, max_people=2, window=2)).parameter_counts()
    assert counts["backbone"] == 65_325_120
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")


@pytest.mark.parametrize("field,value", [("width", "w64"), ("mode", "future"), ("input_size", 100),
                                         ("window", 17), ("max_people", 0), ("score_threshold", 1.5)])
def test_invalid_config_is_rejected_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        SIAM(SIAMConfig(**{field: value}))


def test_flop_counts_match_the_frame_head_by_hand_and_scale_with_the_input_area():
    cfg = SIAMConfig(input_size=128, window=4, max_people=8)
    flops = SIAM(cfg).flop_counts()
    cells, d, k = (128 // 4) ** 2, cfg.dim, cfg.max_people
    head = (2 * cells * 480 * d              # fusion 1x1: 32+64+128+256 = 480 HRNet-W32 channels -> D
            + 2 * cells * d * d * 9          # fusion 3x3
            + 2 * cells * d * (d // 2) * 9   # centre head 3x3
            + 2 * cells * (d // 2)           # centre logits 1x1
            + 2 * k * 64 * d)                # position encoding, 16 frequencies x (sin, cos) x (x, y) -> D, per token
    assert flops["frame head"] == head
    assert flops["frame_net"] == flops["backbone"] + flops["frame head"]
    bigger = SIAM(SIAMConfig(input_size=256, window=4, max_people=8)).flop_counts()
    assert bigger["frame_net"] / flops["frame_net"] == pytest.approx(4.0, rel=1e-3)  # convolutions: per pixel
    assert bigger["temporal_net"] == flops["temporal_net"]  # tokens only: independent of the image size
    longer = SIAM(SIAMConfig(input_size=128, window=8, max_people=8)).flop_counts()
    assert longer["temporal_net"] > flops["temporal_net"] and longer["frame_net"] == flops["frame_net"]


@torch.inference_mode()
def test_frame_net_masks_its_own_scores_with_the_configured_threshold():
    torch.manual_seed(0)
    m = SIAM(SIAMConfig(input_size=64, max_people=K, window=T, score_threshold=0.25)).eval()
    with torch.no_grad():
        m.frame_net.head.center.out.weight.normal_(0.0, 0.5)  # a non-flat heatmap: scores on both sides of 0.25
    image = torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    tokens, centers, scores, _ = m.frame_net.detect(image)
    t2, c2, s2, mask, _ = m.frame_net(image)
    assert torch.equal(tokens, t2) and torch.equal(centers, c2) and torch.equal(scores, s2)
    assert torch.equal(mask, scores >= 0.25)


def test_a_state_dict_from_before_the_threshold_became_run_time_still_loads_strictly():
    torch.manual_seed(0)
    m = SIAM(SIAMConfig(input_size=64, max_people=K, window=T, score_threshold=0.3))
    old = dict(m.state_dict())
    old["frame_net.head.score_threshold"] = torch.tensor(0.7)  # the buffer older checkpoints hold
    m.load_state_dict(old, strict=True)
    assert m.frame_net.score_threshold == pytest.approx(0.3)  # the configured threshold wins over the file's
