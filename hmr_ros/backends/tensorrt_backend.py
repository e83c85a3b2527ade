"""TensorRT backend for TensorRT 10.x/11.x and TensorRT for RTX: ONNX -> strongly typed engine (FP16 or FP32 as the
ONNX graph says), cached on disk, run with an execution context over torch CUDA tensors (``set_tensor_address`` +
``execute_async_v3``).

Engines are cached under an ``EngineKey`` (the ONNX key of the graph dtype + TensorRT flavour and version + target
compute capabilities + GPU name for TensorRT 10/11). A missing, corrupt or mismatched engine is rebuilt and the
reason logged; an engine that TensorRT says cannot run here (``get_engine_validity``) or refuses to deserialize is
rebuilt once too. TensorRT-RTX engines are built ahead of time on any machine (``python -m hmr_ros build-engine
--target sm86,sm89,sm120``); at run time an entry whose targets include this GPU's is used. What differs between the
TensorRTs is in ``tensorrt_flavour.py``.

TensorRT is imported lazily: this module imports (and its cache logic runs) where no TensorRT is installed.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Callable

import torch

from hmr_ros.backends.base import Backend, FrameOutputs, TemporalOutputs
from hmr_ros.backends.engine_cache import (ENGINE_FILES, KEY_FILE, EngineKey, OnnxKey, check_entry, default_cache_dir,
                                           entry_dir, key_dict, touch_entry, write_entry)
from hmr_ros.backends.onnx_backend import cached_onnx
from hmr_ros.backends.export import FRAME_INPUTS, FRAME_OUTPUTS, TEMPORAL_INPUTS, TEMPORAL_OUTPUTS, ExportResult
from hmr_ros.backends.tensorrt_flavour import TARGET_LIMITS, TensorRT, cuda_target, load

log = logging.getLogger("hmr_ros.backends")
WORKSPACE_GIB = 4          # builder scratch memory limit; SIAM needs far less, TensorRT uses what helps
PROGRESS_EVERY_S = 10.0    # at most one progress line per phase this often
BUILD_FILE = "build.json"  # per engine: the network's I/O as TensorRT parsed it, build seconds, bytes
ENTRY_FILES = ENGINE_FILES + (BUILD_FILE,)


def tensorrt_available(flavour: str = "auto") -> tuple[bool, str]:
    """(True, "TensorRT-RTX 1.7.1.116") when a TensorRT imports, else (False, why, with what is installed)."""
    try:
        return True, load(flavour).label
    except ValueError as e:
        return False, str(e)


def engine_key(onnx_key: OnnxKey, trt: TensorRT, targets: tuple[str, ...] | None = None,
               device: str | torch.device | None = None) -> EngineKey:
    """The cache key of engines for ``onnx_key`` built by ``trt`` for ``targets`` ("sm86", ...; TensorRT-RTX
    only), or, with None, for the CUDA GPU ``device``."""
    if targets is None:
        here = cuda_target(device)
        if here is None:
            raise ValueError(f"{trt.label}: no CUDA GPU here to build for (torch.cuda.is_available() is False)"
                             + ("; name compute capabilities instead, e.g. --target sm86,sm89,sm120" if trt.rtx else ""))
        gpu = "" if trt.rtx else torch.cuda.get_device_name(device)
        return EngineKey(onnx=onnx_key, flavour=trt.flavour, trt_version=trt.version, targets=(here,), gpu_name=gpu)
    if not trt.rtx:
        raise ValueError(f"{trt.label} builds only for the GPU it runs on; compute capability targets need "
                         "TensorRT for RTX (pip install tensorrt-rtx)")
    limited = [f"{t}: {TARGET_LIMITS[t]}" for t in targets if t in TARGET_LIMITS]
    if limited:
        raise ValueError(f"cannot build SIAM for {'; '.join(limited)}")
    unknown = [t for t in targets if t not in trt.aot_targets()]
    if unknown:
        raise ValueError(f"unknown target(s) {', '.join(unknown)}: {trt.label} builds for "
                         f"{', '.join(trt.buildable_targets())}")
    return EngineKey(onnx=onnx_key, flavour=trt.flavour, trt_version=trt.version, targets=tuple(targets))


def timing_cache_path(cache_dir: str | os.PathLike, key: EngineKey) -> Path:
    """TensorRT 10/11: one timing cache per GPU model and TensorRT version, shared by every network built there."""
    gpu = re.sub(r"[^a-z0-9]+", "-", key.gpu_name.lower()).strip("-")
    return Path(cache_dir) / "tensorrt" / f"timing-{gpu}-{'-'.join(key.targets)}-trt{key.trt_version}.cache"


def runtime_cache_path(folder: Path, engine: str, device: str | torch.device | None = None) -> Path:
    """TensorRT-RTX: the runtime cache (the kernels it compiled just in time) of one engine of the entry
    ``folder`` on this GPU model, beside the engine: it lives and dies with the engine it was compiled for."""
    gpu = re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(device).lower()).strip("-")
    return folder / f"{Path(engine).stem}.runtime-{gpu}-{cuda_target(device)}.cache"


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


def network_io(network) -> list[dict]:
    """The parsed network's inputs and outputs: [{"name", "io", "shape", "dtype"}] (dtype as TensorRT names it)."""
    tensors = [("input", network.get_input(i)) for i in range(network.num_inputs)]
    tensors += [("output", network.get_output(i)) for i in range(network.num_outputs)]
    return [{"name": t.name, "io": io, "shape": list(t.shape), "dtype": t.dtype.name} for io, t in tensors]


