"""The one place where TensorRT 10.x, TensorRT 11.x and TensorRT for RTX differ.

The backend (``tensorrt_backend.py``) runs one code path for all three; this class holds every difference:

- **Import**: ``tensorrt`` (10.x/11.x; PyPI's wheels are download stubs that raise at import when the real
  libraries are not there) or ``tensorrt_rtx`` (TensorRT for RTX GPUs, real wheels on PyPI).
- **Network**: strongly typed everywhere, so a graph's precision is the ONNX graph's (``graph_precision.py``):
  TensorRT 11 and TensorRT-RTX build nothing else (``BuilderFlag.FP16`` is gone); 10.x is asked for it with
  ``NetworkDefinitionCreationFlag.STRONGLY_TYPED`` so its engines match.
- **Targets**: TensorRT-RTX compiles ahead of time for chosen compute capabilities (``ComputeCapability.SM86``,
  ...) on a machine with no GPU, and specialises kernels just in time on the user's GPU; TensorRT 10/11 build for
  the GPU they run on.
- **Kernel caches**: TensorRT 10/11 keep a timing cache at build time; TensorRT-RTX has none (its builder does
  not time kernels) and keeps a runtime cache of its JIT-compiled kernels instead, given to the execution context
  through an ``IRuntimeConfig``, which also turns on its whole-graph CUDA-graph capture.
- **Validity**: TensorRT-RTX (and TensorRT 10.x releases that have it) say from an engine's header whether it can
  run here (``Runtime.get_engine_validity``), so an engine for another GPU or version is rebuilt with a reason
  instead of failing inside deserialisation.
"""
from __future__ import annotations

import importlib
import os
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

FLAVOUR_CHOICES = ("auto", "tensorrt", "tensorrt_rtx")
MODULES = {"tensorrt": "tensorrt", "tensorrt_rtx": "tensorrt_rtx"}
LABELS = {"tensorrt": "TensorRT", "tensorrt_rtx": "TensorRT-RTX"}
#: TensorRT-RTX targets SIAM's graphs cannot be compiled for, and why (found by building them).
TARGET_LIMITS = {"sm75": "TensorRT-RTX compiles no FP32 matrix multiply for Turing (SM75), and SIAM keeps its "
                         "token, heatmap and SMPL-head math in FP32; use TensorRT 10 on Turing GPUs"}
_LOGGERS: dict[str, object] = {}


def _logger_class(trt):
    class Logger(trt.ILogger):
        """Forwards TensorRT's messages to Python logging and keeps the last errors, so a failed build can say
        what TensorRT said instead of "see the log above"."""

        def __init__(self):
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity, msg):
            import logging

            if int(severity) <= int(trt.ILogger.Severity.ERROR):
                self.errors = (self.errors + [msg])[-5:]
                logging.getLogger("hmr_ros.tensorrt").error(msg)
            elif severity == trt.ILogger.Severity.WARNING:
                logging.getLogger("hmr_ros.tensorrt").warning(msg)

    return Logger


def _import(flavour: str) -> tuple[types.ModuleType | None, str]:
    """(module, version) or (None, why it is not importable)."""
    try:
        module = importlib.import_module(MODULES[flavour])
    except Exception as e:  # ImportError, or a PyPI download stub raising at import
        return None, f"{MODULES[flavour]} is not importable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
    return module, str(getattr(module, "__version__", "?"))


def installed() -> dict[str, str]:
    """{flavour: version} of the TensorRTs that import here."""
    found = {}
    for flavour in MODULES:
        module, version = _import(flavour)
        if module is not None:
            found[flavour] = version
    return found


def describe_installed() -> str:
    """One line: what is installed, e.g. "TensorRT-RTX 1.7.1.116 installed; tensorrt not installed"."""
    found = installed()
    parts = [f"{LABELS[f]} {found[f]} installed" if f in found else f"{MODULES[f]} not installed" for f in MODULES]
    return "; ".join(parts)


def cuda_target(device=None) -> str | None:
    """"sm89" for the CUDA device torch sees (None without one)."""
    import torch

    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability(device)
    return f"sm{major}{minor}"


