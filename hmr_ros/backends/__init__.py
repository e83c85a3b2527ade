"""Inference backends for SIAM's two graphs, and the factory that picks one.

    backend = create_backend("auto", network, device="auto", cache_dir=None)
    backend.frame(image) / backend.temporal(tokens, mask, centers)    # see base.Backend
    backend.describe(), backend.selection                    # what runs, and why it was chosen

``auto`` tries tensorrt > torch-cuda > onnxruntime > torch-cpu and keeps one line per skipped candidate in
``backend.selection`` (logged, and shown by the node's diagnostics).
"""
from __future__ import annotations

import logging
import os

import torch

from hmr_ros.backends.base import BACKEND_NAMES, Backend, FrameOutputs, TemporalOutputs  # noqa: F401

log = logging.getLogger("hmr_ros.backends")
PRECISION_CHOICES = ("auto", "fp16", "fp32")
#: auto's order of preference: (backend, device kind).
AUTO_ORDER = (("tensorrt", "cuda"), ("torch", "cuda"), ("onnxruntime", "cpu"), ("torch", "cpu"))


def resolve_device(device: str | torch.device) -> torch.device:
    """"auto" -> cuda when torch sees a GPU, else cpu; anything else is parsed by torch (ValueError if invalid)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from e
    if resolved.type == "cuda":
        # asked for by name, so failing beats a silent CPU run; say why in one line rather than torch's assertion
        if not torch.cuda.is_available():
            why = "this torch is a CPU build" if torch.version.cuda is None else "no usable GPU/driver was found"
            raise ValueError(f"device {str(device)!r}: CUDA is not available ({why}; torch {torch.__version__}); "
                             "use device 'cpu' or 'auto'")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(device)!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    return resolved


def _precision(precision: str, cuda: bool) -> str:
    if precision not in PRECISION_CHOICES:
        raise ValueError(f"precision must be one of {PRECISION_CHOICES}, got {precision!r}")
    return ("fp16" if cuda else "fp32") if precision == "auto" else precision


def _build(name: str, network, device: torch.device, precision: str, cache_dir, flavour: str = "auto") -> Backend:
    cuda = device.type == "cuda"
    if name == "torch":
        from hmr_ros.backends.torch_backend import TorchBackend

        return TorchBackend(network, device, _precision(precision, cuda))
    if name == "onnxruntime":
        from hmr_ros.backends.onnx_backend import OnnxRuntimeBackend

        precision = _precision(precision, False)
        # on the CPU the temporal network runs in PyTorch on the occupied slots only (OnnxRuntimeBackend: temporal)
        temporal = "torch" if device.type == "cpu" and precision == "fp32" else "onnxruntime"
        return OnnxRuntimeBackend(network, device, cache_dir, precision=precision, temporal=temporal)
    if name == "tensorrt":
        from hmr_ros.backends.tensorrt_backend import TensorRTBackend

        return TensorRTBackend(network, device, _precision(precision, True), cache_dir, flavour)
    raise ValueError(f"backend must be one of {BACKEND_NAMES}, got {name!r}")


def skip_reason(name: str, kind: str, device: torch.device, tensorrt_flavour: str = "auto") -> str | None:
    """Why auto cannot use ``name`` on a ``kind`` device given the requested ``device`` (None = try it)."""
    if kind == "cuda":
        if not torch.cuda.is_available():
            what = ""
            if name == "tensorrt":
                from hmr_ros.backends.tensorrt_flavour import describe_installed

                what = f"{describe_installed()}; "
            return f"{name}-cuda skipped: {what}no CUDA GPU to run on (torch.cuda.is_available() is False)"
        if device.type != "cuda":
            return f"{name}-cuda skipped: device {device} was requested"
    if name == "tensorrt":
        from hmr_ros.backends.tensorrt_backend import tensorrt_available

        ok, why = tensorrt_available(tensorrt_flavour)
        if not ok:
            return f"tensorrt skipped: {why}"
    if name == "onnxruntime":
        from hmr_ros.backends.onnx_backend import onnxruntime_available

        ok, why = onnxruntime_available()
        if not ok:
            return f"onnxruntime skipped: {why}"
    return None


def create_backend(name: str, network, device: str | torch.device = "auto", precision: str = "auto",
                   cache_dir: str | os.PathLike | None = None, tensorrt_flavour: str = "auto") -> Backend:
    """Build the backend ``name`` ("auto" | "tensorrt" | "torch" | "onnxruntime") for a ``SIAM`` network.

    Args:
        device: "auto" (CUDA if available), "cpu", "cuda", "cuda:N". For "auto" selection it limits the
            candidates: a CPU device skips the CUDA ones.
        precision: "auto" (fp16 on CUDA, fp32 on CPU), "fp16" or "fp32".
        cache_dir: root of the ONNX export / TensorRT engine cache (default ``~/.cache/hmr_ros``).
        tensorrt_flavour: "auto" | "tensorrt" | "tensorrt_rtx" (``backends/tensorrt_flavour.py``).

    An explicitly named backend that cannot run raises ``ValueError`` saying why; ``auto`` moves on to the next
    candidate and records the reason in ``backend.selection``.
    """
    device = resolve_device(device)
    if name != "auto":
        backend = _build(name, network, device, precision, cache_dir, tensorrt_flavour)
        backend.selection.insert(0, f"{name} requested")
        return backend
    reasons: list[str] = []
    for cand, kind in AUTO_ORDER:
        why = skip_reason(cand, kind, device, tensorrt_flavour)
        if why is None:
            target = device if kind == "cuda" else torch.device("cpu") if cand == "torch" else device
            try:
                backend = _build(cand, network, target, precision if kind == "cuda" else "auto", cache_dir,
                                 tensorrt_flavour)
            except Exception as e:  # a candidate that fails to start must not stop the fallback chain
                why = f"{cand}-{kind} skipped: failed to start ({type(e).__name__}: {e})"
        if why is not None:
            log.info("backend auto: %s", why)
            reasons.append(why)
            continue
        chosen = f"auto chose {backend.describe()}"
        log.info("backend %s", chosen)
        backend.selection[:0] = reasons + [chosen]
        return backend
    raise RuntimeError("no backend could start: " + "; ".join(reasons))
