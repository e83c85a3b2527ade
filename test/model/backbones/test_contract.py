"""Every registered backbone keeps the contract SIAM builds on (hmr_ros/model/backbones/__init__.py): built by name
and width, a list of maps finest first with the channels it declares, the finest at input / STRIDE, and a SIAM
around it whose centre grid is that size. A new backbone gets these checks by its line in BACKBONES."""
import pytest
import torch

from hmr_ros.model.backbones import BACKBONES, WIDTHS, backbone_class, build_backbone
from hmr_ros.model.siam import SIAM, SIAMConfig

S = 64
CASES = [(name, cls.WIDTHS[0]) for name, cls in BACKBONES.items()]  # the smallest width keeps it quick


@pytest.mark.parametrize("name,width", CASES)
def test_maps_are_finest_first_with_the_declared_channels_and_stride(name, width):
    torch.manual_seed(0)
    backbone = build_backbone(name, width).eval()
    with torch.no_grad():
        maps = backbone(torch.randn(2, 3, S, S))
    assert len(maps) == len(backbone.out_channels) >= 1
    for m, channels in zip(maps, backbone.out_channels):
        assert m.shape[:2] == (2, channels) and torch.isfinite(m).all()
    assert maps[0].shape[-2:] == (S // backbone.STRIDE, S // backbone.STRIDE)
    assert all(a.shape[-1] >= b.shape[-1] for a, b in zip(maps, maps[1:])), "finest map first"
    assert callable(getattr(backbone, "load_pretrained", None))


@pytest.mark.parametrize("name,width", CASES)
def test_siam_reads_its_grid_from_the_backbone(name, width):
    cfg = SIAMConfig(backbone=name, width=width, input_size=S, window=2, max_people=2)
    assert cfg.stride == backbone_class(name).STRIDE
    torch.manual_seed(0)
    model = SIAM(cfg).eval()
    with torch.no_grad():
        _, heat = model.frame_net.features(torch.zeros(1, S, S, 3, dtype=torch.uint8))
    assert heat.shape[-2:] == (S // cfg.stride, S // cfg.stride)


def test_unknown_names_and_widths_are_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"unknown backbone 'vit'.*\['hrnet', 'movenet'\]"):
        build_backbone("vit", "w32")
    with pytest.raises(ValueError, match=r"backbone 'hrnet' has no width 'w99'.*w18"):
        build_backbone("hrnet", "w99")
    with pytest.raises(ValueError, match="backbone"):
        SIAMConfig(backbone="vit").validate()
    assert set(WIDTHS) == {w for cls in BACKBONES.values() for w in cls.WIDTHS}
