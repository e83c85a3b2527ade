"""HRNet backbone (Sun et al., CVPR 2019) with the official parameter names.

The module tree mirrors the official HRNet code (HRNet-Image-Classification and
deep-high-resolution-net.pytorch) index for index, so that their ImageNet / COCO checkpoints load with strict key
matching (see ``hrnet_checkpoint.py``)::

    conv1, bn1, conv2, bn2                     stem, stride 4, 64 channels
    layer1.{0..3}                              4 Bottlenecks, 64 -> 256 channels
    transition1.{i}, stage2.{m}                2 branches
    transition2.{i}, stage3.{m}                3 branches
    transition3.{i}, stage4.{m}                4 branches
    stage*.{m}.branches.{b}.{k}.conv1 ...      BasicBlocks of branch b
    stage*.{m}.fuse_layers.{i}.{j}...          exchange unit: branch j -> branch i

Neither head is built (classification: incre/downsamp/final layers + classifier; pose: a 1x1 final conv).

Two layouts differ only in the last stage-4 module:
  * ``"cls"``  (classification HRNet): every module fuses into all four branches.
  * ``"pose"`` (pose HRNet): the last module fuses into branch 0 only (``fuse_layers.0``). We still return
    four maps: the fused branch 0 and the un-fused outputs of branches 1..3 of that module.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hmr_ros.model.backbones.hrnet_checkpoint import init_backbone

__all__ = ["HRNet", "HRNetSpec", "StageSpec", "HRNET_SPECS", "HRNET_LAYOUTS"]

HRNET_LAYOUTS = ("cls", "pose")


@dataclass(frozen=True)
class StageSpec:
    """One HRNet stage: ``num_modules`` HighResolutionModules, each with ``num_blocks[b]`` blocks on branch b.

    ``num_channels[b]`` is the block width of branch b; the branch carries ``num_channels[b] * expansion``
    channels (expansion 4 for Bottleneck, 1 for BasicBlock).
    """

    num_modules: int
    block: str  # "basic" | "bottleneck"
    num_blocks: tuple[int, ...]
    num_channels: tuple[int, ...]

    @property
    def num_branches(self) -> int:
        return len(self.num_channels)


@dataclass(frozen=True)
class HRNetSpec:
    """Architecture of one HRNet width; stage 1 is the single-branch ``layer1``."""

    stem_channels: int
    stage1: StageSpec
    stage2: StageSpec
    stage3: StageSpec
    stage4: StageSpec


def _standard_hrnet(width: int) -> HRNetSpec:
    """The official HRNet-W{width} (W18/W32/W48 configs of both official repositories).

    All of them share the depth (1/1/4/3 modules, 4 blocks per branch); branch k is ``width * 2**k`` wide.
    """
    widths = tuple(width * 2**k for k in range(4))
    return HRNetSpec(
        stem_channels=64,
        stage1=StageSpec(num_modules=1, block="bottleneck", num_blocks=(4,), num_channels=(64,)),
        stage2=StageSpec(num_modules=1, block="basic", num_blocks=(4, 4), num_channels=widths[:2]),
        stage3=StageSpec(num_modules=4, block="basic", num_blocks=(4, 4, 4), num_channels=widths[:3]),
        stage4=StageSpec(num_modules=3, block="basic", num_blocks=(4, 4, 4, 4), num_channels=widths),
    )


HRNET_SPECS: dict[str, HRNetSpec] = {
    "w18": _standard_hrnet(18),
    "w32": _standard_hrnet(32),
    "w48": _standard_hrnet(48),
}


# --------------------------------------------------------------------------------------------------------------
# Blocks (ResNet v1 blocks with the official attribute names)
# --------------------------------------------------------------------------------------------------------------
def _conv_bn(in_channels: int, out_channels: int, kernel_size: int, stride: int) -> list[nn.Module]:
    """[Conv2d (no bias, "same" padding), BatchNorm2d]: indices 0 and 1 of the official Sequentials."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=False)
    return [conv, nn.BatchNorm2d(out_channels)]


