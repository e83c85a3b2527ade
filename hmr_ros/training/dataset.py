"""Training samples from the procedural synthetic videos of ``hmr_ros.sim.clips``.

One sample is one clip of T frames rendered by :func:`hmr_ros.sim.clips.make_clip`, letterboxed to the network
input and turned into the supervision that :func:`hmr_ros.training.siam_losses` expects:

- ``index`` / ``mask``: per frame and slot, the flat index of the person's body centre on the S/stride grid
  (``SIAMConfig.stride``, the backbone's) and whether that person is annotated there. Slot k is person k of the
  clip's list in every frame (``make_clip``: far first; ``make_varied_clip`` and shards: track order); nothing
  depends on that order. The centre is the projected root
  joint (``joints[0]``, the pelvis) in letterbox pixels, quantised to the grid cell that contains it. A person is
  dropped (mask False) in a frame where the root is behind the camera or projects outside the image, or where a
  nearer person's root (smaller camera z, whatever the list order; list order only breaks exact ties) falls in the
  same grid cell (one cell gathers one token).
- ``heatmaps``: a Gaussian of ``HEATMAP_SIGMA`` grid cells around every annotated centre, exactly 1 at the centre
  cell (CenterNet's focal loss counts cells equal to 1 as positives).
- output-frame targets (``SIAMConfig.output_index``): ``rotmats`` from global_orient/body_pose (axis-angle),
  ``betas``, and ``cam`` = :func:`root_to_cam`, the exact inverse of :func:`hmr_ros.camera.perspective_root` at the
  quantised centre (the grid cell centre, ``(ix + 0.5) * 4`` px, the same centre ``tokens_at`` reports), so
  ``perspective_root(cam, centre, lb, K)`` gives back the ground-truth root joint.
- geometry for the 2D and acceleration losses, every frame: the ground-truth ``joints`` (camera frame, metres), the
  cell ``centers``, each frame's letterbox and the intrinsics (``collate`` stacks them into the batch).

Variation per clip (all drawn from one seed): the number of people (1..``max_people``), their paths, depths
(3.2-5.8 m), walking directions and shapes (``make_clip``), the image size (``image_sizes``), the frame rate, and a
random crop ("zoom") that makes people larger in the letterbox and moves them towards the image border. Rendering
costs ~25-60 ms per person-frame on one CPU core; :class:`SyntheticClipDataset` is a torch ``IterableDataset``
so a ``DataLoader`` with workers renders in parallel.

Pre-rendered shards (:mod:`hmr_ros.sim.shards`, ``python -m hmr_ros render-shards``) take the renderer out of the
loop: :class:`hmr_ros.training.shard_dataset.ShardClipDataset` reads them into the same samples.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from hmr_ros.smpl.body_model import BodyModel, load_body_model
from hmr_ros.camera import Letterbox, letterbox
from hmr_ros.clips import Clip, random_crop
from hmr_ros.geometry.projection import project
from hmr_ros.geometry.rotations import axis_angle_to_rotmat
from hmr_ros.model.siam import SIAMConfig
from hmr_ros.sim.clips import make_clip
from hmr_ros.training.losses import ClipBatch

__all__ = ["HEATMAP_SIGMA", "ClipSample", "gaussian_heatmap", "root_to_cam", "center_cell", "clip_sample",
           "collate", "letterbox_row", "SyntheticClipDataset"]

#: Standard deviation of the centre heatmap Gaussian, in grid cells (1.5 cells = 6 letterbox px at stride 4): the
#: value ``gaussian_heatmap`` defaults to; a person in the letterbox is ~10-40 cells tall, so the blob stays inside
#: the torso.
HEATMAP_SIGMA = 1.5


@dataclass
class ClipSample:
    """One clip's network input and targets (the per-clip slice of :class:`hmr_ros.training.ClipBatch`).

    images (T, S, S, 3) uint8 letterboxed RGB; heatmaps (T, 1, S/stride, S/stride) float32 in [0, 1];
    index (T, K) int64 flat grid index (iy * S/stride + ix; 0 where absent); mask (T, K) bool;
    rotmats (K, 24, 3, 3) float32, betas (K, num_betas) float32, cam (K, 3) float32 (s, dx, dy): the output
    frame's people (identity / zeros in absent slots).
    For checks and evaluation: centers (T, K, 2) float64 letterbox px of the grid cell centres; roots (T, K, 3)
    float64 ground-truth root joints, metres, camera optical frame (NaN where absent); letterboxes, one per frame;
    K_cam (3, 3) float64 intrinsics of the (cropped) source image; joints (T, K, 24, 3) float64 ground-truth joints,
    metres, camera optical frame (NaN where absent or not annotated; ``joints[..., 0, :] == roots``);
    smpl, metric (K,) bool: what the dataset knows of the clip's people (``PersonTruth.smpl`` / ``metric``);
    relative (K, 24, 4) float32: the output frame's root-relative joints and weights (``PersonTruth.relative``,
    zeros where unknown), or None when nobody in the clip has them.
    """

    images: torch.Tensor
    heatmaps: torch.Tensor
    index: torch.Tensor
    mask: torch.Tensor
    rotmats: torch.Tensor
    betas: torch.Tensor
    cam: torch.Tensor
    centers: torch.Tensor
    roots: torch.Tensor
    letterboxes: list[Letterbox]
    K_cam: np.ndarray
    joints: torch.Tensor | None = None
    smpl: torch.Tensor | None = None
    metric: torch.Tensor | None = None
    relative: torch.Tensor | None = None


def gaussian_heatmap(size: int, centers: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    """(size, size) target with a unit peak at each (x, y) grid centre in ``centers`` (N, 2)."""
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    heat = torch.zeros(size, size)
    for x, y in centers.tolist():
        heat = torch.maximum(heat, torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2)))
    return heat


def root_to_cam(root: torch.Tensor, center_lb: torch.Tensor, lb: Letterbox, K: np.ndarray) -> torch.Tensor:
    """The network camera that :func:`hmr_ros.camera.perspective_root` lifts to ``root``: its exact inverse.

    Args:
        root: (N, 3) root joints, metres, camera optical frame, z > 0.
        center_lb: (N, 2) body centres in letterbox pixels (where the tokens are gathered).
        lb: the frame's letterbox. K: (3, 3) intrinsics of the source image.
    Returns:
        (N, 3) (s, dx, dy) in root's dtype: ``s = 2 * scale * f / (z * S)`` with f = mean(fx, fy), and
        ``(dx, dy) = (root_lb - center_lb) / (s * S / 2)`` where root_lb is the root's projection in letterbox px.
    """
    fx, fy = float(K[0, 0]), float(K[1, 1])
    z = root[:, 2]
    root_lb = project(root, K) * lb.scale + root.new_tensor([lb.pad_x, lb.pad_y])
    s = 2.0 * lb.scale * (0.5 * (fx + fy)) / (z * lb.size)
    d = (root_lb - center_lb.to(root.dtype)) / (s[:, None] * lb.size / 2.0)
    return torch.cat([s[:, None], d], dim=-1)


def center_cell(uv_lb: np.ndarray, size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) letterbox pixels -> grid cells (N, 2) int64 (ix, iy), clipped to the S/stride grid, and flat indices
    (N,). ``stride``: the backbone's letterbox pixels per cell (``SIAMConfig.stride``). A NaN pixel (a point behind
    the camera, which the caller masks) gets cell (0, 0) rather than an undefined integer."""
    grid = size // stride
    uv = np.nan_to_num(np.asarray(uv_lb, dtype=np.float64), nan=0.0)
    cell = np.clip(np.floor(uv / stride), 0, grid - 1).astype(np.int64)
    return cell, cell[:, 1] * grid + cell[:, 0]


