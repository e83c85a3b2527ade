"""HRNet backbone: official architecture and names, both layouts, output geometry, ONNX export."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hmr_ros.model.backbones.hrnet import HRNET_SPECS, HRNet


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def w32_cls() -> HRNet:
    torch.manual_seed(0)
    return HRNet("w32", "cls").eval()


@pytest.fixture(scope="module")
def w32_pose() -> HRNet:
    torch.manual_seed(1)
    return HRNet("w32", "pose").eval()


def _calibrate_batchnorm(model: HRNet, images: torch.Tensor) -> HRNet:
    """Set BN running statistics to those of ``images`` so activations are O(1), as in a trained network."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average: one batch gives its exact statistics
    model.train()
    with torch.no_grad():
        model(images)
    return model.eval()


# ---------------------------------------------------------------------------------------------------------------
# Construction
# ---------------------------------------------------------------------------------------------------------------
def test_unknown_width_or_layout_is_rejected_with_the_valid_choices():
    with pytest.raises(ValueError, match=r"w18.*w32.*w48"):
        HRNet("w40")
    with pytest.raises(ValueError, match=r"cls.*pose"):
        HRNet("w32", layout="seg")


def test_the_config_table_drives_the_architecture(w32_cls):
    spec = HRNET_SPECS["w32"]
    assert w32_cls.out_channels == [32, 64, 128, 256] == list(spec.stage4.num_channels)
    assert (len(w32_cls.stage2), len(w32_cls.stage3), len(w32_cls.stage4)) == (1, 4, 3)
    assert len(w32_cls.layer1) == spec.stage1.num_blocks[0] == 4
    assert all(len(branch) == 4 for module in w32_cls.stage3 for branch in module.branches)
    assert HRNet("w18").out_channels == [18, 36, 72, 144]


def test_top_level_modules_are_the_official_backbone_and_no_head(w32_cls):
    top = [name for name, _ in w32_cls.named_children()]
    assert top == [
        "conv1", "bn1", "conv2", "bn2", "layer1",
        "transition1", "stage2", "transition2", "stage3", "transition3", "stage4",
    ]


# Official names and shapes (HRNet-Image-Classification / deep-high-resolution-net.pytorch, W32).
OFFICIAL_W32_KEYS = {
    "conv1.weight": (64, 3, 3, 3),
    "bn2.running_var": (64,),
    "layer1.0.conv3.weight": (256, 64, 1, 1),
    "layer1.0.downsample.0.weight": (256, 64, 1, 1),
    "layer1.0.downsample.1.bias": (256,),
    "layer1.3.bn3.weight": (256,),
    "transition1.0.0.weight": (32, 256, 3, 3),  # width change 256 -> 32 at stride 4
    "transition1.1.0.0.weight": (64, 256, 3, 3),  # new branch: chain of stride-2 units
    "transition2.2.0.0.weight": (128, 64, 3, 3),
    "transition3.3.0.0.weight": (256, 128, 3, 3),
    "transition3.3.0.1.running_mean": (256,),
    "stage2.0.branches.1.3.conv2.weight": (64, 64, 3, 3),
    "stage2.0.fuse_layers.0.1.0.weight": (32, 64, 1, 1),  # coarse -> fine: 1x1 conv, BN, (upsample)
    "stage2.0.fuse_layers.0.1.1.weight": (32,),
    "stage2.0.fuse_layers.1.0.0.0.weight": (64, 32, 3, 3),  # fine -> coarse: stride-2 conv chain
    "stage3.3.fuse_layers.2.0.1.0.weight": (128, 32, 3, 3),
    "stage3.3.fuse_layers.2.0.0.0.weight": (32, 32, 3, 3),
    "stage4.2.branches.3.3.bn2.running_var": (256,),
    "stage4.2.fuse_layers.0.3.0.weight": (32, 256, 1, 1),
    "stage4.2.fuse_layers.3.0.2.0.weight": (256, 32, 3, 3),
    "stage4.2.fuse_layers.3.0.0.1.num_batches_tracked": (),
}
LAST_MODULE_COARSE_FUSION = ("stage4.2.fuse_layers.1.", "stage4.2.fuse_layers.2.", "stage4.2.fuse_layers.3.")


def test_state_dict_uses_the_official_names_and_shapes(w32_cls):
    state = w32_cls.state_dict()
    found = {key: tuple(state[key].shape) for key in OFFICIAL_W32_KEYS if key in state}
    assert found == OFFICIAL_W32_KEYS
    assert not any(key.startswith(("incre_modules", "downsamp_modules", "final_layer", "classifier")) for key in state)


def test_pose_layout_drops_only_the_last_modules_coarse_fusion(w32_cls, w32_pose):
    cls_keys, pose_keys = set(w32_cls.state_dict()), set(w32_pose.state_dict())
    assert pose_keys < cls_keys
    assert all(key.startswith(LAST_MODULE_COARSE_FUSION) for key in cls_keys - pose_keys)
    assert "stage4.2.fuse_layers.0.3.0.weight" in pose_keys
    assert "stage4.1.fuse_layers.3.0.2.0.weight" in pose_keys  # earlier stage-4 modules stay multi-scale