class BasicBlock(nn.Module):
    """3x3 -> 3x3 residual block; ``downsample`` projects the identity when the width changes."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        self.conv1, self.bn1 = _conv_bn(in_channels, channels, 3, 1)
        self.conv2, self.bn2 = _conv_bn(channels, channels, 3, 1)
        out_channels = channels * self.expansion
        self.downsample = (
            nn.Sequential(*_conv_bn(in_channels, out_channels, 1, 1)) if in_channels != out_channels else None
        )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 (x4 expansion) residual block."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1, self.bn1 = _conv_bn(in_channels, channels, 1, 1)
        self.conv2, self.bn2 = _conv_bn(channels, channels, 3, 1)
        self.conv3, self.bn3 = _conv_bn(channels, out_channels, 1, 1)
        self.downsample = (
            nn.Sequential(*_conv_bn(in_channels, out_channels, 1, 1)) if in_channels != out_channels else None
        )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + identity)


_BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {"basic": BasicBlock, "bottleneck": Bottleneck}


def _block_type(spec: StageSpec) -> type[BasicBlock] | type[Bottleneck]:
    if spec.block not in _BLOCKS:
        raise ValueError(f"unknown HRNet block {spec.block!r}; expected one of {sorted(_BLOCKS)}")
    return _BLOCKS[spec.block]


def _make_blocks(block: type[BasicBlock] | type[Bottleneck], in_channels: int, channels: int, n: int) -> nn.Sequential:
    """``n`` blocks; only the first may change the width (and then owns the ``downsample`` projection)."""
    layers = [block(in_channels, channels)]
    layers += [block(channels * block.expansion, channels) for _ in range(n - 1)]
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------------------------------------------
# Multi-resolution parts
# --------------------------------------------------------------------------------------------------------------
def _strided_convs(in_channels: int, out_channels: int, steps: int, last_relu: bool) -> nn.Sequential:
    """``steps`` stride-2 3x3 conv+BN units; intermediate units keep ``in_channels`` and end with ReLU.

    This is both the official fuse path from a finer to a coarser branch (``last_relu=False``) and the
    transition that creates a new branch (one step, ``last_relu=True``).
    """
    units = []
    for k in range(steps):
        is_last = k == steps - 1
        unit = _conv_bn(in_channels, out_channels if is_last else in_channels, 3, 2)
        if not is_last or last_relu:
            unit.append(nn.ReLU(inplace=True))
        units.append(nn.Sequential(*unit))
    return nn.Sequential(*units)


class Transition(nn.ModuleList):
    """Maps the branches of one stage to the inputs of the next (official ``transition{n}``).

    Entry i is an identity when branch i keeps its width, a 3x3 conv+BN+ReLU when the width changes, and for
    the new (coarsest) branch a stride-2 conv+BN+ReLU chain from the previous coarsest branch.
    """

    def __init__(self, in_channels: list[int], out_channels: list[int]):
        layers: list[nn.Module] = []
        for i, c_out in enumerate(out_channels):
            if i < len(in_channels):
                c_in = in_channels[i]
                same = c_in == c_out
                layers.append(nn.Identity() if same else nn.Sequential(*_conv_bn(c_in, c_out, 3, 1), nn.ReLU(True)))
            else:
                # A new branch: a chain of stride-2 units from the coarsest existing branch.
                steps = i + 1 - len(in_channels)
                layers.append(_strided_convs(in_channels[-1], c_out, steps, last_relu=True))
        super().__init__(layers)
        self.num_inputs = len(in_channels)

    def forward(self, xs: list[Tensor]) -> list[Tensor]:  # type: ignore[override]
        """Existing branches read their own map; new branches read the coarsest one."""
        return [layer(xs[i] if i < self.num_inputs else xs[-1]) for i, layer in enumerate(self)]


class HighResolutionModule(nn.Module):
    """Parallel branches of residual blocks followed by the multi-resolution exchange (``fuse_layers``).

    ``fuse_layers[i][j]`` brings branch j to branch i: 1x1 conv+BN then nearest upsampling when j is coarser
    (j > i), identity when j == i, a chain of stride-2 3x3 convs when j is finer. Output i is
    ``relu(sum_j fuse_layers[i][j](branch_j))``. With ``multi_scale_output=False`` only output 0 is fused and
    branches 1.. are returned as they leave their blocks.
    """

    def __init__(self, in_channels: list[int], spec: StageSpec, multi_scale_output: bool):
        super().__init__()
        block = _block_type(spec)
        self.branches = nn.ModuleList(
            _make_blocks(block, c_in, c, n) for c_in, c, n in zip(in_channels, spec.num_channels, spec.num_blocks)
        )
        self.out_channels = [c * block.expansion for c in spec.num_channels]
        num_fused = spec.num_branches if multi_scale_output else 1
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(self._fuse_layer(i, j) for j in range(spec.num_branches)) for i in range(num_fused)
        )

    def _fuse_layer(self, i: int, j: int) -> nn.Module:
        ch = self.out_channels
        if j > i:
            # The official Sequential has nn.Upsample at index 2; we resize in forward() to an explicit size
            # (exact for any input size, static in ONNX), which leaves the parameter indices unchanged.
            return nn.Sequential(*_conv_bn(ch[j], ch[i], 1, 1))
        if j == i:
            return nn.Identity()
        return _strided_convs(ch[j], ch[i], steps=i - j, last_relu=False)

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        fused = []
        for i, layers in enumerate(self.fuse_layers):
            target_size = xs[i].shape[-2:]
            # Summed in branch order like the official code (float addition is not associative).
            y = None
            for j, (layer, x) in enumerate(zip(layers, xs)):
                term = layer(x)
                if j > i:
                    term = F.interpolate(term, size=target_size, mode="nearest")
                y = term if y is None else y + term
            fused.append(F.relu(y))
        return fused + xs[len(fused):]


class HRNet(nn.Module):
    """HRNet backbone: (B, 3, H, W) normalised RGB -> four maps at strides 4, 8, 16, 32 (the contract of
    ``hmr_ros.model.backbones``).

    Args:
        width: ``"w18"``, ``"w32"`` or ``"w48"`` (the official configs; C = 18, 32 or 48).
        layout: ``"cls"`` (classification HRNet, all stage-4 modules multi-scale) or ``"pose"`` (pose HRNet,
            the last stage-4 module fuses into branch 0 only). Pick the layout of the checkpoint to load.

    Attributes:
        out_channels: ``[C, 2C, 4C, 8C]``.
    """

    #: the official configurations (C = 18, 32, 48) and the stride of the finest map (branch 0)
    WIDTHS = tuple(HRNET_SPECS)
    STRIDE = 4

    def __init__(self, width: str = "w32", layout: str = "cls"):
        super().__init__()
        if width not in HRNET_SPECS:
            raise ValueError(f"unknown HRNet width {width!r}; expected one of {sorted(HRNET_SPECS)}")
        if layout not in HRNET_LAYOUTS:
            raise ValueError(f"unknown HRNet layout {layout!r}; expected one of {list(HRNET_LAYOUTS)}")
        self.width = width
        self.layout = layout
        spec = HRNET_SPECS[width]

        stem = spec.stem_channels
        self.conv1, self.bn1 = _conv_bn(3, stem, 3, 2)
        self.conv2, self.bn2 = _conv_bn(stem, stem, 3, 2)

        s1 = spec.stage1
        block1 = _block_type(s1)
        self.layer1 = _make_blocks(block1, stem, s1.num_channels[0], s1.num_blocks[0])
        channels = [s1.num_channels[0] * block1.expansion]

        self.transition1, self.stage2, channels = self._make_stage(channels, spec.stage2, last_multi_scale=True)
        self.transition2, self.stage3, channels = self._make_stage(channels, spec.stage3, last_multi_scale=True)
        self.transition3, self.stage4, channels = self._make_stage(
            channels, spec.stage4, last_multi_scale=layout == "cls"
        )
        self.out_channels: list[int] = channels
        self._init_weights()

    @staticmethod
    def _make_stage(
        in_channels: list[int], spec: StageSpec, last_multi_scale: bool
    ) -> tuple[Transition, nn.Sequential, list[int]]:
        """The transition into a stage and its modules; returns them with the stage's output channels."""
        branch_channels = [c * _block_type(spec).expansion for c in spec.num_channels]
        transition = Transition(in_channels, branch_channels)
        modules = []
        for m in range(spec.num_modules):
            multi_scale = last_multi_scale or m < spec.num_modules - 1
            modules.append(HighResolutionModule(branch_channels, spec, multi_scale))
            branch_channels = modules[-1].out_channels
        return transition, nn.Sequential(*modules), branch_channels

    def _init_weights(self) -> None:
        # The official classification initialisation; any real use loads pretrained weights over it.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def load_pretrained(self, source, allow_pickle: bool = False):
        """Initialise from an ImageNet or a pose HRNet checkpoint (``hrnet_checkpoint.init_backbone``); returns
        (load report, keys left at their initial values)."""
        return init_backbone(self, source, allow_pickle=allow_pickle)

    def forward(self, x: Tensor) -> list[Tensor]:
        """(B, 3, H, W) float -> [(B, C, H/4, W/4), (B, 2C, H/8, W/8), (B, 4C, H/16, W/16), (B, 8C, H/32, W/32)].

        Sizes are exact for H, W divisible by 32. Otherwise every stride-2 conv rounds up, so branch k has
        ``ceil(H / 2**(k+2)) x ceil(W / 2**(k+2))`` pixels, and the fuse layers resize to those sizes.
        """
        # Checked eagerly only: while tracing for ONNX the shape is fixed by the example input anyway.
        if not torch.jit.is_tracing() and (x.dim() != 4 or x.shape[1] != 3):
            raise ValueError(f"HRNet expects a (B, 3, H, W) image tensor, got shape {tuple(x.shape)}")
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        xs = [self.layer1(x)]
        xs = self.stage2(self.transition1(xs))
        xs = self.stage3(self.transition2(xs))
        xs = self.stage4(self.transition3(xs))
        return xs
