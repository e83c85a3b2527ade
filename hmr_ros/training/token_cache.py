"""The temporal stage: train SIA + FD + SMPL head on frame tokens that a frozen frame network computed once.

Why a stage of its own: on this project's 2-core CPU a frame-network forward + backward costs ~1.4 s per step of
2 clips x 4 frames, so a full run sees a few thousand short windows, and the temporal attention never learned to use
the other frames (the first shipped weights give the same output for T = 1 and T = 9). Seen from one frame, a
flat-shaded walker at 128 px is nearly the same facing left or right; the frames before it say which way they move.
With the frame network frozen its tokens at the ground-truth centres are fixed numbers (teacher forcing: the same
``tokens_at`` the detector gathers with), so they are computed once per clip and the temporal network trains on them
for as many steps as it needs, at ~1/50 of the cost.

Data: clip ``i`` is ``make_clip`` of ``CLIP_FRAMES`` frames drawn from ``SeedSequence([seed, CACHE_TAG, i])`` exactly
as :class:`hmr_ros.training.dataset.SyntheticClipDataset` draws its clips (size, people, frame rate, crop); every
window of T consecutive frames of it becomes one sample (:class:`TokenWindows`) with the targets of its output frame.
Parts of ``PART_CLIPS`` clips are written as safetensors (no pickle) with the frame network's checksum, so an
interrupted cache build continues and a cache made by other weights is refused.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from hmr_ros.model.siam import SIAM, SIAMConfig
from hmr_ros.clips import Clip
from hmr_ros.sim.clips import make_clip
from hmr_ros.smpl.body_model import BodyModel, load_body_model
from hmr_ros.training.dataset import clip_sample, collate
from hmr_ros.clips import random_crop
from hmr_ros.training.losses import LOSS_TERMS, ClipBatch, LossWeights, temporal_losses

__all__ = ["CACHE_FORMAT", "CLIP_FRAMES", "PART_CLIPS", "TokenWindows", "clip_windows", "frame_net_digest",
           "build_cache", "load_cache", "train_temporal"]

CACHE_FORMAT = "hmr_ros.token_cache.v1"
#: Frames rendered per clip; a clip gives CLIP_FRAMES - T + 1 windows.
CLIP_FRAMES = 16
#: Clips per cache file.
PART_CLIPS = 50
#: Separates the cache's clip seeds from the training stream's SeedSequence([seed, i]).
CACHE_TAG = 0x70C3


@dataclass
class TokenWindows:
    """N windows of T frames: frozen frame tokens and the targets of each window's output frame.

    tokens (N, T, K, D) float16; mask (N, T, K) bool; rotmats (N, K, 24, 3, 3), betas (N, K, nb), cam (N, K, 3)
    float32 (output frame); centers (N, T, K, 2) letterbox px; joints (N, T, K, 24, 3) metres, camera optical frame
    (zeros where absent); K_cam (N, 3, 3); letterbox (N, T, 5) (see :class:`hmr_ros.training.losses.ClipBatch`).
    """

    tokens: torch.Tensor
    mask: torch.Tensor
    rotmats: torch.Tensor
    betas: torch.Tensor
    cam: torch.Tensor
    centers: torch.Tensor
    joints: torch.Tensor
    K_cam: torch.Tensor
    letterbox: torch.Tensor

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    @staticmethod
    def cat(parts: Sequence["TokenWindows"]) -> "TokenWindows":
        return TokenWindows(*(torch.cat([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(TokenWindows)))

    def batch(self, idx: torch.Tensor, input_size: int) -> tuple[torch.Tensor, ClipBatch]:
        """Windows ``idx`` as float32 tokens (B, T, K, D) and a ClipBatch for :func:`temporal_losses`.

        The batch carries no pixels: its ``images`` is a zero-stride view of the right shape (B, T, S, S, 3) because
        the losses read S from it; heatmaps and index are unused by the temporal terms."""
        b = int(idx.numel())
        t, k = self.mask.shape[1:]
        images = torch.zeros((), dtype=torch.uint8).expand(b, t, input_size, input_size, 3)
        empty = torch.zeros(b, t, k, dtype=torch.int64)
        return self.tokens[idx].float(), ClipBatch(
            images, empty, empty, self.mask[idx], self.rotmats[idx], self.betas[idx], self.cam[idx],
            self.centers[idx], self.joints[idx], self.K_cam[idx], self.letterbox[idx])


def frame_net_digest(model: SIAM) -> str:
    """SHA-256 (16 hex digits) of the frame network's weights: which tokens a cache holds."""
    h = hashlib.sha256()
    for name, value in sorted(model.frame_net.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def clip_windows(model: SIAM, clip: Clip, cfg: SIAMConfig, amp: bool = True) -> TokenWindows:
    """Every window of ``cfg.window`` consecutive frames of ``clip``, with the frozen frame network's tokens.

    The frame network runs once per frame (bf16 autocast when ``amp``); each window's targets come from
    :func:`clip_sample` on its frames, so they are the training targets of the full stage exactly.
    """
    n, t = len(clip.frames), cfg.window
    if n < t:
        raise ValueError(f"clip_windows: the clip has {n} frames, the window needs {t}")
    full = clip_sample(clip, dataclasses.replace(cfg, window=n, max_window=max(n, cfg.max_window)))
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        fused, _ = model.frame_net.features(full.images)
        tokens, _ = model.frame_net.head.tokens_at(fused, full.index)                # (F, K, D)
    tokens = tokens.to(torch.float16)
    starts = range(n - t + 1)
    batch = collate([clip_sample(dataclasses.replace(clip, frames=clip.frames[s:s + t]), cfg) for s in starts])
    return TokenWindows(torch.stack([tokens[s:s + t] for s in starts]), batch.mask, batch.rotmats, batch.betas,
                        batch.cam, batch.centers, batch.joints, batch.K_cam, batch.letterbox)


class _Clips(IterableDataset):
    """Clips ``first .. last - 1`` of the cache stream (rendered in DataLoader workers)."""

    def __init__(self, cfg: SIAMConfig, seed: int, first: int, last: int, image_sizes, zoom, fps_range,
                 max_people: int):
        super().__init__()
        self.cfg, self.seed, self.first, self.last = cfg, seed, first, last
        self.image_sizes, self.zoom, self.fps_range, self.max_people = image_sizes, zoom, fps_range, max_people
        self._body: BodyModel | None = None

    def clip(self, i: int) -> Clip:
        if self._body is None:
            self._body = load_body_model("procedural")
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, CACHE_TAG, int(i)]))
        width, height = self.image_sizes[rng.integers(len(self.image_sizes))]
        clip = make_clip(num_frames=CLIP_FRAMES, width=width, height=height,
                         num_people=int(rng.integers(1, self.max_people + 1)),
                         fps=float(rng.uniform(*self.fps_range)), seed=int(rng.integers(2 ** 31)), body_model=self._body)
        return random_crop(clip, rng, self.zoom)

    def __iter__(self) -> Iterator[Clip]:
        info = get_worker_info()
        w, n = (info.id, info.num_workers) if info is not None else (0, 1)
        torch.set_num_threads(1)
        for i in range(self.first + w, self.last, n):
            yield self.clip(i)


