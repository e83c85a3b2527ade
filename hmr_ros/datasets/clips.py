"""Real datasets as training clips: the same ``SyntheticClip`` the synthetic data is, so ``clip_sample`` builds their
targets (letterbox, centre heatmaps, SMPL targets, camera) exactly as for the rendered people, and a weighted
mixture of sources feeds the training loop.

    sources = [("3dpw", threedpw_clips(ThreeDPW(root, "train", body), window=9), 1.0),
               ("bedlam", bedlam_clips(BedlamScene(npz, images), body, window=9), 2.0)]
    data = mixture_batches(sources, cfg, batch_clips=8, seed=0)     # ClipBatches for train(data=...)

Video datasets give windows of T consecutive frames in which every actor's camera pose is valid; image datasets give
pseudo-clips: the one image repeated T times (a person standing still; the temporal network sees no motion, and the
window's frames agree). Datasets without SMPL (Panoptic, COCO) cannot become these clips: their 2D/3D joint terms
need losses on their own joint sets (not built yet).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import cv2
import numpy as np

from hmr_ros.datasets.augment import augment
from hmr_ros.datasets.bedlam import BedlamScene
from hmr_ros.datasets.people import posed_person
from hmr_ros.datasets.threedpw import ThreeDPW
from hmr_ros.sim.clips import SyntheticClip, SyntheticFrame
from hmr_ros.training.dataset import clip_sample, collate


def _read_rgb(path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"image {path} is missing or unreadable")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def threedpw_clips(data: ThreeDPW, window: int, stride: int | None = None, fps: float = 30.0) -> Iterator[SyntheticClip]:
    """Windows of ``window`` consecutive images of every sequence (every ``stride`` frames, default ``window``) in
    which every actor's camera pose is valid."""
    stride = stride or window
    for name in data.sequences:
        frames = data.frames(name)
        for start in range(0, len(frames) - window + 1, stride):
            part = frames[start:start + window]
            if not all(p.valid for f in part for p in f.people):
                continue
            out = [SyntheticFrame(_read_rgb(f.image_path), f.index / fps,
                                  [posed_person(data.body_model, p.betas, p.global_orient, p.body_pose, p.translation,
                                                f.K, p.actor) for p in f.people]) for f in part]
            yield SyntheticClip(out, part[0].K, fps, data.body_model.faces, {"dataset": "3dpw", "sequence": name,
                                                                            "start": start})


def bedlam_clips(scene: BedlamScene, body_model, window: int, allow_smplx_betas: bool = False,
                 fps: float = 30.0) -> Iterator[SyntheticClip]:
    """Every labelled image as a pseudo-clip of ``window`` copies. SMPL-X labels need ``allow_smplx_betas`` (their
    betas are not SMPL's; see ``datasets.bedlam``)."""
    if scene.smplx and not allow_smplx_betas:
        raise ValueError(f"BEDLAM labels {scene.labels} are SMPL-X: their betas are not SMPL's; pass "
                         "allow_smplx_betas=True with an SMPL-X body model, or use BEDLAM's SMPL labels")
    for image in scene.images():
        rgb = _read_rgb(image.path)
        people = [posed_person(body_model, p.betas, p.global_orient, p.body_pose, p.translation, image.K, k)
                  for k, p in enumerate(image.people)]
        frames = [SyntheticFrame(rgb, t / fps, people) for t in range(window)]
        yield SyntheticClip(frames, image.K, fps, body_model.faces, {"dataset": "bedlam", "image": str(image.path)})


def mixture_batches(sources: list[tuple[str, Callable[[], Iterable[SyntheticClip]], float]], cfg, batch_clips: int,
                    seed: int = 0, augment_with=None) -> Iterator:
    """Endless ``ClipBatch``es of ``batch_clips`` clips, each clip from a source drawn with probability proportional
    to its weight. sources: (name, a function returning a fresh iterable of clips, weight); a source that runs out
    starts again (another epoch). Clips with more people than ``cfg.max_people`` or shorter than the window are
    skipped. ``augment_with``: a body model to augment every clip (``datasets.augment``: crop, flip, colour)."""

    if not sources or any(w <= 0 for _, _, w in sources):
        raise ValueError("mixture_batches: give at least one source, every weight > 0")
    rng = np.random.default_rng(seed)
    weights = np.array([w for _, _, w in sources], np.float64)
    streams = [iter(make()) for _, make, _ in sources]

    def next_clip(i: int):
        for _ in range(2):
            for clip in streams[i]:
                if augment_with is not None:
                    clip = augment(clip, rng, augment_with)
                try:
                    return clip_sample(clip, cfg)
                except ValueError:  # too many people or too short for this network: skip it
                    continue
            streams[i] = iter(sources[i][1]())  # the next epoch of this source
        raise ValueError(f"mixture_batches: source {sources[i][0]} gives no usable clip")

    while True:
        picks = rng.choice(len(sources), size=batch_clips, p=weights / weights.sum())
        yield collate([next_clip(int(i)) for i in picks])


def sources_from_specs(specs: list[str], body_model, window: int,
                       bedlam_images: str | None = None) -> list[tuple[str, Callable[[], Iterable[SyntheticClip]], float]]:
    """``train --dataset`` values -> mixture sources. A spec is NAME=PATH[:WEIGHT]: ``3dpw=<3DPW root>`` (its train
    split) or ``bedlam=<folder of processed-label .npz>`` (images under ``bedlam_images``)."""
    from pathlib import Path

    sources = []
    for spec in specs:
        name, sep, rest = spec.partition("=")
        path, _, weight_text = rest.rpartition(":") if ":" in rest else (rest, "", "1")
        try:
            weight = float(weight_text)
        except ValueError:
            path, weight = rest, 1.0
        if not sep or not path:
            raise ValueError(f"--dataset {spec!r}: expected NAME=PATH[:WEIGHT], e.g. 3dpw=/data/3DPW:1")
        if name == "3dpw":
            data = ThreeDPW(path, "train", body_model)
            sources.append((spec, lambda data=data: threedpw_clips(data, window), weight))
        elif name == "bedlam":
            if not bedlam_images:
                raise ValueError("--dataset bedlam=... needs --bedlam-images (the folder holding <scene>/png/)")
            scenes = [BedlamScene(f, bedlam_images) for f in sorted(Path(path).glob("*.npz"))]
            if not scenes:
                raise ValueError(f"--dataset {spec!r}: no processed-label .npz files in {path}")
            sources.append((spec, lambda scenes=scenes: (c for s in scenes for c in bedlam_clips(s, body_model, window)),
                            weight))
        else:
            raise ValueError(f"--dataset {spec!r}: unknown dataset {name!r} (3dpw or bedlam: the ones with SMPL labels)")
    return sources
