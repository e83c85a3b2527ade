"""Which parts of SIAM's exported graphs run in FP16, and the wrappers that put them there.

TensorRT 11 and TensorRT for RTX build strongly typed networks only (there is no ``BuilderFlag.FP16`` any more):
every tensor's type is the one the ONNX graph gives it. An FP16 engine therefore starts from an FP16 ONNX graph,
and this module decides, per sub-module, which precision each part of the graph has:

- FP16: the backbone and the instance head's branch fusion and centre convolutions (almost all the FLOPs of
  ``frame_net``); SIA and Feature Decomposition (the attention and MLPs of ``temporal_net``). A backbone names
  sub-modules that stay FP32 in ``FP32_MODULES``: MoveNet's six heads, whose centre logits rank the people (in FP16
  neighbouring cells tie and detections moved by a cell).
- FP32: the image normalisation (uint8 -> float), the heatmap sigmoid, top-K and token gathering (near-ties
  between peaks decide who is detected, and the position encoding's high frequencies need fp32 coordinates),
  and the SMPL head (6D -> rotation matrices by Gram-Schmidt, the iterative refinement).
- The graphs' inputs and outputs stay float32 (bool/uint8 where they were), so every backend feeds and reads an
  FP16 graph exactly like the FP32 one.

Measured on the shipped weights (``python -m hmr_ros check-backends``, docs/backends.md): ONNX Runtime running the
FP16 graph stays within a few millimetres of PyTorch FP32 on vertices and joints. An untrained network's HRNet
activations may exceed FP16's range (65,504): FP16 graphs are for trained weights.
"""
from __future__ import annotations

import copy
import dataclasses

import torch
from torch import nn

GRAPH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


def cast_floats(value, dtype: torch.dtype):
    """``value`` with every floating-point tensor in it (also inside tuples, lists and dataclasses) cast to
    ``dtype``; integer and bool tensors and other objects unchanged."""
    if isinstance(value, torch.Tensor):
        return value.to(dtype) if value.is_floating_point() and value.dtype != dtype else value
    if isinstance(value, (list, tuple)):
        return type(value)(cast_floats(v, dtype) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: cast_floats(getattr(value, f.name), dtype)
                                             for f in dataclasses.fields(value)})
    return value


class Region(nn.Module):
    """``module`` run in ``dtype``: its weights and floating inputs in ``dtype``; outputs cast to ``out`` when set
    (else left in ``dtype``, so the next FP16 region reads them without a round trip)."""

    def __init__(self, module: nn.Module, dtype: torch.dtype, out: torch.dtype | None = None):
        super().__init__()
        self.module = module.to(dtype)
        self.dtype, self.out = dtype, out

    def forward(self, *args, **kwargs):
        result = self.module(*cast_floats(args, self.dtype), **kwargs)
        return cast_floats(result, self.out) if self.out is not None else result


class Float32Outputs(nn.Module):
    """A graph whose floating outputs are float32 whatever precision it computes in."""

    def __init__(self, graph: nn.Module):
        super().__init__()
        self.graph = graph

    def forward(self, *args):
        return cast_floats(self.graph(*args), torch.float32)


def fp16_frame_net(frame_net: nn.Module) -> nn.Module:
    """A copy of ``FrameNet`` with the backbone, branch fusion and centre head in FP16 (see the module doc)."""
    net = copy.deepcopy(frame_net).float()
    half, f32 = torch.float16, torch.float32
    net.backbone = Region(net.backbone, half)
    for name in getattr(type(frame_net.backbone), "FP32_MODULES", ()):  # e.g. MoveNet's heads: they rank people
        parent, _, leaf = name.rpartition(".")
        owner = net.backbone.module.get_submodule(parent) if parent else net.backbone.module
        owner.register_module(leaf, Region(getattr(owner, leaf), f32, out=f32))
    net.head.fusion = Region(net.head.fusion, half, out=f32)  # tokens are gathered and normalised in fp32
    net.head.center = Region(net.head.center, half, out=f32)  # the heatmap's peaks are ranked in fp32
    return net


def fp16_temporal_net(temporal_net: nn.Module) -> nn.Module:
    """A copy of ``TemporalNet`` with SIA and FD in FP16 and the SMPL head in FP32, float32 outputs."""
    net = copy.deepcopy(temporal_net).float()
    half = torch.float16
    net.sia = Region(net.sia, half)
    net.fd = Region(net.fd, half)
    net.smpl_head = Region(net.smpl_head, torch.float32)
    return Float32Outputs(net)
