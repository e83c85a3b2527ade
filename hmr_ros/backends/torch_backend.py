"""PyTorch backend: CPU FP32, or CUDA with FP16 autocast, channels_last convolutions and CUDA graphs.

Both graphs have static shapes, so on CUDA each is captured once into a ``torch.cuda.CUDAGraph`` and replayed per
frame: one launch instead of hundreds of kernel launches from Python. FP16 uses autocast (weights stay FP32 and
are cast per op; inside a graph that cost is paid once at capture). If capture fails (an op that cannot be
captured on this PyTorch/GPU), the backend runs eagerly and says why in ``selection``.
"""
from __future__ import annotations

import contextlib
import copy
import logging

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from hmr_ros.backends.base import Backend, FrameOutputs, TemporalOutputs

log = logging.getLogger("hmr_ros.backends")


def _as_outputs(values) -> list[torch.Tensor]:
    """Float outputs to float32 (FP16 autocast returns half), others (the bool mask) unchanged."""
    return [v.float() if v.is_floating_point() else v for v in values]


def fold_batch_norms(module: nn.Module) -> int:
    """Fold every BatchNorm2d that directly follows a Conv2d in an ``nn.Sequential`` into that convolution (eval
    statistics; the BatchNorm becomes an Identity), in place. Returns how many were folded. Inference only: the
    folded module no longer has the trained module's parameter names."""
    folded = 0
    for child in module.children():
        if isinstance(child, nn.Sequential):
            for i in range(len(child) - 1):
                if isinstance(child[i], nn.Conv2d) and isinstance(child[i + 1], nn.BatchNorm2d):
                    child[i] = fuse_conv_bn_eval(child[i], child[i + 1])
                    child[i + 1] = nn.Identity()
                    folded += 1
        folded += fold_batch_norms(child)
    return folded


