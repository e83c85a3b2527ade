"""ONNX Runtime backend (CPU provider; CUDA provider where onnxruntime-gpu offers it), and the ONNX export cache.

The exported graphs are cached on disk under the network's ``OnnxKey`` (weights hash, graph code, shapes), so
the export (about 25 s at S=256 on a 2-core CPU) runs once per network, not at every start. The TensorRT backend
builds its engines from the same cached files.
"""
from __future__ import annotations

import logging
import os

import numpy as np
import torch

from hmr_ros.backends.base import Backend, FrameOutputs, TemporalOutputs
from hmr_ros.backends.engine_cache import (ONNX_FILES, OnnxKey, check_entry, default_cache_dir, entry_dir, touch_entry,
                                           write_entry)
from hmr_ros.backends.ort_import import import_onnxruntime
from hmr_ros.model.siam import SIAM
from hmr_ros.backends.export import (FRAME_INPUTS, FRAME_OUTPUTS, TEMPORAL_INPUTS, TEMPORAL_OUTPUTS, ExportResult,
                                     FrameGraph, example_inputs, export_onnx)

log = logging.getLogger("hmr_ros.backends")


def cached_onnx(network, cache_dir: str | os.PathLike | None = None, key: OnnxKey | None = None,
                notes: list[str] | None = None) -> ExportResult:
    """Paths of ``frame_net.onnx``/``temporal_net.onnx`` for ``network``, exporting only when the cache has no
    valid entry (missing, corrupt or made for other weights/shapes); the reason is logged and appended to
    ``notes``."""
    key = key or OnnxKey.for_network(network)
    folder = entry_dir(cache_dir or default_cache_dir(), "onnx", key)
    check = check_entry(folder, key, ONNX_FILES)
    if not check.valid:
        msg = f"exporting ONNX graphs: {check.reason}"
        log.info(msg)
        if notes is not None:
            notes.append(msg)
        was_training = network.training
        device = next(network.parameters()).device
        write_entry(folder, key, lambda tmp: export_onnx(network, tmp, key.dtype), ONNX_FILES)
        network.to(device).train(was_training)  # export_onnx moves the network to the CPU
    else:
        touch_entry(folder)
    return ExportResult(folder / ONNX_FILES[0], folder / ONNX_FILES[1])


def onnxruntime_available() -> tuple[bool, str]:
    try:
        import_onnxruntime()
    except ImportError as e:
        return False, f"onnxruntime is not importable ({e})"
    return True, "onnxruntime is importable"


