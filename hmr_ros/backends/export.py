"""ONNX export of SIAM's two graphs, and a parity check against PyTorch with ONNX Runtime (CPU).

Static shapes: FrameNet takes (1, S, S, 3) uint8 and outputs the top-K peaks (tokens, centres, scores) whatever their
score; TemporalNet takes (1, T, K, D) float32 tokens, a (1, T, K) bool mask and (1, T, K, 2) float32 centres
(network pixels). The score threshold is not in any
graph: the backends compute the frame mask from ``scores`` at run time (``hmr_ros.backends.base``), so one export
serves every threshold. These files are what the TensorRT and ONNX Runtime backends consume.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hmr_ros.model.siam import SIAM, FrameNet

FRAME_INPUTS = ["image"]
FRAME_OUTPUTS = ["tokens", "centers", "scores"]
TEMPORAL_INPUTS = ["window_tokens", "window_mask", "window_centers"]
TEMPORAL_OUTPUTS = ["rotmats", "betas", "cam", "out_tokens"]
OPSET = 17


@dataclass
class ExportResult:
    frame_net: Path
    temporal_net: Path


class FrameGraph(torch.nn.Module):
    """What ``frame_net.onnx`` holds: ``FrameNet.detect``, uint8 (1, S, S, 3) -> tokens, centers, scores."""

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


def export_onnx(model: SIAM, out_dir: str | os.PathLike) -> ExportResult:
    """Write ``frame_net.onnx`` and ``temporal_net.onnx`` (opset 17, static shapes) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval().cpu()
    frame_in, temporal_in = example_inputs(model)
    paths = ExportResult(out / "frame_net.onnx", out / "temporal_net.onnx")
    with torch.inference_mode(), warnings.catch_warnings():
        # The tracer warns about Python-side shape checks; shapes are static by design, so they hold.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="Constant folding")
        torch.onnx.export(FrameGraph(model.frame_net), frame_in, str(paths.frame_net), input_names=FRAME_INPUTS,
                          output_names=FRAME_OUTPUTS, opset_version=OPSET, dynamo=False)
        torch.onnx.export(model.temporal_net, temporal_in, str(paths.temporal_net), input_names=TEMPORAL_INPUTS,
                          output_names=TEMPORAL_OUTPUTS, opset_version=OPSET, dynamo=False)
    return paths


def onnx_parity(model: SIAM, paths: ExportResult, seed: int = 1) -> dict[str, float]:
    """Max abs difference of ONNX Runtime (CPU) vs PyTorch for every float output, on fresh random inputs.

    Frame outputs are compared on the same top-K selection: ``tokens``/``scores``/``centers`` only make sense
    slot by slot when both pick the same peaks, which they do unless two peaks tie within float noise.
    """
    import onnxruntime as ort

    model = model.eval().cpu()
    frame_in, temporal_in = example_inputs(model, seed)
    diffs: dict[str, float] = {}
    for path, inputs, in_names, out_names, net in (
        (paths.frame_net, frame_in, FRAME_INPUTS, FRAME_OUTPUTS, FrameGraph(model.frame_net)),
        (paths.temporal_net, temporal_in, TEMPORAL_INPUTS, TEMPORAL_OUTPUTS, model.temporal_net),
    ):
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = sess.run(out_names, {n: t.numpy() for n, t in zip(in_names, inputs)})
        with torch.inference_mode():
            want = [t.numpy() for t in net(*inputs)]
        for name, a, b in zip(out_names, got, want):
            if a.shape != b.shape:
                raise ValueError(f"ONNX output {name} has shape {a.shape}, PyTorch {b.shape}")
            diffs[name] = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if a.size else 0.0
    return diffs
