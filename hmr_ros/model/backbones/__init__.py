"""Backbones of SIAM's frame network, behind one contract, and the factory that builds them by name.

A backbone is an ``nn.Module`` class in its own module here, built as ``cls(width)``:

- ``forward``: (B, 3, S, S) normalised RGB (ImageNet statistics, or the backbone's own ``PIXEL_MEAN`` /
  ``PIXEL_STD`` in 0..255 units) -> a list of feature maps, finest first;
- ``WIDTHS``: the width names it accepts (``SIAMConfig.width``), ``STRIDE``: input pixels per cell of its finest
  map, the grid of the centre heatmap (S / STRIDE cells a side), which ``InstanceHead`` fuses every map to, the
  training targets are drawn on and the backend checks measure in;
- ``out_channels``: channels of each map (instance attribute: it depends on the width);
- ``load_pretrained(source)``: initialise from published weights (``train --backbone-weights``);
- optional: ``CENTER_LOGITS`` = (map index, channel) of person-centre logits the backbone already predicts (SIAM's
  centre heatmap then starts as the backbone's), ``PEAK_KERNEL`` (its heatmap-maximum window, default 3),
  ``LIGHT_HEAD`` (True: SIAM's frame head uses depthwise-separable 3x3 steps, for a backbone cheaper than the head).

Adding one: its module, a line in ``BACKBONES``, and its test (``test/model/backbones/``; the contract test there
runs every registered backbone).
"""
from __future__ import annotations

from torch import nn

from hmr_ros.model.backbones.hrnet import HRNet
from hmr_ros.model.backbones.movenet import MoveNet

#: name (``SIAMConfig.backbone``) -> backbone class
BACKBONES: dict[str, type[nn.Module]] = {"hrnet": HRNet, "movenet": MoveNet}


def backbone_class(name: str) -> type[nn.Module]:
    """The class registered as ``name``; ValueError listing the known names."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; expected one of {sorted(BACKBONES)}") from None


def build_backbone(name: str, width: str) -> nn.Module:
    """A fresh (randomly initialised) backbone ``name`` of width ``width``."""
    cls = backbone_class(name)
    if width not in cls.WIDTHS:
        raise ValueError(f"backbone {name!r} has no width {width!r}; expected one of {list(cls.WIDTHS)}")
    return cls(width)


#: every width some backbone accepts (parameter choices; ``SIAMConfig.validate`` checks the pair)
WIDTHS: tuple[str, ...] = tuple(dict.fromkeys(w for cls in BACKBONES.values() for w in cls.WIDTHS))
