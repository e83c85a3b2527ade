"""TensorRT 10 backend: ONNX -> engine (FP16/FP32, static shapes, timing cache, progress log), cached on disk,
run with an execution context over torch CUDA tensors (``set_tensor_address`` + ``execute_async_v3``).

Engines are cached under an ``EngineKey`` (weights hash + graph code + S, T, K + precision + GPU name + compute
capability + TensorRT version). A missing, corrupt or mismatched engine is rebuilt and the reason logged; an engine
that TensorRT refuses to deserialize (e.g. written by another build of the same version) is rebuilt once too.
``python -m hmr_ros build-engine`` builds ahead of time, so a robot never waits minutes at start-up.

``tensorrt`` is imported lazily: this module imports (and its cache logic runs) where TensorRT is absent.
"""
from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path
from typing import Callable

import torch

from hmr_ros.backends.base import Backend, FrameOutputs, TemporalOutputs
from hmr_ros.backends.engine_cache import (ENGINE_FILES, EngineKey, OnnxKey, check_entry, default_cache_dir,
                                           entry_dir, touch_entry, write_entry)
from hmr_ros.backends.onnx_backend import cached_onnx
from hmr_ros.backends.export import FRAME_INPUTS, FRAME_OUTPUTS, TEMPORAL_INPUTS, TEMPORAL_OUTPUTS, ExportResult

log = logging.getLogger("hmr_ros.backends")
WORKSPACE_GIB = 4          # builder scratch memory limit; SIAM needs far less, TensorRT uses what helps
PROGRESS_EVERY_S = 10.0    # at most one progress line per phase this often


def tensorrt_available() -> tuple[bool, str]:
    """(True, version) when ``import tensorrt`` works, else (False, why)."""
    try:
        import tensorrt as trt
    except Exception as e:  # ImportError, or the PyPI download stub raising at import
        return False, f"tensorrt is not importable ({type(e).__name__}: {e})"
    return True, f"tensorrt {trt.__version__}"


def engine_key(onnx_key: OnnxKey, precision: str, device: str | torch.device = "cuda") -> EngineKey:
    """The cache key of engines for ``onnx_key`` built for this GPU and the installed TensorRT."""
    import tensorrt as trt

    major, minor = torch.cuda.get_device_capability(device)
    return EngineKey(onnx=onnx_key, precision=precision, gpu_name=torch.cuda.get_device_name(device),
                     compute_capability=f"{major}.{minor}", trt_version=trt.__version__)


def timing_cache_path(cache_dir: str | os.PathLike, key: EngineKey) -> Path:
    """One timing cache per GPU model and TensorRT version, shared by every network built there."""
    gpu = re.sub(r"[^a-z0-9]+", "-", key.gpu_name.lower()).strip("-")
    return Path(cache_dir) / "tensorrt" / f"timing-{gpu}-sm{key.compute_capability.replace('.', '')}-trt{key.trt_version}.cache"


def _progress_monitor(trt, say: Callable[[str], None]):
    """A ``trt.IProgressMonitor`` that reports the builder's top two phase levels (never cancels the build)."""

    class Monitor(trt.IProgressMonitor):
        def __init__(self):
            trt.IProgressMonitor.__init__(self)
            self.depth: dict[str, int] = {}
            self.steps: dict[str, int] = {}
            self.last_report = 0.0

        def phase_start(self, phase_name, parent_phase, num_steps):
            depth = self.depth.get(parent_phase, -1) + 1 if parent_phase else 0
            self.depth[phase_name], self.steps[phase_name] = depth, num_steps
            if depth <= 1:
                say(f"{'  ' * depth}{phase_name}: {num_steps} steps")

        def step_complete(self, phase_name, step):
            now = time.monotonic()
            if self.depth.get(phase_name, 2) <= 1 and now - self.last_report > PROGRESS_EVERY_S:
                self.last_report = now
                say(f"{'  ' * self.depth[phase_name]}{phase_name}: step {step + 1}/{self.steps.get(phase_name, '?')}")
            return True

        def phase_finish(self, phase_name):
            if self.depth.pop(phase_name, 2) == 0:
                say(f"{phase_name}: done")

    return Monitor()