class _CapturedGraph:
    """``fn(*inputs)`` captured into a CUDA graph over static input buffers shaped like ``examples``."""

    def __init__(self, fn, examples: list[torch.Tensor], warmup: int = 3):
        self.inputs = [x.clone() for x in examples]
        side = torch.cuda.Stream(device=self.inputs[0].device)
        side.wait_stream(torch.cuda.current_stream(self.inputs[0].device))
        with torch.cuda.stream(side):  # warm-up on a side stream, as capture requires (lazy inits, autotuning)
            for _ in range(warmup):
                fn(*self.inputs)
        torch.cuda.current_stream(self.inputs[0].device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.outputs = fn(*self.inputs)

    @torch.inference_mode()  # the static inputs are inference tensors: only writable in inference mode
    def __call__(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        for dst, src in zip(self.inputs, inputs):
            dst.copy_(src, non_blocking=True)
        self.graph.replay()
        # The next replay overwrites the static outputs: hand out copies.
        return [o.clone() for o in self.outputs]


@contextlib.contextmanager
def _ieee_float32():
    """float32 convolutions and matmuls in IEEE float32 for the duration (kernels are chosen, or captured, inside).

    cuDNN runs float32 convolutions in TF32 by default on Ampere and later (a 10-bit mantissa): on an H100 that put
    the "fp32" backend 11.7 mm (max vertex) from the CPU reference at input 512, an FP16-sized error. Precision
    "fp32" promises float32; "fp16" is the fast choice."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


class TorchBackend(Backend):
    """Run ``SIAM.frame_net``/``temporal_net`` with PyTorch.

    Args:
        network: the ``SIAM`` module (moved to ``device`` and put in eval mode).
        device: "cpu" or a CUDA device.
        precision: "fp32" or "fp16" (CUDA only); None = fp16 on CUDA, fp32 on CPU.
        cuda_graphs: capture both graphs on CUDA (ignored on CPU).
    """

    name = "torch"

    def __init__(self, network, device: str | torch.device = "cpu", precision: str | None = None,
                 cuda_graphs: bool = True):
        super().__init__(network.config.score_threshold)
        self.device = torch.device(device)
        cuda = self.device.type == "cuda"
        precision = precision or ("fp16" if cuda else "fp32")
        if precision not in ("fp32", "fp16"):
            raise ValueError(f"torch backend precision must be 'fp32' or 'fp16', got {precision!r}")
        if precision == "fp16" and not cuda:
            raise ValueError("torch backend: fp16 needs a CUDA device; use precision='fp32' on the CPU")
        if cuda and not torch.cuda.is_available():
            raise ValueError(f"torch backend: device {self.device} requested but CUDA is not available")
        self.precision = precision
        self.network = network.eval().to(self.device)
        self.cfg = network.config
        # What runs the frame graph. On the CPU a copy with the frame head's batch norms folded into its
        # convolutions: each BatchNorm is a full pass over a (D, S/4, S/4) map (~4 ms a frame for SIAM-M at 256 on
        # 2 cores). The network itself stays as trained (exports, checkpoints and training read its names).
        self.frame_net = network.frame_net
        if not cuda:
            self.frame_net = copy.deepcopy(network.frame_net).eval()
            fold_batch_norms(self.frame_net)
        self.graphs = False
        self._frame_graph = self._temporal_graph = None
        self.dynamic_slots = True  # eager PyTorch takes any K; a captured CUDA graph does not (set False there)
        if cuda:
            # The frame input is NHWC uint8; normalize() permutes it to NCHW with channels_last strides, so
            # channels_last weights keep every convolution in the layout cuDNN's tensor-core kernels prefer.
            self.network.frame_net.to(memory_format=torch.channels_last)
            if cuda_graphs:
                try:
                    self._capture()
                    self.graphs, self.dynamic_slots = True, False
                except RuntimeError as e:  # capture is an optimisation: fall back to eager, say why
                    self._frame_graph = self._temporal_graph = None
                    self.selection.append(f"torch: CUDA graph capture failed, running eagerly ({e})")
                    log.warning(self.selection[-1])

    def _autocast(self):
        if self.precision == "fp16":
            return torch.autocast("cuda", dtype=torch.float16, cache_enabled=False)
        return _ieee_float32() if self.device.type == "cuda" else contextlib.nullcontext()

    def _run_frame(self, image: torch.Tensor) -> list[torch.Tensor]:
        # detect, not forward: the threshold is applied after the (captured) graph, as the other backends do.
        with self._autocast():
            return _as_outputs(self.frame_net.detect(image))

    def _run_temporal(self, tokens: torch.Tensor, mask: torch.Tensor, centers: torch.Tensor) -> list[torch.Tensor]:
        # float32 at either precision: about 1 GFLOP against frame_net's 115 at S=512 (under 1 ms on an H200), and
        # under FP16 autocast the SMPL head's iterated 6D rotations drifted 85 mm (max vertex) from the reference.
        with (_ieee_float32() if self.device.type == "cuda" else contextlib.nullcontext()):
            return _as_outputs(self.network.temporal_net(tokens, mask, centers))

    def _capture(self) -> None:
        c, dev = self.cfg, self.device
        image = torch.zeros(1, c.input_size, c.input_size, 3, dtype=torch.uint8, device=dev)
        tokens = torch.zeros(1, c.window, c.max_people, c.dim, device=dev)
        mask = torch.ones(1, c.window, c.max_people, dtype=torch.bool, device=dev)
        centers = torch.zeros(1, c.window, c.max_people, 2, device=dev)
        with torch.inference_mode():
            self._frame_graph = _CapturedGraph(self._run_frame, [image])
            self._temporal_graph = _CapturedGraph(self._run_temporal, [tokens, mask, centers])

    # inference_mode here, not only in the Estimator: any caller (check-backends, a user's script) gets outputs
    # without autograd history, and the captured graphs' inference-tensor inputs stay writable.
    @torch.inference_mode()
    def frame(self, image: torch.Tensor) -> FrameOutputs:
        image = image.to(self.device, non_blocking=True)
        out = self._frame_graph(image) if self._frame_graph else self._run_frame(image)
        return self._frame_outputs(*out)

    @torch.inference_mode()
    def frame_batch(self, images: torch.Tensor) -> FrameOutputs:
        if images.shape[0] == 1:
            return self.frame(images)
        # one real batch, eagerly: the captured CUDA graph has a batch of one
        return self._frame_outputs(*self._run_frame(images.to(self.device, non_blocking=True)))

    @torch.inference_mode()
    def temporal(self, tokens: torch.Tensor, mask: torch.Tensor, centers: torch.Tensor) -> TemporalOutputs:
        inputs = (tokens.to(self.device), mask.to(self.device), centers.to(self.device, torch.float32))
        out = self._temporal_graph(*inputs) if self._temporal_graph else self._run_temporal(*inputs)
        return TemporalOutputs(*out)

    def describe(self) -> str:
        extra = ", channels_last, CUDA graphs" if self.graphs else (", channels_last" if self.device.type == "cuda" else "")
        return f"torch ({self.device}, {self.precision}{extra})"
