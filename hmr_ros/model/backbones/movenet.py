"""MoveNet MultiPose Lightning (Google, Apache-2.0) as a SIAM backbone, from its published TF.js weights.

A CenterNet on a MobileNetV2 (width 1.5) with a three-step FPN back to stride 4, and six heads on that map::

    image (B, 3, S, S), x / 127.5 - 1
    conv1 -> blocks[0..16] (inverted residuals; taps after blocks 2, 5, 9 and conv_last)  strides 4, 8, 16, 32
    lateral[0..3] + 2x bilinear upsampling + smooth[0..2] (separable convs)              -> (B, 24, S/4, S/4)
    heads: center 1, kpt_heatmap 17, kpt_regress 34, kpt_offset 34, box_scale 2, box_offset 2 (COCO-17 keypoints)

Batch norm is folded into the convolutions' biases in the published graph, so every conv here has a bias and the
network has no normalisation layer (nothing to freeze but the weights). TensorFlow's "SAME" padding pads a
stride-2 convolution on an even input by one pixel at the bottom/right only; ``_SameStride2Conv`` does the same, or
the maps would be shifted by half a pixel against the original.

``forward`` returns the contract's list of maps, finest first: the FPN map (B, 24, S/4, S/4) and the heads' raw
outputs (B, 90, S/4, S/4) in ``HEADS`` order (logits for the heatmaps, grid cells for regressions and offsets).
``CENTER_LOGITS`` tells ``InstanceHead`` where MoveNet's own person-centre logits are, so SIAM's centre heatmap starts
as MoveNet's (an untrained SIAM-M finds the people MoveNet finds); ``movenet_decode.decode`` turns the heads into
MoveNet's people (keypoints, boxes, scores), exactly as the original graph does.
"""
from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hmr_ros.model.backbones.movenet_decode import HEADS, PEAK_KERNEL, STRIDE, keypoints_at
from hmr_ros.model.backbones.tfjs_weights import GraphModel, read_graph_model

__all__ = ["MoveNet", "HEADS", "MOBILENET_BLOCKS"]

#: TF.js name of each head's sub-graph and the index of its separable / 1x1 convs in that graph
_HEAD_TF = {"center": ("center_0", 3, 4), "box_scale": ("box_scale_0", 4, 5), "box_offset": ("box_offset_0", 5, 6),
            "kpt_heatmap": ("kpt_heatmap_0", 6, 7), "kpt_regress": ("kpt_regress_0", 7, 8),
            "kpt_offset": ("kpt_offset_0", 8, 9)}
#: MobileNetV2 x1.5 inverted residuals: (output channels, expansion, stride); block 0 is TF's ``expanded_conv``
MOBILENET_BLOCKS = ((24, 1, 1), (40, 6, 2), (40, 6, 1), (48, 6, 2), (48, 6, 1), (48, 6, 1), (96, 6, 2), (96, 6, 1),
                    (96, 6, 1), (96, 6, 1), (144, 6, 1), (144, 6, 1), (144, 6, 1), (240, 6, 2), (240, 6, 1),
                    (240, 6, 1), (480, 6, 1))
_STEM, _LAST = 48, 1280
#: blocks whose outputs feed the FPN (strides 4, 8, 16); stride 32 comes from conv_last
_TAPS = (2, 5, 9)
#: FPN widths: lateral convs from stride 32, 16, 8, 4 and the smoothing convs after each merge
_LATERAL, _SMOOTH = (64, 64, 32, 24), (32, 24, 24)
_TF_ROOT = "StatefulPartitionedCall/center_net_mobile_net_v2fpn_feature_extractor/model_1/"
#: x * scale - 1 maps uint8 RGB to [-1, 1]; the graph stores 1/127.5 rounded to float16, used as published
INPUT_SCALE = 0.00784302


