"""ONNX export of SIAM's two graphs (their parity with PyTorch: ``onnx_backend.onnx_parity``).

Static shapes and float32/bool/uint8 inputs and outputs in both graph dtypes: FrameNet takes (1, S, S, 3) uint8 and outputs the top-K peaks (tokens, centres, scores, keypoints) whatever their
score; TemporalNet takes (1, T, K, D) float32 tokens, a (1, T, K) bool mask and (1, T, K, 2) float32 centres
(network pixels). The score threshold is not in any
graph: the backends compute the frame mask from ``scores`` at run time (``hmr_ros.backends.base``), so one export
serves every threshold. ``dtype="fp16"`` exports the FP16 graphs (``graph_precision``: FP16 inside, FP32 where
numerics need it) that strongly typed TensorRT builds FP16 engines from. These files are what the TensorRT and
ONNX Runtime backends consume.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from hmr_ros.backends.graph_precision import GRAPH_DTYPES, fp16_frame_net, fp16_temporal_net
from hmr_ros.model.siam import SIAM, FrameNet

FRAME_INPUTS = ["image"]
FRAME_OUTPUTS = ["tokens", "centers", "scores", "keypoints"]
TEMPORAL_INPUTS = ["window_tokens", "window_mask", "window_centers"]
TEMPORAL_OUTPUTS = ["rotmats", "betas", "cam", "out_tokens"]
OPSET = 17


@dataclass
class ExportResult:
    frame_net: Path
    temporal_net: Path


class FrameGraph(torch.nn.Module):
    """What ``frame_net.onnx`` holds: ``FrameNet.detect``, uint8 (1, S, S, 3) -> tokens, centers, scores, keypoints."""

    def __init__(self, frame_net: FrameNet):
        super().__init__()
        self.frame_net = frame_net

    def forward(self, image: torch.Tensor):
        return self.frame_net.detect(image)


def example_inputs(model: SIAM, seed: int = 0) -> tuple[tuple[torch.Tensor], tuple[torch.Tensor, ...]]:
    """Random but reproducible inputs of the exported shapes for both graphs."""
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    image = torch.randint(0, 256, (1, cfg.input_size, cfg.input_size, 3), dtype=torch.uint8, generator=g)
    tokens = torch.randn(1, cfg.window, cfg.max_people, cfg.dim, generator=g)
    mask = torch.rand(1, cfg.window, cfg.max_people, generator=g) > 0.3
    centers = torch.rand(1, cfg.window, cfg.max_people, 2, generator=g) * cfg.input_size
    return (image,), (tokens, mask, centers)


def graphs(model: SIAM, dtype: str = "fp32") -> tuple[torch.nn.Module, torch.nn.Module]:
    """The two modules the ONNX files hold, in graph dtype ``dtype`` ("fp32" | "fp16")."""
    if dtype not in GRAPH_DTYPES:
        raise ValueError(f"graph dtype must be one of {tuple(GRAPH_DTYPES)}, got {dtype!r}")
    if dtype == "fp16":
        return FrameGraph(fp16_frame_net(model.frame_net)).eval(), fp16_temporal_net(model.temporal_net).eval()
    return FrameGraph(model.frame_net), model.temporal_net


def export_onnx(model: SIAM, out_dir: str | os.PathLike, dtype: str = "fp32") -> ExportResult:
    """Write ``frame_net.onnx`` and ``temporal_net.onnx`` (opset 17, static shapes, graph dtype ``dtype``) into
    ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval().cpu()
    frame_graph, temporal_graph = graphs(model, dtype)
    frame_in, temporal_in = example_inputs(model)
    paths = ExportResult(out / "frame_net.onnx", out / "temporal_net.onnx")
    with torch.inference_mode(), warnings.catch_warnings():
        # The tracer warns about Python-side shape checks; shapes are static by design, so they hold.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Constant folding")
        torch.onnx.export(frame_graph, frame_in, str(paths.frame_net), input_names=FRAME_INPUTS,
                          output_names=FRAME_OUTPUTS, opset_version=OPSET, dynamo=False)
        torch.onnx.export(temporal_graph, temporal_in, str(paths.temporal_net), input_names=TEMPORAL_INPUTS,
                          output_names=TEMPORAL_OUTPUTS, opset_version=OPSET, dynamo=False)
    return paths