def build_engine(onnx_path: str | os.PathLike, engine_path: str | os.PathLike, precision: str,
                 timing_cache: str | os.PathLike | None = None, say: Callable[[str], None] = log.info) -> None:
    """Build one serialized engine from an ONNX file with static shapes.

    ``precision`` "fp16" allows FP16 kernels (I/O stays as in the ONNX graph); the timing cache file is read if
    present and rewritten afterwards, so later builds on the same GPU skip most kernel timing.
    """
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ValueError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_GIB << 30)
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    elif precision != "fp32":
        raise ValueError(f"precision must be 'fp16' or 'fp32', got {precision!r}")
    cache_file = Path(timing_cache) if timing_cache else None
    cache = config.create_timing_cache(cache_file.read_bytes() if cache_file and cache_file.is_file() else b"")
    if not config.set_timing_cache(cache, ignore_mismatch=False):
        say(f"timing cache {cache_file} does not match this GPU/TensorRT; starting an empty one")
        config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)
    monitor = _progress_monitor(trt, say)
    config.progress_monitor = monitor
    t0 = time.monotonic()
    say(f"building {precision} engine from {onnx_path}")
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path} (see the TensorRT log above)")
    Path(engine_path).write_bytes(memoryview(serialized))
    if cache_file:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(memoryview(config.get_timing_cache().serialize()))
        os.replace(tmp, cache_file)
    say(f"built {engine_path} in {time.monotonic() - t0:.0f} s ({Path(engine_path).stat().st_size / 2**20:.1f} MiB)")


def ensure_engines(onnx: ExportResult, key: EngineKey, cache_dir: str | os.PathLike, force: str | None = None,
                   notes: list[str] | None = None, say: Callable[[str], None] = log.info) -> Path:
    """Folder holding ``frame_net.engine`` and ``temporal_net.engine`` for ``key``, building them when the cache
    entry is missing, corrupt or mismatched, or when ``force`` gives a reason to; the reason is said and appended
    to ``notes``."""
    folder = entry_dir(cache_dir, "tensorrt", key)
    check = check_entry(folder, key, ENGINE_FILES)
    if check.valid and not force:
        touch_entry(folder)
        return folder
    reason = force or check.reason
    msg = f"building TensorRT engines ({key.precision}, {key.gpu_name}): {reason}"
    say(msg)
    if notes is not None:
        notes.append(msg)
    timing = timing_cache_path(cache_dir, key)

    def produce(tmp: Path) -> None:
        for src, name in zip((onnx.frame_net, onnx.temporal_net), ENGINE_FILES):
            build_engine(src, tmp / name, key.precision, timing, say)

    return write_entry(folder, key, produce, ENGINE_FILES)


class EngineLoadError(RuntimeError):
    """TensorRT refused a serialized engine, or its tensors are not the ones SIAM's graphs have."""