def build_engine(trt: TensorRT, onnx_path: str | os.PathLike, engine_path: str | os.PathLike,
                 targets: tuple[str, ...] | None, timing_cache: str | os.PathLike | None = None,
                 say: Callable[[str], None] = log.info) -> dict:
    """Build one serialized engine from an ONNX file with static shapes; returns what ``build.json`` records.

    The network is strongly typed: its precision is the ONNX graph's. ``targets`` (TensorRT-RTX) are the compute
    capabilities to compile for; None builds for the GPU present. TensorRT 10/11 read the timing cache if present
    and rewrite it afterwards, so later builds on the same GPU skip most kernel timing.
    """
    t = trt.trt
    logger = trt.logger
    builder = t.Builder(logger)
    network = trt.create_network(builder)
    parser = t.OnnxParser(network, logger)
    logger.errors = []
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ValueError(f"{trt.label} could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(t.MemoryPoolType.WORKSPACE, WORKSPACE_GIB << 30)
    trt.set_targets(config, targets)
    cache_file = Path(timing_cache) if timing_cache and trt.uses_timing_cache else None
    if cache_file:
        cache = config.create_timing_cache(cache_file.read_bytes() if cache_file.is_file() else b"")
        if not config.set_timing_cache(cache, ignore_mismatch=False):
            say(f"timing cache {cache_file} does not match this GPU/TensorRT; starting an empty one")
            config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)
    monitor = _progress_monitor(t, say)
    config.progress_monitor = monitor
    t0 = time.monotonic()
    where = "+".join(targets) if targets else "this GPU"
    say(f"building {Path(engine_path).name} for {where} with {trt.label} from {onnx_path}")
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        said = " | ".join(logger.errors) or "no error message (see the TensorRT log)"
        raise RuntimeError(f"{trt.label} failed to build an engine from {onnx_path}: {said}")
    Path(engine_path).write_bytes(memoryview(serialized))
    if cache_file:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(memoryview(config.get_timing_cache().serialize()))
        os.replace(tmp, cache_file)
    seconds, size = time.monotonic() - t0, Path(engine_path).stat().st_size
    say(f"built {engine_path} in {seconds:.1f} s ({size / 2**20:.1f} MiB)")
    return {"io": network_io(network), "build_seconds": round(seconds, 2), "bytes": size}