class _SameStride2Conv(nn.Conv2d):
    """A 3 x 3 stride-2 convolution with TensorFlow's "SAME" padding, without a padded copy of its input.

    On an even side SAME pads one pixel at the bottom/right only; a kernel with a zero first row (column) and
    symmetric padding 1 computes exactly that (output i sees input rows 2i..2i+2, row -1 is weighted 0 and row n
    is the padding). On an odd side SAME pads one pixel on each side: the plain kernel and padding 1. The padded
    copy this replaces cost ~2 ms a frame at 256 on 2 cores (~5 at 384). Parameters are the 3 x 3 ones, as
    published.
    """

    def forward(self, x: Tensor) -> Tensor:
        pad_w, pad_h = int(int(x.shape[-1]) % 2 == 0), int(int(x.shape[-2]) % 2 == 0)
        if torch.jit.is_tracing():
            # exported graphs: the ONNX exporter needs a kernel of static shape; the explicit Pad is the same
            # arithmetic, and ONNX Runtime / TensorRT fuse it into the convolution
            return F.conv2d(F.pad(x, (1 - pad_w, 1, 1 - pad_h, 1)), self.weight, self.bias, 2, 0, 1, self.groups)
        weight = F.pad(self.weight, (pad_w, 0, pad_h, 0)) if pad_w or pad_h else self.weight
        return F.conv2d(x, weight, self.bias, 2, 1, 1, self.groups)


def _conv(cin: int, cout: int, k: int = 1, s: int = 1, groups: int = 1, bias: bool = True) -> nn.Module:
    if k == 1:
        return nn.Conv2d(cin, cout, 1, stride=s, groups=groups, bias=bias)
    if s == 1:
        # "SAME" at stride 1 pads symmetrically: the convolution's own padding, no padded copy of the map (on a CPU
        # the copies cost ~5 ms a frame). The Identity keeps the parameter names of the stride-2 layout.
        return nn.Sequential(nn.Identity(), nn.Conv2d(cin, cout, k, groups=groups, bias=bias, padding=k // 2))
    if (k, s) != (3, 2):
        raise ValueError(f"MoveNet has 1x1 and 3x3 (stride 1 or 2) convolutions only, not {k}x{k} stride {s}")
    return nn.Sequential(nn.Identity(), _SameStride2Conv(cin, cout, 3, stride=2, groups=groups, bias=bias))


def _relu6(x: Tensor) -> Tensor:
    # in place: x is always a convolution's fresh output
    return F.hardtanh(x, 0.0, 6.0, inplace=True)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: [1x1 expand, ReLU6] -> 3x3 depthwise, ReLU6 -> 1x1 project (+ input when shapes match)."""

    def __init__(self, cin: int, cout: int, expansion: int, stride: int):
        super().__init__()
        hidden = cin * expansion
        self.expand = _conv(cin, hidden) if expansion != 1 else None
        self.depthwise = _conv(hidden, hidden, 3, stride, groups=hidden)
        self.project = _conv(hidden, cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        y = _relu6(self.expand(x)) if self.expand is not None else x
        y = self.project(_relu6(self.depthwise(y)))
        return x + y if self.residual else y


class SeparableConv(nn.Module):
    """3x3 depthwise (no bias) -> 1x1 pointwise with bias -> ReLU (Keras ``SeparableConv2D``)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.depthwise = _conv(cin, cin, 3, groups=cin, bias=False)
        self.pointwise = _conv(cin, cout)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.pointwise(self.depthwise(x)))


class Head(nn.Module):
    """One CenterNet head: separable conv 24 -> 96, ReLU -> 1x1 conv 96 -> ``cout``."""

    def __init__(self, cin: int, cout: int, hidden: int = 96):
        super().__init__()
        self.separable = SeparableConv(cin, hidden)
        self.out = _conv(hidden, cout)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.separable(x))


def _upsample_add(top: Tensor, lateral: Tensor) -> Tensor:
    # Keras UpSampling2D(interpolation="bilinear") = half-pixel bilinear, PyTorch's align_corners=False
    return F.interpolate(top, size=lateral.shape[-2:], mode="bilinear", align_corners=False) + lateral