# Exact counts of our headless backbone. Adding the official heads gives the published totals, see
# test_hrnet_checkpoint.py::test_synthetic_heads_reproduce_the_published_parameter_totals.
BACKBONE_PARAMETERS = {
    ("w32", "cls"): 29_305_536,
    ("w32", "pose"): 28_535_552,
    ("w48", "cls"): 65_325_120,
    ("w48", "pose"): 63_594_912,
}


@pytest.mark.parametrize(("width", "layout"), list(BACKBONE_PARAMETERS))
def test_parameter_counts(width, layout):
    model = HRNet(width, layout)
    assert sum(p.numel() for p in model.parameters()) == BACKBONE_PARAMETERS[width, layout]


# ---------------------------------------------------------------------------------------------------------------
# Forward
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model_name", ["w32_cls", "w32_pose"])
def test_four_maps_at_strides_4_to_32(model_name, request):
    model = request.getfixturevalue(model_name)
    with torch.no_grad():
        maps = model(torch.randn(2, 3, 128, 96))
    assert [tuple(m.shape) for m in maps] == [(2, 32, 32, 24), (2, 64, 16, 12), (2, 128, 8, 6), (2, 256, 4, 3)]
    assert all(torch.isfinite(m).all() and (m >= 0).all() for m in maps)  # every output ends with a ReLU


def test_w48_channels():
    model = HRNet("w48", "pose").eval()
    with torch.no_grad():
        maps = model(torch.randn(1, 3, 64, 64))
    assert model.out_channels == [48, 96, 192, 384]
    assert [tuple(m.shape) for m in maps] == [(1, 48, 16, 16), (1, 96, 8, 8), (1, 192, 4, 4), (1, 384, 2, 2)]


def test_size_not_divisible_by_32_rounds_every_stride_up(w32_cls):
    with torch.no_grad():
        maps = w32_cls(torch.randn(1, 3, 100, 70))
    assert [tuple(m.shape[-2:]) for m in maps] == [(25, 18), (13, 9), (7, 5), (4, 3)]


@pytest.mark.parametrize("shape", [(3, 64, 64), (1, 1, 64, 64), (1, 4, 64, 64)])
def test_non_rgb_batch_is_rejected(w32_cls, shape):
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        w32_cls(torch.zeros(shape))


def test_exchange_unit_sums_resampled_branches_as_the_official_code(w32_cls):
    """Output i = relu(sum_j f_ij(x_j)), coarse maps upsampled by nearest-neighbour repetition (nn.Upsample)."""
    module = w32_cls.stage3[0]
    torch.manual_seed(2)
    xs = [torch.randn(1, c, 16 // 2**k, 16 // 2**k) for k, c in enumerate([32, 64, 128])]
    with torch.no_grad():
        got = module(list(xs))
        ys = [branch(x) for branch, x in zip(module.branches, xs)]
        for i, layers in enumerate(module.fuse_layers):
            expected = torch.zeros_like(ys[i])
            for j, y in enumerate(ys):
                term = layers[j](y)
                if j > i:
                    factor = 2 ** (j - i)
                    term = term.repeat_interleave(factor, dim=2).repeat_interleave(factor, dim=3)
                expected = expected + term
            torch.testing.assert_close(got[i], F.relu(expected), rtol=1e-5, atol=1e-5)


def test_pose_layout_returns_fused_branch_0_and_raw_coarse_branches(w32_cls):
    pose = HRNet("w32", "pose").eval()
    shared = {k: v for k, v in w32_cls.state_dict().items() if not k.startswith(LAST_MODULE_COARSE_FUSION)}
    pose.load_state_dict(shared)
    captured = {}
    handle = pose.stage4[2].register_forward_pre_hook(lambda _, args: captured.update(inputs=list(args[0])))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        pose_maps, cls_maps = pose(x), w32_cls(x)
        raw = [branch(t) for branch, t in zip(pose.stage4[2].branches, captured["inputs"])]
    handle.remove()
    assert torch.equal(pose_maps[0], cls_maps[0])  # identical weights and fusion for branch 0
    for j in (1, 2, 3):
        assert torch.equal(pose_maps[j], raw[j])
        assert not torch.equal(pose_maps[j], cls_maps[j])


# ---------------------------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------------------------
def test_onnx_export_matches_pytorch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(3)
    model = _calibrate_batchnorm(HRNet("w32", "pose"), torch.randn(4, 3, 128, 128))
    x = torch.randn(1, 3, 64, 64)
    path = tmp_path / "hrnet_w32.onnx"
    names = [f"stride{4 * 2**k}" for k in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter: 8x faster here
        torch.onnx.export(model, (x,), str(path), opset_version=17, dynamo=False,
                          input_names=["image"], output_names=names)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == names
    got = session.run(None, {"image": x.numpy()})
    with torch.no_grad():
        expected = [m.numpy() for m in model(x)]
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        # Relative to the map's range: at this depth PyTorch fp32 itself is ~1e-5 (relative) off a float64
        # run of the same net, so an absolute 1e-4 would test rounding, not the export.
        scale = max(1.0, float(np.abs(e).max()))
        assert np.abs(g - e).max() <= 1e-4 * scale