def _covering_entry(cache_dir: str | os.PathLike, key: EngineKey) -> tuple[Path, EngineKey] | None:
    """A valid cached entry like ``key`` but for more targets (``build-engine --target sm86,sm89,sm120`` made it)
    that include ``key``'s; None when there is none."""
    want = {**key_dict(key), "targets": None}
    for meta in sorted((Path(cache_dir) / "tensorrt").glob(f"*/{KEY_FILE}")):
        try:
            cached = json.loads(meta.read_text())["key"]
            targets = tuple(cached["targets"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if {**cached, "targets": None} == want and set(key.targets) <= set(targets):
            wider = dataclasses.replace(key, targets=targets)
            if check_entry(meta.parent, wider, ENTRY_FILES).valid:
                return meta.parent, wider
    return None


def ensure_engines(onnx: ExportResult, key: EngineKey, trt: TensorRT, cache_dir: str | os.PathLike,
                   force: str | None = None, notes: list[str] | None = None,
                   say: Callable[[str], None] = log.info) -> tuple[Path, EngineKey]:
    """(folder holding ``frame_net.engine``, ``temporal_net.engine`` and ``build.json``, its key) for ``key``:
    the exact entry, else a valid entry for more targets that include ``key``'s, else a new build (when the entry
    is missing, corrupt or mismatched, or ``force`` gives a reason); the reason is said and appended to
    ``notes``."""
    folder = entry_dir(cache_dir, "tensorrt", key)
    check = check_entry(folder, key, ENTRY_FILES)
    if check.valid and not force:
        touch_entry(folder)
        return folder, key
    covering = None if force else _covering_entry(cache_dir, key)
    if covering is not None:
        touch_entry(covering[0])
        return covering
    reason = force or check.reason
    where = key.gpu_name or "+".join(key.targets)
    msg = f"building TensorRT engines ({key.precision}, {where}, {trt.label}): {reason}"
    say(msg)
    if notes is not None:
        notes.append(msg)
    timing = timing_cache_path(cache_dir, key) if trt.uses_timing_cache else None
    targets = key.targets if trt.rtx else None

    def produce(tmp: Path) -> None:
        record = {}
        for src, name in zip((onnx.frame_net, onnx.temporal_net), ENGINE_FILES):
            record[name] = build_engine(trt, src, tmp / name, targets, timing, say)
        (tmp / BUILD_FILE).write_text(json.dumps(record, indent=2))

    return write_entry(folder, key, produce, ENTRY_FILES), key


class EngineLoadError(RuntimeError):
    """TensorRT refused a serialized engine, or its tensors are not the ones SIAM's graphs have."""


class _EngineRunner:
    """One deserialized engine, its execution context and static torch CUDA I/O buffers."""

    def __init__(self, trt: TensorRT, runtime, path: Path, device: torch.device, inputs: list[str],
                 outputs: list[str], runtime_cache: Path | None = None):
        t = trt.trt
        torch_dtype = {t.DataType.FLOAT: torch.float32, t.DataType.HALF: torch.float16,
                       t.DataType.INT32: torch.int32, t.DataType.INT64: torch.int64,
                       t.DataType.BOOL: torch.bool, t.DataType.UINT8: torch.uint8, t.DataType.INT8: torch.int8}
        self.device = device
        data = path.read_bytes()
        problem = trt.engine_problem(runtime, data)
        if problem:
            raise EngineLoadError(f"{path}: {problem}")
        self.engine = runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            raise EngineLoadError(f"{trt.label} could not deserialize {path}")
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        if sorted(names) != sorted(inputs + outputs):
            raise EngineLoadError(f"{path} has tensors {names}, expected {inputs + outputs}")
        self.context, self._save_cache = trt.execution_context(self.engine, runtime_cache)
        self.buffers: dict[str, torch.Tensor] = {}
        for name in names:
            shape = tuple(self.engine.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                raise EngineLoadError(f"{path}: tensor {name} has a dynamic shape {shape}; engines must be static")
            buf = torch.empty(shape, dtype=torch_dtype[self.engine.get_tensor_dtype(name)], device=device)
            self.context.set_tensor_address(name, buf.data_ptr())
            self.buffers[name] = buf
        self.inputs, self.outputs = inputs, outputs
        self.calls = 0

    def __call__(self, *values: torch.Tensor) -> list[torch.Tensor]:
        for name, value in zip(self.inputs, values):
            buf = self.buffers[name]
            if tuple(value.shape) != tuple(buf.shape):
                raise ValueError(f"TensorRT input {name}: expected shape {tuple(buf.shape)}, got {tuple(value.shape)}")
            buf.copy_(value, non_blocking=True)  # also casts (e.g. float32 tokens into a half input)
        stream = torch.cuda.current_stream(self.device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed (see the TensorRT log)")
        self.calls += 1
        if self.calls == 1:
            # TensorRT-RTX has compiled its kernels by the end of the first run: keep them for the next start
            stream.synchronize()
            self._save_cache()
        # Copies on the same stream: ordered after the engine, and safe from the next call's writes.
        out = [self.buffers[n] for n in self.outputs]
        return [b.float() if b.dtype == torch.float16 else b.clone() for b in out]


class TensorRTBackend(Backend):
    """SIAM's graphs as TensorRT engines on one CUDA device.

    Args:
        network: the ``SIAM`` module (exported to ONNX once; then only its config and weights hash are used).
        device: a CUDA device.
        precision: "fp16" (default; the FP16 ONNX graph) or "fp32".
        cache_dir: root of the ONNX/engine cache (default ``~/.cache/hmr_ros``).
        flavour: "auto" | "tensorrt" | "tensorrt_rtx" (``tensorrt_flavour.load``).
    """

    name = "tensorrt"

    def __init__(self, network, device: str | torch.device = "cuda", precision: str | None = None,
                 cache_dir: str | os.PathLike | None = None, flavour: str = "auto"):
        super().__init__(network.config.score_threshold)
        self.device = torch.device(device)
        if self.device.type != "cuda" or not torch.cuda.is_available():
            raise ValueError(f"tensorrt backend needs a CUDA device, got {self.device} "
                             f"(torch.cuda.is_available() = {torch.cuda.is_available()})")
        try:
            trt = load(flavour, self.device)
        except ValueError as e:
            raise ValueError(f"tensorrt backend: {e}") from None
        self.trt = trt
        self.precision = precision or "fp16"
        cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        onnx_key = OnnxKey.for_network(network, dtype=self.precision)
        onnx = cached_onnx(network, cache_dir, key=onnx_key, notes=self.selection)
        with torch.cuda.device(self.device):
            key = engine_key(onnx_key, trt, device=self.device)
            folder, self.key = ensure_engines(onnx, key, trt, cache_dir, notes=self.selection)
            self._runtime = trt.trt.Runtime(trt.logger)
            try:
                self._load(folder)
            except EngineLoadError as e:
                folder, self.key = ensure_engines(onnx, key, trt, cache_dir, force=f"cached engine unusable: {e}",
                                                  notes=self.selection)
                self._load(folder)
        self.folder = folder

    def _load(self, folder: Path) -> None:
        def runner(engine: str, inputs: list[str], outputs: list[str]) -> _EngineRunner:
            cache = runtime_cache_path(folder, engine, self.device) if self.trt.rtx else None
            return _EngineRunner(self.trt, self._runtime, folder / engine, self.device, inputs, outputs, cache)

        self._frame = runner(ENGINE_FILES[0], FRAME_INPUTS, FRAME_OUTPUTS)
        self._temporal = runner(ENGINE_FILES[1], TEMPORAL_INPUTS, TEMPORAL_OUTPUTS)

    def frame(self, image: torch.Tensor) -> FrameOutputs:
        return self._frame_outputs(*self._frame(image.to(self.device, non_blocking=True)))

    def temporal(self, tokens: torch.Tensor, mask: torch.Tensor, centers: torch.Tensor) -> TemporalOutputs:
        return TemporalOutputs(*self._temporal(tokens.to(self.device), mask.to(self.device),
                                               centers.to(self.device, torch.float32)))

    def describe(self) -> str:
        return (f"tensorrt ({self.device}, {self.precision}, {self.trt.label}, engines for "
                f"{'+'.join(self.key.targets)})")