class MoveNet(nn.Module):
    """MoveNet MultiPose backbone: (B, 3, S, S) RGB scaled to [-1, 1] -> [FPN map (B, 24, S/4, S/4), heads
    (B, 90, S/4, S/4)] (the contract of ``hmr_ros.model.backbones``; S a multiple of 32).

    Args:
        width: ``"lightning"``, the only published MultiPose model.
    """

    WIDTHS = ("lightning",)
    STRIDE = STRIDE
    #: uint8 RGB -> network input: (x - mean) / std with mean = std = 1 / INPUT_SCALE, i.e. x * INPUT_SCALE - 1
    PIXEL_MEAN = (1.0 / INPUT_SCALE,) * 3
    PIXEL_STD = (1.0 / INPUT_SCALE,) * 3
    #: (map index, channel) of the person-centre logits in ``forward``'s output
    CENTER_LOGITS = (1, 0)
    #: MoveNet's peak test: a centre is a maximum of its 5 x 5 neighbourhood
    PEAK_KERNEL = PEAK_KERNEL
    #: sub-modules that stay float32 in an FP16 graph (backends/graph_precision.py): the heads rank people by
    #: their centre logits, and in FP16 neighbouring cells tie (detections moved by a cell against FP32)
    FP32_MODULES = tuple(f"heads.{name}" for name in HEADS)
    #: SIAM's frame head with depthwise-separable 3x3 steps: the dense head would cost 4x this backbone's 1.9 GFLOP
    LIGHT_HEAD = True

    def __init__(self, width: str = "lightning"):
        super().__init__()
        if width not in self.WIDTHS:
            raise ValueError(f"unknown MoveNet width {width!r}; expected one of {list(self.WIDTHS)}")
        self.width = width
        self.conv1 = _conv(3, _STEM, 3, 2)
        blocks, cin = [], _STEM
        for cout, expansion, stride in MOBILENET_BLOCKS:
            blocks.append(InvertedResidual(cin, cout, expansion, stride))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.conv_last = _conv(cin, _LAST)
        tapped = [_LAST] + [MOBILENET_BLOCKS[i][0] for i in reversed(_TAPS)]  # strides 32, 16, 8, 4
        self.lateral = nn.ModuleList(_conv(c, w) for c, w in zip(tapped, _LATERAL))
        self.smooth = nn.ModuleList(SeparableConv(cin, cout) for cin, cout in zip(_LATERAL[1:], _SMOOTH))
        self.heads = nn.ModuleDict({name: Head(_SMOOTH[-1], n) for name, n in HEADS.items()})
        self.out_channels: list[int] = [_SMOOTH[-1], sum(HEADS.values())]

    def features(self, x: Tensor) -> Tensor:
        """(B, 3, S, S) scaled RGB -> the FPN map (B, 24, S/4, S/4)."""
        if not torch.jit.is_tracing() and (x.dim() != 4 or x.shape[1] != 3):
            raise ValueError(f"MoveNet expects a (B, 3, H, W) image tensor, got shape {tuple(x.shape)}")
        x = _relu6(self.conv1(x))
        taps = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in _TAPS:
                taps.append(x)
        y = self.lateral[0](_relu6(self.conv_last(x)))
        for lateral, smooth, tap in zip(self.lateral[1:], self.smooth, reversed(taps)):
            y = smooth(_upsample_add(y, lateral(tap)))
        return y

    def forward(self, x: Tensor) -> list[Tensor]:
        y = self.features(x)
        return [y, torch.cat([head(y) for head in self.heads.values()], dim=1)]

    def keypoints_at(self, maps: list[Tensor], index: Tensor) -> Tensor:
        """COCO-17 keypoints of the people centred at flat cells ``index`` (B, K) of ``forward``'s maps: (B, K, 17, 3)
        x, y network-input pixels and score, as MoveNet's own decoding reads them (``movenet_decode.keypoints_at``)."""
        return keypoints_at(maps[1], index, self.STRIDE)

    def load_pretrained(self, source: str | os.PathLike | GraphModel):
        """Copy the published weights in from a TF.js graph model (``model.json`` path or a loaded ``GraphModel``).

        Every parameter is set (strict): returns (the model path, []) like the other backbones' report of keys left
        at their initial values. Raises KeyError / ValueError naming the tensor that is missing or mis-shaped.
        """
        graph = source if isinstance(source, GraphModel) else read_graph_model(source)
        state = {name: torch.from_numpy(_to_torch_layout(graph.constant(tf), depthwise))
                 for name, tf, depthwise in _tf_names(self)}
        own = self.state_dict()
        if set(state) != set(own):
            raise ValueError(f"{graph.path}: parameters not covered by the TF.js name map: "
                             f"{sorted(set(own) ^ set(state))[:8]}")
        for name, value in state.items():
            if value.shape != own[name].shape:
                raise ValueError(f"{graph.path}: {name} has shape {tuple(value.shape)}, expected "
                                 f"{tuple(own[name].shape)}")
        self.load_state_dict(state, strict=True)
        return graph.path, []