def build_cache(model: SIAM, cfg: SIAMConfig, directory: str | Path, clips: int, seed: int = 0, *, workers: int = 1,
                image_sizes: Sequence[tuple[int, int]] = ((320, 240), (240, 320), (320, 180)),
                zoom: tuple[float, float] = (0.7, 1.0), fps_range: tuple[float, float] = (10.0, 30.0),
                max_people: int | None = None, amp: bool = True, log: Callable[[str], None] = print) -> list[Path]:
    """Write the token cache of ``clips`` clips to ``directory/part_NNNNN.safetensors``; parts already there and made
    by the same frame network, window, seed and data settings are kept. Returns every part's path.

    Raises ValueError when a part there was made otherwise: rebuilding it in place would mix two caches (and
    silently spend the build time again); use another directory."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    digest = frame_net_digest(model)
    people = cfg.max_people if max_people is None else int(max_people)
    meta = {"format": CACHE_FORMAT, "frame_net": digest, "window": str(cfg.window), "input_size": str(cfg.input_size),
            "seed": str(seed), "image_sizes": json.dumps([list(s) for s in image_sizes]), "zoom": json.dumps(zoom),
            "fps_range": json.dumps(fps_range), "max_people": str(people), "clip_frames": str(CLIP_FRAMES)}
    model.eval()
    paths = []
    for part in range(math.ceil(clips / PART_CLIPS)):
        path = directory / f"part_{part:05d}.safetensors"
        first, last = part * PART_CLIPS, min(clips, (part + 1) * PART_CLIPS)
        paths.append(path)
        if path.is_file():
            found = _part_meta(path)
            if found == {**meta, "first": str(first), "last": str(last)}:
                continue
            differ = sorted(k for k in set(found) | set(meta) if k in meta and found.get(k) != meta[k])
            raise ValueError(f"{path} was built with other settings ({', '.join(differ) or 'clip range'}: "
                             f"{', '.join(f'{k}={found.get(k)!r}' for k in differ)}); give another cache directory")
        t0 = time.perf_counter()
        data = _Clips(cfg, seed, first, last, list(image_sizes), zoom, fps_range, people)
        loader = DataLoader(data, batch_size=None, num_workers=workers, persistent_workers=False)
        windows = TokenWindows.cat([clip_windows(model, clip, cfg, amp) for clip in loader])
        tensors = {f.name: getattr(windows, f.name).contiguous() for f in dataclasses.fields(TokenWindows)}
        tmp = path.with_name(path.name + ".tmp")
        save_file(tensors, str(tmp), metadata={**meta, "first": str(first), "last": str(last)})
        tmp.replace(path)
        log(f"token cache: clips {first}-{last - 1} -> {path.name} ({len(windows)} windows, "
            f"{time.perf_counter() - t0:.0f} s)")
    return paths


def _part_meta(path: Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def load_cache(directory: str | Path, model: SIAM | None = None) -> TokenWindows:
    """Every part of a cache directory; with ``model``, refuse parts its frame network did not make."""
    from safetensors.torch import load_file

    paths = sorted(Path(directory).glob("part_*.safetensors"))
    if not paths:
        raise FileNotFoundError(f"no token cache parts (part_*.safetensors) in {directory}")
    digest = frame_net_digest(model) if model is not None else None
    parts = []
    for path in paths:
        meta = _part_meta(path)
        if meta.get("format") != CACHE_FORMAT:
            raise ValueError(f"{path}: not a token cache part (format {meta.get('format')!r})")
        if digest is not None and meta.get("frame_net") != digest:
            raise ValueError(f"{path}: made by another frame network ({meta.get('frame_net')}, this one is {digest}); "
                             "rebuild the cache for these weights")
        parts.append(TokenWindows(**load_file(str(path))))
    return TokenWindows.cat(parts)


def train_temporal(model: SIAM, windows: TokenWindows, steps: int, batch_size: int = 64, lr: float = 5e-4,
                   seed: int = 0, weights: LossWeights | dict | None = None, lead_drop: float = 0.3,
                   weight_decay: float = 1e-4, grad_clip: float = 1.0, amp: bool = True, log_every: int = 100,
                   log: Callable[[str], None] = print, on_log: Callable[[int, dict], None] | None = None) -> list[dict]:
    """Train ``model.temporal_net`` (the frame network stays frozen) on cached windows; returns the loss history.

    Each step draws ``batch_size`` windows; with probability ``lead_drop`` a window loses its first 1..T-1 frames
    (masked, tokens zeroed), as the frame buffer presents a stream that has not filled the window yet. AdamW with
    the full stage's warm-up + cosine schedule; bf16 autocast with geometry in float32 (``output_losses``).
    """
    from hmr_ros.training.loop import lr_factor

    if steps < 1 or batch_size < 1 or not lr > 0 or len(windows) == 0:
        raise ValueError(f"train_temporal: need steps >= 1, batch_size >= 1, lr > 0 and windows; got steps={steps}, "
                         f"batch_size={batch_size}, lr={lr}, {len(windows)} windows")
    w = LossWeights.from_mapping(weights)
    gen = torch.Generator().manual_seed(seed)
    for p in model.frame_net.parameters():
        p.requires_grad_(False)
    model.frame_net.eval()
    model.temporal_net.train()
    params = list(model.temporal_net.parameters())
    opt = torch.optim.AdamW([{"params": [p for p in params if p.ndim > 1], "weight_decay": weight_decay},
                             {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}], lr=lr)
    warmup = max(1, min(200, steps // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: lr_factor(i, steps, warmup))
    t = windows.mask.shape[1]
    history, t0 = [], time.perf_counter()
    for step in range(steps):
        idx = torch.randint(len(windows), (batch_size,), generator=gen)
        tokens, batch = windows.batch(idx, model.config.input_size)
        drop = torch.randint(1, t, (batch_size,), generator=gen) * (torch.rand(batch_size, generator=gen) < lead_drop)
        keep = torch.arange(t)[None] >= drop[:, None]                                 # (B, T)
        batch.mask = batch.mask & keep[..., None]
        tokens = tokens * keep[..., None, None]
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            losses = temporal_losses(model, tokens, batch.centers, batch, w)
        total = sum(losses[name] for name in LOSS_TERMS if name in losses)
        if not torch.isfinite(total):
            raise FloatingPointError(f"train_temporal: non-finite loss at step {step}")
        total.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
        opt.step()
        sched.step()
        history.append({**{k: float(v.detach()) for k, v in losses.items()}, "total": float(total.detach())})
        if log_every and ((step + 1) % log_every == 0 or step + 1 == steps):
            recent = history[-log_every:]
            means = {k: sum(h[k] for h in recent) / len(recent) for k in recent[0]}
            elapsed = time.perf_counter() - t0
            log(f"step {step + 1}/{steps}  " + "  ".join(f"{k} {v:.4f}" for k, v in means.items() if v)
                + f"  | {1e3 * elapsed / (step + 1):.0f} ms/step, eta {elapsed / (step + 1) * (steps - step - 1) / 60:.1f} min")
            if on_log is not None:
                on_log(step + 1, means)
    model.eval()
    return history