@dataclass(frozen=True)
class TensorRT:
    """One importable TensorRT and what differs about it."""

    flavour: str                 # "tensorrt" | "tensorrt_rtx"
    trt: types.ModuleType

    @property
    def version(self) -> str:
        return str(self.trt.__version__)

    @property
    def label(self) -> str:
        return f"{LABELS[self.flavour]} {self.version}"

    @property
    def rtx(self) -> bool:
        return self.flavour == "tensorrt_rtx"

    @property
    def logger(self):
        """One logger per process: TensorRT keeps the first one registered and warns about every other."""
        if self.flavour not in _LOGGERS:
            _LOGGERS[self.flavour] = _logger_class(self.trt)()
        return _LOGGERS[self.flavour]

    def aot_targets(self) -> tuple[str, ...]:
        """Compute capabilities this TensorRT builds for without a GPU (TensorRT-RTX), e.g. ("sm75", ..., "sm120");
        () for TensorRT 10/11, which build only for the GPU present."""
        if not self.rtx:
            return ()
        names = [n.lower() for n in self.trt.ComputeCapability.__members__ if n.startswith("SM")]
        return tuple(sorted(names, key=lambda t: int(t[2:])))

    def buildable_targets(self) -> tuple[str, ...]:
        """``aot_targets`` that SIAM's graphs compile for (``TARGET_LIMITS`` says why the others do not)."""
        return tuple(t for t in self.aot_targets() if t not in TARGET_LIMITS)

    def create_network(self, builder):
        flag = getattr(self.trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
        return builder.create_network(0 if flag is None else 1 << int(flag))

    def set_targets(self, config, targets: tuple[str, ...] | None) -> None:
        """Compile for ``targets`` ("sm86", ...) or, with None, for the GPU present."""
        if not self.rtx:
            if targets is not None:
                raise ValueError(f"{self.label} builds only for the GPU it runs on; compute capability targets "
                                 "(--target sm86,...) need TensorRT for RTX (pip install tensorrt-rtx)")
            return
        cc = self.trt.ComputeCapability
        chosen = [cc.CURRENT] if targets is None else [getattr(cc, t.upper()) for t in targets]
        config.num_compute_capabilities = len(chosen)
        for i, c in enumerate(chosen):
            config.set_compute_capability(c, i)

    @property
    def uses_timing_cache(self) -> bool:
        return not self.rtx  # TensorRT-RTX's builder times no kernels; its runtime cache is the equivalent

    def engine_problem(self, runtime, data: bytes) -> str | None:
        """Why the serialized engine ``data`` cannot run here, from its header (None = it can, or this TensorRT
        cannot tell before deserialising)."""
        if not hasattr(runtime, "get_engine_validity"):
            return None
        validity, diagnostics = runtime.get_engine_validity(data[:runtime.engine_header_size])
        if validity == self.trt.EngineValidity.INVALID:
            flags = [name for name, bit in self.trt.EngineInvalidityDiagnostics.__members__.items()
                     if diagnostics & int(bit)]
            return f"{self.label} says the engine cannot run here ({', '.join(flags) or 'no reason given'})"
        return None

    def execution_context(self, engine, runtime_cache: Path | None) -> tuple[object, Callable[[], None]]:
        """(context, save): an execution context, and a function that writes the runtime cache (a no-op for
        TensorRT 10/11)."""
        if not self.rtx:
            return engine.create_execution_context(), lambda: None
        config = engine.create_runtime_config()
        config.cuda_graph_strategy = self.trt.CudaGraphStrategy.WHOLE_GRAPH_CAPTURE
        cache = config.create_runtime_cache()
        if runtime_cache is not None and runtime_cache.is_file():
            # validated against this GPU, driver and TensorRT-RTX; a mismatch leaves the cache empty
            if not cache.deserialize(runtime_cache.read_bytes()):
                import logging

                logging.getLogger("hmr_ros.backends").info(
                    "runtime cache %s does not match this GPU/driver/TensorRT-RTX; compiling kernels afresh",
                    runtime_cache)
        config.set_runtime_cache(cache)
        context = engine.create_execution_context(config)

        def save() -> None:
            if runtime_cache is None:
                return
            runtime_cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = runtime_cache.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(memoryview(cache.serialize()))
            os.replace(tmp, runtime_cache)

        return context, save


def load(flavour: str = "auto", device=None) -> TensorRT:
    """The TensorRT to use. ``auto``: TensorRT-RTX when it is installed and either no GPU is present (only it
    builds without one) or the GPU is one of its targets; else TensorRT 10/11. Raises ValueError saying what is
    installed when the choice cannot be met."""
    if flavour not in FLAVOUR_CHOICES:
        raise ValueError(f"tensorrt flavour must be one of {FLAVOUR_CHOICES}, got {flavour!r}")
    if flavour != "auto":
        module, why = _import(flavour)
        if module is None:
            raise ValueError(f"{why}; {describe_installed()}")
        return TensorRT(flavour, module)
    rtx, _ = _import("tensorrt_rtx")
    if rtx is not None:
        here = cuda_target(device)
        chosen = TensorRT("tensorrt_rtx", rtx)
        if here is None or here in chosen.buildable_targets():
            return chosen
    regular, _ = _import("tensorrt")
    if regular is not None:
        return TensorRT("tensorrt", regular)
    if rtx is not None:
        here = cuda_target(device)
        raise ValueError(f"{chosen.label} is installed but cannot build for this GPU ({here}: "
                         f"{TARGET_LIMITS.get(here, 'not one of its targets')}), and tensorrt is not installed")
    raise ValueError(f"no TensorRT is importable ({describe_installed()}); `pip install tensorrt-rtx` for RTX GPUs")