class _EngineRunner:
    """One deserialized engine, its execution context and static torch CUDA I/O buffers."""

    def __init__(self, trt, runtime, path: Path, device: torch.device, inputs: list[str], outputs: list[str]):
        torch_dtype = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16,
                       trt.DataType.INT32: torch.int32, trt.DataType.INT64: torch.int64,
                       trt.DataType.BOOL: torch.bool, trt.DataType.UINT8: torch.uint8, trt.DataType.INT8: torch.int8}
        self.device = device
        self.engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise EngineLoadError(f"TensorRT could not deserialize {path}")
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        if sorted(names) != sorted(inputs + outputs):
            raise EngineLoadError(f"{path} has tensors {names}, expected {inputs + outputs}")
        self.context = self.engine.create_execution_context()
        self.buffers: dict[str, torch.Tensor] = {}
        for name in names:
            shape = tuple(self.engine.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                raise EngineLoadError(f"{path}: tensor {name} has a dynamic shape {shape}; engines must be static")
            buf = torch.empty(shape, dtype=torch_dtype[self.engine.get_tensor_dtype(name)], device=device)
            self.context.set_tensor_address(name, buf.data_ptr())
            self.buffers[name] = buf
        self.inputs, self.outputs = inputs, outputs

    def __call__(self, *values: torch.Tensor) -> list[torch.Tensor]:
        for name, value in zip(self.inputs, values):
            buf = self.buffers[name]
            if tuple(value.shape) != tuple(buf.shape):
                raise ValueError(f"TensorRT input {name}: expected shape {tuple(buf.shape)}, got {tuple(value.shape)}")
            buf.copy_(value, non_blocking=True)  # also casts (e.g. float32 tokens into a half input)
        stream = torch.cuda.current_stream(self.device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed (see the TensorRT log)")
        # Copies on the same stream: ordered after the engine, and safe from the next call's writes.
        out = [self.buffers[n] for n in self.outputs]
        return [b.float() if b.dtype == torch.float16 else b.clone() for b in out]


class TensorRTBackend(Backend):
    """SIAM's graphs as TensorRT engines on one CUDA device.

    Args:
        network: the ``SIAM`` module (exported to ONNX once; then only its config and weights hash are used).
        device: a CUDA device.
        precision: "fp16" (default) or "fp32".
        cache_dir: root of the ONNX/engine cache (default ``~/.cache/hmr_ros``).
    """

    name = "tensorrt"

    def __init__(self, network, device: str | torch.device = "cuda", precision: str | None = None,
                 cache_dir: str | os.PathLike | None = None):
        super().__init__(network.config.score_threshold)
        ok, why = tensorrt_available()
        if not ok:
            raise ValueError(f"tensorrt backend: {why}")
        import tensorrt as trt

        self.device = torch.device(device)
        if self.device.type != "cuda" or not torch.cuda.is_available():
            raise ValueError(f"tensorrt backend needs a CUDA device, got {self.device} "
                             f"(torch.cuda.is_available() = {torch.cuda.is_available()})")
        self.precision = precision or "fp16"
        cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        onnx_key = OnnxKey.for_network(network)
        onnx = cached_onnx(network, cache_dir, key=onnx_key, notes=self.selection)
        with torch.cuda.device(self.device):
            key = engine_key(onnx_key, self.precision, self.device)
            self.key = key
            folder = ensure_engines(onnx, key, cache_dir, notes=self.selection)
            self._trt_logger = trt.Logger(trt.Logger.WARNING)
            self._runtime = trt.Runtime(self._trt_logger)
            try:
                self._load(trt, folder)
            except EngineLoadError as e:
                folder = ensure_engines(onnx, key, cache_dir, force=f"cached engine unusable: {e}",
                                        notes=self.selection)
                self._load(trt, folder)
        self.folder = folder

    def _load(self, trt, folder: Path) -> None:
        self._frame = _EngineRunner(trt, self._runtime, folder / ENGINE_FILES[0], self.device, FRAME_INPUTS, FRAME_OUTPUTS)
        self._temporal = _EngineRunner(trt, self._runtime, folder / ENGINE_FILES[1], self.device,
                                       TEMPORAL_INPUTS, TEMPORAL_OUTPUTS)

    def frame(self, image: torch.Tensor) -> FrameOutputs:
        return self._frame_outputs(*self._frame(image.to(self.device, non_blocking=True)))

    def temporal(self, tokens: torch.Tensor, mask: torch.Tensor, centers: torch.Tensor) -> TemporalOutputs:
        return TemporalOutputs(*self._temporal(tokens.to(self.device), mask.to(self.device),
                                               centers.to(self.device, torch.float32)))

    def describe(self) -> str:
        return f"tensorrt ({self.device}, {self.precision}, TensorRT {self.key.trt_version})"
