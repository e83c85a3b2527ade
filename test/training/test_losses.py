"""Training: gradients reach every module, and a few hundred steps overfit a handful of synthetic targets."""
import torch

from hmr_ros.geometry.rotations import axis_angle_to_rotmat
from hmr_ros.model.siam import SIAM, SIAMConfig
from hmr_ros.training.dataset import gaussian_heatmap
from hmr_ros.training.losses import ClipBatch, siam_losses

S, T, K = 64, 2, 3
GRID = S // 4


def synthetic_batch(clips: int = 2, seed: int = 0) -> ClipBatch:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (clips, T, S, S, 3), dtype=torch.uint8, generator=g)
    people = 2  # slots 0..1 present, slot 2 absent
    xy = torch.randint(2, GRID - 2, (clips, T, K, 2), generator=g)
    index = xy[..., 1] * GRID + xy[..., 0]
    mask = torch.zeros(clips, T, K, dtype=torch.bool)
    mask[..., :people] = True
    heat = torch.stack([torch.stack([gaussian_heatmap(GRID, xy[c, t, :people].float()) for t in range(T)])
                        for c in range(clips)]).unsqueeze(2)
    rotmats = axis_angle_to_rotmat(0.4 * torch.randn(clips, K, 24, 3, generator=g))
    betas = torch.randn(clips, K, 10, generator=g)
    cam = torch.cat([0.3 + 0.5 * torch.rand(clips, K, 1, generator=g), 0.2 * torch.randn(clips, K, 2, generator=g)], -1)
    return ClipBatch(images, heat, index, mask, rotmats, betas, cam)


def module_groups(model: SIAM) -> dict:
    return {"backbone": model.frame_net.backbone, "frame head": model.frame_net.head, "SIA": model.temporal_net.sia,
            "FD": model.temporal_net.fd, "SMPL head": model.temporal_net.smpl_head}


def test_every_module_receives_gradient():
    torch.manual_seed(0)
    model = SIAM(SIAMConfig(input_size=S, max_people=K, window=T)).train()
    siam_losses(model, synthetic_batch())["total"].backward()
    for name, module in module_groups(model).items():
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads), name
        assert sum(float(g.abs().sum()) for g in grads) > 0, f"no gradient reaches {name}"


def test_overfits_a_handful_of_targets():
    """One clip: 2 frames x 2 people of heatmap targets, 2 people of SMPL targets. 100 steps keep the suite fast
    on 2 cores; the loss is ~100x down by then (>= 10x is the bar)."""
    torch.manual_seed(0)
    model = SIAM(SIAMConfig(input_size=S, max_people=K, window=T)).train()
    batch = synthetic_batch(clips=1)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    first = last = None
    for _ in range(100):
        opt.zero_grad()
        losses = siam_losses(model, batch)
        losses["total"].backward()
        opt.step()
        first = first or {k: float(v) for k, v in losses.items()}
        last = {k: float(v) for k, v in losses.items()}
    assert last["total"] <= first["total"] / 10, f"loss went {first['total']:.3f} -> {last['total']:.3f}"
    for name in ("heatmap", "pose", "betas", "cam"):
        assert last[name] < first[name], f"{name} loss did not decrease: {first[name]:.4f} -> {last[name]:.4f}"