class OnnxRuntimeBackend(Backend):
    """Run the exported graphs with ONNX Runtime.

    Args:
        network: the ``SIAM`` module (exported once, then only its config is used).
        device: where outputs are returned; a CUDA device also selects ORT's CUDA provider when it exists.
        cache_dir: root of the export cache (default ``~/.cache/hmr_ros``).
        threads: intra-op threads; None = ``torch.get_num_threads()``, so one knob sets the process's CPU budget
            (ONNX Runtime's own default, one spinning thread per core, starves a shared machine).
        precision: the graph dtype, "fp32" or "fp16" (the graph TensorRT builds FP16 engines from; ONNX Runtime's
            CPU provider computes its FP16 operators in FP32 between casts, so on a CPU it checks the FP16 graph's
            numerics rather than speeding anything up).
        temporal: what runs the temporal network: "onnxruntime" (its exported graph, static K) or "torch" (the
            network itself, eager, on the CPU: it takes only the occupied slots, ``dynamic_slots``). ONNX Runtime
            runs the convolutions of the frame network ~20 % faster than PyTorch on a CPU; the temporal network is
            small matrices and attention over T x K tokens, where skipping the empty slots (10 of 16 with six
            people) is worth more than any kernel.
    """

    name = "onnxruntime"

    def __init__(self, network, device: str | torch.device = "cpu", cache_dir: str | os.PathLike | None = None,
                 threads: int | None = None, precision: str = "fp32", temporal: str = "onnxruntime"):
        super().__init__(network.config.score_threshold)
        ort = import_onnxruntime()

        self.device = torch.device(device)
        self.precision = precision
        if temporal not in ("onnxruntime", "torch"):
            raise ValueError(f"temporal must be 'onnxruntime' or 'torch', got {temporal!r}")
        if temporal == "torch" and (self.device.type != "cpu" or precision != "fp32"):
            raise ValueError("temporal='torch' runs the network on the CPU in fp32: use it with device 'cpu', fp32")
        self.temporal_runner = temporal
        self._temporal_net = network.temporal_net.eval() if temporal == "torch" else None
        self.dynamic_slots = temporal == "torch"
        key = OnnxKey.for_network(network, dtype=precision)
        paths = cached_onnx(network, cache_dir, key=key, notes=self.selection)
        self.paths = paths
        providers = ["CPUExecutionProvider"]
        if self.device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, ("CUDAExecutionProvider", {"device_id": self.device.index or 0}))
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = torch.get_num_threads() if threads is None else threads
        opts.log_severity_level = 3  # errors only: its constant-folding notes (no CPU Softplus kernel) are noise
        # ONNX Runtime's workers spin for a while after each run: on a small CPU they then take the cores from
        # PyTorch's body model and the node's own work (2-3x slower there on 2 cores)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.frame_session = ort.InferenceSession(str(paths.frame_net), opts, providers=providers)
        self.temporal_session = (ort.InferenceSession(str(paths.temporal_net), opts, providers=providers)
                                 if temporal == "onnxruntime" else None)
        self.providers = self.frame_session.get_providers()

    def _out(self, arrays: list[np.ndarray]) -> list[torch.Tensor]:
        return [torch.from_numpy(a).to(self.device) for a in arrays]

    def frame(self, image: torch.Tensor) -> FrameOutputs:
        feed = {FRAME_INPUTS[0]: image.cpu().numpy()}
        return self._frame_outputs(*self._out(self.frame_session.run(FRAME_OUTPUTS, feed)))

    def temporal(self, tokens: torch.Tensor, mask: torch.Tensor, centers: torch.Tensor) -> TemporalOutputs:
        if self._temporal_net is not None:
            with torch.inference_mode():
                return TemporalOutputs(*self._temporal_net(tokens.cpu().float(), mask.cpu(), centers.cpu().float()))
        feed = {TEMPORAL_INPUTS[0]: tokens.detach().float().cpu().numpy(), TEMPORAL_INPUTS[1]: mask.cpu().numpy(),
                TEMPORAL_INPUTS[2]: centers.detach().float().cpu().numpy()}
        return TemporalOutputs(*self._out(self.temporal_session.run(TEMPORAL_OUTPUTS, feed)))

    def describe(self) -> str:
        provider = self.providers[0].replace("ExecutionProvider", "") if self.providers else "?"
        if self._temporal_net is not None:
            return f"onnxruntime ({provider}, {self.precision}; temporal network: torch)"
        return f"onnxruntime ({provider}, {self.precision})"


def onnx_parity(model: SIAM, paths: ExportResult, seed: int = 1) -> dict[str, float]:
    """Max abs difference of ONNX Runtime (CPU) vs PyTorch FP32 for every float output, on fresh random inputs
    (for an FP16 export this is the FP16 graph's error against the FP32 network).

    Frame outputs are compared on the same top-K selection: ``tokens``/``scores``/``centers`` only make sense
    slot by slot when both pick the same peaks, which they do unless two peaks tie within float noise.
    """
    ort = import_onnxruntime()

    model = model.eval().cpu()
    frame_in, temporal_in = example_inputs(model, seed)
    diffs: dict[str, float] = {}
    for path, inputs, in_names, out_names, net in (
        (paths.frame_net, frame_in, FRAME_INPUTS, FRAME_OUTPUTS, FrameGraph(model.frame_net)),
        (paths.temporal_net, temporal_in, TEMPORAL_INPUTS, TEMPORAL_OUTPUTS, model.temporal_net),
    ):
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        got = sess.run(out_names, {n: t.numpy() for n, t in zip(in_names, inputs)})
        with torch.inference_mode():
            want = [t.numpy() for t in net(*inputs)]
        for name, a, b in zip(out_names, got, want):
            if a.shape != b.shape:
                raise ValueError(f"ONNX output {name} has shape {a.shape}, PyTorch {b.shape}")
            diffs[name] = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if a.size else 0.0
    return diffs