def _to_torch_layout(w: np.ndarray, depthwise: bool) -> np.ndarray:
    """TF (kh, kw, cin, cout) / depthwise (kh, kw, c, 1) / bias (c,) -> PyTorch (cout, cin, kh, kw) / (c, 1, kh, kw)."""
    if w.ndim == 1:
        return np.ascontiguousarray(w, dtype=np.float32)
    perm = (2, 3, 0, 1) if depthwise else (3, 2, 0, 1)
    return np.ascontiguousarray(w.transpose(perm), dtype=np.float32)


def _conv_param(module: nn.Module) -> str:
    """State-dict prefix of the Conv2d inside a ``_conv`` (bare, or index 1 of its Sequential)."""
    return "" if isinstance(module, nn.Conv2d) else "1."


def _tf_names(net: MoveNet):
    """(PyTorch parameter name, TF.js weight name, is depthwise) for every parameter of ``net``."""
    mb = _TF_ROOT + "model/"

    def conv(prefix: str, module: nn.Module, weight: str, bias: str | None, depthwise: bool = False):
        p = prefix + _conv_param(module)
        yield p + "weight", weight, depthwise
        if bias is not None:
            yield p + "bias", bias, False

    yield from conv("conv1.", net.conv1, mb + "Conv1/Conv2D_weights", mb + "Conv1/Conv2D_bn_offset")
    for i, block in enumerate(net.blocks):
        tf = "expanded_conv" if i == 0 else f"block_{i}"
        if block.expand is not None:
            yield from conv(f"blocks.{i}.expand.", block.expand, mb + f"{tf}_expand/Conv2D_weights",
                            mb + f"{tf}_expand/Conv2D_bn_offset")
        yield from conv(f"blocks.{i}.depthwise.", block.depthwise, mb + f"{tf}_depthwise/depthwise_weights",
                        mb + f"{tf}_depthwise/depthwise_bn_offset", depthwise=True)
        yield from conv(f"blocks.{i}.project.", block.project, mb + f"{tf}_project/Conv2D_weights",
                        mb + f"{tf}_project/Conv2D_bn_offset")
    yield from conv("conv_last.", net.conv_last, mb + "Conv_1/Conv2D_weights", mb + "Conv_1/Conv2D_bn_offset")
    for i, module in enumerate(net.lateral):
        tf = _TF_ROOT + ("conv2d" if i == 0 else f"conv2d_{i}")
        yield from conv(f"lateral.{i}.", module, tf + "/Conv2D/ReadVariableOp", tf + "/BiasAdd/ReadVariableOp")
    for i, sep in enumerate(net.smooth):
        tf = _TF_ROOT + ("separable_conv2d" if i == 0 else f"separable_conv2d_{i}") + "/separable_conv2d"
        yield from conv(f"smooth.{i}.depthwise.", sep.depthwise, tf + "/ReadVariableOp", None, depthwise=True)
        yield from conv(f"smooth.{i}.pointwise.", sep.pointwise, tf + "_weights", tf + "_bn_offset")
    for name, head in net.heads.items():
        scope, sep_i, conv_i = _HEAD_TF[name]
        sep = f"StatefulPartitionedCall/{scope}/separable_conv2d_{sep_i}"
        out = f"StatefulPartitionedCall/{scope}/conv2d_{conv_i}"
        yield from conv(f"heads.{name}.separable.depthwise.", head.separable.depthwise,
                        sep + "/separable_conv2d/ReadVariableOp", None, depthwise=True)
        yield from conv(f"heads.{name}.separable.pointwise.", head.separable.pointwise,
                        sep + "/separable_conv2d/ReadVariableOp_1", sep + "/BiasAdd/ReadVariableOp")
        yield from conv(f"heads.{name}.out.", head.out, out + "/Conv2D/ReadVariableOp", out + "/BiasAdd/ReadVariableOp")