def _visible_roots(roots: np.ndarray, K: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(P, 3) roots -> (P, 2) image pixels and (P,) bool: in front of the camera and inside the image."""
    uv = project(roots, K, nan_behind_camera=True)
    with np.errstate(invalid="ignore"):  # NaN (behind the camera) compares False: not visible
        ok = (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (uv[:, 1] < height)
    return uv, ok


def clip_sample(clip: Clip, cfg: SIAMConfig, sigma: float = HEATMAP_SIGMA) -> ClipSample:
    """Letterbox the first ``cfg.window`` frames of ``clip`` and build their targets (see the module docstring).

    Raises ValueError when the clip is shorter than the window, has more people than ``cfg.max_people``, or its
    betas do not have ``cfg.num_betas`` values.
    """
    T, K, S, stride = cfg.window, cfg.max_people, cfg.input_size, cfg.stride
    grid = S // stride
    if len(clip.frames) < T:
        raise ValueError(f"clip_sample: the clip has {len(clip.frames)} frames, the window needs {T}")
    people = max(len(f.people) for f in clip.frames[:T])
    if people > K:
        raise ValueError(f"clip_sample: the clip has {people} people, the network has max_people={K} slots")
    images = np.zeros((T, S, S, 3), dtype=np.uint8)
    heatmaps = torch.zeros(T, 1, grid, grid)
    index = torch.zeros(T, K, dtype=torch.int64)
    mask = torch.zeros(T, K, dtype=torch.bool)
    centers = torch.zeros(T, K, 2, dtype=torch.float64)
    roots = torch.full((T, K, 3), math.nan, dtype=torch.float64)
    joints = torch.full((T, K, 24, 3), math.nan, dtype=torch.float64)
    boxes = []
    for t, frame in enumerate(clip.frames[:T]):
        h, w = frame.rgb.shape[:2]
        images[t], lb = letterbox(frame.rgb, S)
        boxes.append(lb)
        if not frame.people:
            continue
        root = np.stack([p.joints[0] for p in frame.people]).astype(np.float64)         # (P, 3)
        uv, ok = _visible_roots(root, clip.K, w, h)
        cell, flat = center_cell(lb.to_letterbox(uv), S, stride)
        taken: set[int] = set()
        for k in np.argsort(root[:, 2], kind="stable"):  # nearest first: it keeps a shared cell
            if ok[k] and int(flat[k]) not in taken:
                taken.add(int(flat[k]))
                index[t, k], mask[t, k] = int(flat[k]), True
                centers[t, k] = torch.from_numpy((cell[k] + 0.5) * stride)
                roots[t, k] = torch.from_numpy(root[k])
                joints[t, k] = torch.from_numpy(np.asarray(frame.people[k].joints, dtype=np.float64))
        present = mask[t, : len(frame.people)]
        heatmaps[t, 0] = gaussian_heatmap(grid, torch.from_numpy(cell[present.numpy()]).float(), sigma)

    out = cfg.output_index
    rotmats = torch.eye(3).expand(K, 24, 3, 3).clone()
    betas = torch.zeros(K, cfg.num_betas)
    cam = torch.zeros(K, 3)
    frame = clip.frames[out]
    relative = None
    if any(p.relative is not None for p in frame.people):
        relative = torch.zeros(K, 24, 4)
        for k, person in enumerate(frame.people):
            if person.relative is not None and mask[out, k]:
                relative[k] = torch.from_numpy(np.nan_to_num(np.asarray(person.relative, np.float32)))
    for k, person in enumerate(frame.people):
        if person.betas.shape != (cfg.num_betas,):
            raise ValueError(f"clip_sample: person {k} has betas of shape {person.betas.shape}, the network "
                             f"regresses num_betas={cfg.num_betas}")
        if not mask[out, k]:
            continue
        aa = np.concatenate([person.global_orient, person.body_pose]).reshape(24, 3)
        rotmats[k] = axis_angle_to_rotmat(torch.from_numpy(aa.astype(np.float64))).float()
        betas[k] = torch.from_numpy(person.betas)
        cam[k] = root_to_cam(roots[out, k:k + 1], centers[out, k:k + 1], boxes[out], clip.K)[0].float()
    people_of = next((f.people for f in clip.frames[:T] if len(f.people) == people), [])
    smpl = torch.tensor([p.smpl for p in people_of] + [True] * (K - len(people_of)))
    metric = torch.tensor([p.metric for p in people_of] + [True] * (K - len(people_of)))
    return ClipSample(torch.from_numpy(images), heatmaps, index, mask, rotmats, betas, cam, centers, roots, boxes,
                      np.asarray(clip.K, dtype=np.float64), joints, smpl, metric, relative)


def letterbox_row(lb: Letterbox) -> list[float]:
    """The batch's encoding of a letterbox: (scale, pad_x, pad_y, width, height)."""
    return [lb.scale, lb.pad_x, lb.pad_y, float(lb.width), float(lb.height)]


def collate(samples: Sequence[ClipSample]) -> ClipBatch:
    """Stack B samples into a ClipBatch (B leading).

    The geometry the 2D and acceleration losses need comes along as float32: ``centers`` (B, T, K, 2), ``joints``
    (B, T, K, 24, 3) with zeros where absent (the mask says which), ``K_cam`` (B, 3, 3) and ``letterbox``
    (B, T, 5) = :func:`letterbox_row` per frame. ``roots`` are dropped (``joints[..., 0, :]`` holds them).
    Samples without joints (built by hand) give a batch without joints. When some person is known by joints only
    (a real dataset without SMPL), ``smpl``, ``metric`` (B, K) and ``joint_known`` (B, T, K, 24) say what is known;
    otherwise they stay None (everything is).
    """
    if not samples:
        raise ValueError("collate: need at least one sample")
    batch = ClipBatch(*(torch.stack([getattr(s, name) for s in samples]) for name in
                        ("images", "heatmaps", "index", "mask", "rotmats", "betas", "cam")))
    batch.centers = torch.stack([s.centers for s in samples]).float()
    batch.K_cam = torch.as_tensor(np.stack([s.K_cam for s in samples]), dtype=torch.float32)
    batch.letterbox = torch.tensor([[letterbox_row(lb) for lb in s.letterboxes] for s in samples],
                                   dtype=torch.float32)
    if all(s.joints is not None for s in samples):
        joints = torch.stack([s.joints for s in samples]).float()
        batch.joints = torch.nan_to_num(joints, nan=0.0)
        partial = [s for s in samples if s.smpl is not None and not (bool(s.smpl.all()) and bool(s.metric.all()))]
        if partial or not torch.isfinite(joints[batch.mask]).all():  # someone known by joints only: say what is known
            batch.joint_known = torch.isfinite(joints).all(-1) & batch.mask[..., None]
            everyone = torch.ones(batch.mask.shape[2], dtype=torch.bool)  # a sample built without the flags
            batch.smpl = torch.stack([everyone if s.smpl is None else s.smpl for s in samples])
            batch.metric = torch.stack([everyone if s.metric is None else s.metric for s in samples])
    if any(s.relative is not None for s in samples):
        k = batch.mask.shape[2]
        batch.relative = torch.stack([torch.zeros(k, 24, 4) if s.relative is None else s.relative for s in samples])
    return batch


class SyntheticClipDataset(IterableDataset):
    """An endless stream (or clips ``start`` .. ``clips - 1``) of :class:`ClipSample` for ``cfg``, reproducible from
    ``seed``.

    Clip i is drawn from ``numpy.random.SeedSequence([seed, i])`` whatever the number of DataLoader workers
    (worker w of n renders clips w, w + n, ...), so a run is reproducible given the seed and the worker count.

    Args:
        cfg: the network the samples are for (S, T, K, output frame, number of betas).
        seed: stream seed.
        clips: number of clips, None for an endless stream.
        image_sizes: (width, height) choices of the rendered camera (before the crop).
        zoom: range of the crop side as a fraction of the rendered image (1.0 = no crop); the crop keeps the aspect
            ratio and is placed uniformly at random.
        fps_range: frame-rate range (frames per second) of the rendered video: how far people move per frame.
        max_people: most people per clip (1..cfg.max_people); None = cfg.max_people.
        body_model: the body model to render (default the procedural one, loaded on first use per process).
        start: index of the first clip (a resumed run continues the stream where it stopped).
    """

    def __init__(self, cfg: SIAMConfig, seed: int = 0, clips: int | None = None,
                 image_sizes: Sequence[tuple[int, int]] = ((640, 480), (480, 640)),
                 zoom: tuple[float, float] = (0.7, 1.0), fps_range: tuple[float, float] = (10.0, 30.0),
                 max_people: int | None = None, body_model: BodyModel | None = None, start: int = 0):
        super().__init__()
        cfg.validate()
        people = cfg.max_people if max_people is None else max_people
        if not 1 <= people <= cfg.max_people:
            raise ValueError(f"SyntheticClipDataset: max_people={people}, expected 1..{cfg.max_people} (the "
                             "network's slots)")
        if not image_sizes or any(len(s) != 2 or min(s) < 32 for s in image_sizes):
            raise ValueError(f"SyntheticClipDataset: image_sizes must be (width, height) pairs >= 32 px, got "
                             f"{image_sizes!r}")
        if not 0.2 <= zoom[0] <= zoom[1] <= 1.0:
            raise ValueError(f"SyntheticClipDataset: zoom must be (lo, hi) with 0.2 <= lo <= hi <= 1, got {zoom!r}")
        if not 0.0 < fps_range[0] <= fps_range[1]:
            raise ValueError(f"SyntheticClipDataset: fps_range must be (lo, hi) with 0 < lo <= hi, got {fps_range!r}")
        if clips is not None and clips < 0:
            raise ValueError(f"SyntheticClipDataset: clips must be >= 0 or None, got {clips}")
        if start < 0:
            raise ValueError(f"SyntheticClipDataset: start must be >= 0, got {start}")
        self.cfg, self.seed, self.clips, self.start = cfg, int(seed), clips, int(start)
        self.image_sizes = [(int(w), int(h)) for w, h in image_sizes]
        self.zoom, self.fps_range, self.max_people = tuple(zoom), tuple(fps_range), people
        self._body_model = body_model

    def body_model(self) -> BodyModel:
        if self._body_model is None:
            self._body_model = load_body_model("procedural")
        return self._body_model

    def sample(self, i: int) -> ClipSample:
        """Clip number ``i`` of the stream (deterministic)."""
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, int(i)]))
        width, height = self.image_sizes[rng.integers(len(self.image_sizes))]
        clip = make_clip(num_frames=self.cfg.window, width=width, height=height,
                         num_people=int(rng.integers(1, self.max_people + 1)), fps=float(rng.uniform(*self.fps_range)),
                         seed=int(rng.integers(2 ** 31)), body_model=self.body_model())
        return clip_sample(random_crop(clip, rng, self.zoom), self.cfg)

    def __iter__(self) -> Iterator[ClipSample]:
        info = get_worker_info()
        first, step = (info.id, info.num_workers) if info is not None else (0, 1)
        i = self.start + first
        while self.clips is None or i < self.clips:
            yield self.sample(i)
            i += step
