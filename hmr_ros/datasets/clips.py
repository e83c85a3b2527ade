"""Real datasets as clip sources: the same ``hmr_ros.clips.Clip`` the synthetic data is, so training's
``clip_sample`` builds their targets (letterbox, centre heatmaps, SMPL targets, camera) exactly as for the rendered
people, and ``training.mixture`` draws from a weighted list of them.

    sources = [("3dpw", lambda rng: threedpw_clips(ThreeDPW(root, "train", body), 9, rng=rng), 1.0),
               ("bedlam", lambda rng: bedlam_clips(BedlamScene(npz, images), body, 9, rng=rng), 2.0)]
    data = training.mixture.mixture_batches(sources, cfg, batch_clips=8, seed=0, workers=4)   # ClipBatches

Video datasets give windows of T consecutive frames in which every actor's camera pose is valid; image datasets give
pseudo-clips: the one image repeated T times (a person standing still; the temporal network sees no motion, and the
window's frames agree). Datasets without SMPL become clips of people known by joints only
(``datasets.people.joints_person``): CMU Panoptic's COCO-19 skeletons fill the 14 SMPL joint slots they share by
name (metric 3D: the 3D, 2D and acceleration terms), COCO's 17 keypoints the 12 body slots (2D term only); the
losses read what each person has (``training.body_losses``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from hmr_ros.datasets.bedlam import BedlamScene
from hmr_ros.camera import default_intrinsics
from hmr_ros.datasets.agora import AgoraTable
from hmr_ros.datasets.coco import COCO17, CocoKeypoints
from hmr_ros.datasets.panoptic import COCO19, SMPL_SLOTS, PanopticSequence
from hmr_ros.datasets.people import absent_person, joints_person, keypoint_person, posed_person
from hmr_ros.datasets.pseudo_labels import CONFIDENT, PseudoLabels
from hmr_ros.datasets.threedpw import ThreeDPW
from hmr_ros.clips import Clip, ClipFrame


def _read_rgb(path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"image {path} is missing or unreadable")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _in_order(items: list, rng: np.random.Generator | None) -> list:
    """``items`` as they are, or in a random order drawn from ``rng`` (one epoch of a shuffled source)."""
    return items if rng is None else [items[i] for i in rng.permutation(len(items))]


def threedpw_clips(data: ThreeDPW, window: int, stride: int | None = None, fps: float = 30.0,
                   rng: np.random.Generator | None = None) -> Iterator[Clip]:
    """Windows of ``window`` consecutive images of every sequence (every ``stride`` frames, default ``window``) in
    which every actor's camera pose is valid: sequence by sequence, or in a random order over all sequences when
    ``rng`` is given (so a batch mixes sequences; each sequence file is read once)."""
    stride = stride or window
    frames = {name: data.frames(name) for name in data.sequences}
    windows = [(name, start) for name, seq in frames.items() for start in range(0, len(seq) - window + 1, stride)]
    windows = _in_order(windows, rng)
    for name, start in windows:
        part = frames[name][start:start + window]
        if not all(p.valid for f in part for p in f.people):
            continue
        out = [ClipFrame(_read_rgb(f.image_path), f.index / fps,
                              [posed_person(data.body_model, p.betas, p.global_orient, p.body_pose, p.translation,
                                            f.K, p.actor) for p in f.people]) for f in part]
        yield Clip(out, part[0].K, fps, data.body_model.faces, {"dataset": "3dpw", "sequence": name,
                                                                        "start": start})


def bedlam_clips(scenes: BedlamScene | list[BedlamScene], body_model, window: int, allow_smplx_betas: bool = False,
                 fps: float = 30.0, rng: np.random.Generator | None = None) -> Iterator[Clip]:
    """Every labelled image of ``scenes`` as a pseudo-clip of ``window`` copies, in file order or, with ``rng``, in
    a random order over all scenes. SMPL-X labels need ``allow_smplx_betas`` (their betas are not SMPL's; see
    ``datasets.bedlam``)."""
    scenes = [scenes] if isinstance(scenes, BedlamScene) else list(scenes)
    for scene in scenes:
        if scene.smplx and not allow_smplx_betas:
            raise ValueError(f"BEDLAM labels {scene.labels} are SMPL-X: their betas are not SMPL's; pass "
                             "allow_smplx_betas=True with an SMPL-X body model, or use BEDLAM's SMPL labels")
    images = [image for scene in scenes for image in scene.images()]
    images = _in_order(images, rng)
    for image in images:
        rgb = _read_rgb(image.path)
        people = [posed_person(body_model, p.betas, p.global_orient, p.body_pose, p.translation, image.K, k)
                  for k, p in enumerate(image.people)]
        frames = [ClipFrame(rgb, t / fps, people) for t in range(window)]
        yield Clip(frames, image.K, fps, body_model.faces, {"dataset": "bedlam", "image": str(image.path)})


#: Panoptic joints below this confidence are not annotated (the protocol's threshold too).
PANOPTIC_MIN_CONFIDENCE = 0.1
#: COCO-17 keypoint -> SMPL joint slot (the pelvis is the hips' midpoint, the centre of the person).
COCO_SLOTS = {"l_shoulder": 16, "r_shoulder": 17, "l_elbow": 18, "r_elbow": 19, "l_wrist": 20, "r_wrist": 21,
              "l_hip": 1, "r_hip": 2, "l_knee": 4, "r_knee": 5, "l_ankle": 7, "r_ankle": 8}


def _panoptic_joints(person) -> np.ndarray:
    joints = np.full((24, 3), np.nan)
    for name, slot in SMPL_SLOTS.items():
        c = COCO19.index(name)
        if person.confidence[c] > PANOPTIC_MIN_CONFIDENCE:
            joints[slot] = person.joints[c]
    return joints


def panoptic_clips(sequences: list[PanopticSequence], window: int, rng: np.random.Generator | None = None,
                   fps: float = 29.97) -> Iterator[Clip]:
    """Windows of ``window`` consecutive HD frames of each sequence's camera, every ``window`` frames, in a random
    order with ``rng``. A window holds the people whose pelvis is reconstructed in all of its frames (slot = their
    rank by Panoptic id); windows with nobody are skipped. Images keep their lens distortion, the joints are
    projected without it (a few pixels at the image border of the HD cameras)."""
    frames = {i: seq.frames() for i, seq in enumerate(sequences)}
    windows = [(i, start) for i, seq in frames.items() for start in range(0, len(seq) - window + 1, window)]
    windows = _in_order(windows, rng)
    pelvis = COCO19.index("pelvis")
    for i, start in windows:
        part = frames[i][start:start + window]
        ids = sorted(set.intersection(*({p.id for p in f.people if p.confidence[pelvis] > PANOPTIC_MIN_CONFIDENCE}
                                        for f in part)))
        if not ids:
            continue
        out = []
        for f in part:
            by_id = {p.id: p for p in f.people}
            out.append(ClipFrame(_read_rgb(f.image_path), f.index / fps,
                                      [joints_person(_panoptic_joints(by_id[pid]), f.K, pid) for pid in ids]))
        yield Clip(out, part[0].K, fps, np.zeros((0, 3), np.int64),
                            {"dataset": "panoptic", "sequence": sequences[i].folder.name, "start": start})


def _coco_keypoints(person) -> np.ndarray | None:
    """(24, 2) pixels in SMPL slots (NaN where unlabelled), or None when a hip is unlabelled (no centre)."""
    kp = np.asarray(person.keypoints, np.float64)
    uv = np.full((24, 2), np.nan)
    for name, slot in COCO_SLOTS.items():
        x, y, v = kp[COCO17.index(name)]
        if v > 0:
            uv[slot] = (x, y)
    if not np.isfinite(uv[[1, 2]]).all():
        return None
    uv[0] = uv[[1, 2]].mean(0)
    return uv


def coco_clips(data: CocoKeypoints, window: int, rng: np.random.Generator | None = None,
               fps: float = 30.0) -> Iterator[Clip]:
    """Every usable COCO image as a pseudo-clip of ``window`` copies, in a random order with ``rng``; the default
    intrinsics (``camera.default_intrinsics``). Images with a crowd region or a person without both hips labelled
    are skipped: the centre heatmap has no ignore mask, so such a person would be taught as background."""
    images = data.images()
    images = _in_order(images, rng)
    for image in images:
        if any(p.crowd for p in image.people):
            continue
        points = [_coco_keypoints(p) for p in image.people]
        if not points or any(uv is None for uv in points):
            continue
        K = default_intrinsics(image.width, image.height)
        rgb = _read_rgb(image.path)
        people = [keypoint_person(uv, K, k) for k, uv in enumerate(points)]
        yield Clip([ClipFrame(rgb, t / fps, people) for t in range(window)], K, fps,
                            np.zeros((0, 3), np.int64), {"dataset": "coco", "image": str(image.path)})


def agora_clips(tables: list[AgoraTable], window: int, rng: np.random.Generator | None = None,
                fps: float = 30.0) -> Iterator[Clip]:
    """Every AGORA image as a pseudo-clip of ``window`` copies (random order with ``rng``): its people with their 24
    SMPL joints in metres (the tables hold joints and vertices, not the fits' parameters), occluded people included,
    since they are in the picture; people behind the camera are left out."""
    images = [image for table in tables for image in table.images()]
    images = _in_order(images, rng)
    for image in images:
        people = [joints_person(p.joints3d, image.K, k) for k, p in enumerate(image.people) if p.joints3d[0, 2] > 0]
        if not people:
            continue
        rgb = _read_rgb(image.image_path)
        yield Clip([ClipFrame(rgb, t / fps, people) for t in range(window)], image.K, fps,
                            np.zeros((0, 3), np.int64), {"dataset": "agora", "image": str(image.image_path)})


#: BlazePose landmark -> SMPL joint slot, for pseudo-labels (docs/training.md, "The joint mapping"). Hips, knees,
#: ankles, shoulders, elbows and wrists are the same anatomical points in both; the pelvis (slot 0) is the hips'
#: midpoint (SMPL's pelvis joint lies between its hip joints); the head joint (15) the ears' midpoint. Not mapped:
#: the face points (SMPL has no face joints), hands and feet (SMPL's hand and foot joints sit at the knuckles and the
#: ball of the foot, BlazePose's at the finger and toe tips), spine and neck (no BlazePose landmark).
PSEUDO_SLOTS = {23: 1, 24: 2, 25: 4, 26: 5, 27: 7, 28: 8, 11: 16, 12: 17, 13: 18, 14: 19, 15: 20, 16: 21}
PSEUDO_HEAD = (7, 8)


def _pseudo_person(person, K: np.ndarray):
    """A labelled person as a ``keypoint_person`` with the teacher's world landmarks as root-relative 3D."""
    lm, world = person.landmarks, person.world                        # (33, 5) x, y, z, visibility, presence
    confidence = lm[:, 3] * lm[:, 4]
    uv = np.full((24, 2), np.nan)
    relative = np.zeros((24, 4), np.float32)
    pelvis = world[[23, 24]].mean(0)
    for b, slot in PSEUDO_SLOTS.items():
        if confidence[b] >= CONFIDENT:
            uv[slot] = lm[b, :2]
        relative[slot] = (*(world[b] - pelvis), confidence[b])
    uv[0] = lm[[23, 24], :2].mean(0)  # the centre: the hips as the teacher places them, however confident
    relative[0, 3] = min(confidence[23], confidence[24])
    if (confidence[list(PSEUDO_HEAD)] >= CONFIDENT).all():
        uv[15] = lm[list(PSEUDO_HEAD), :2].mean(0)
        relative[15] = (*(world[list(PSEUDO_HEAD)].mean(0) - pelvis), confidence[list(PSEUDO_HEAD)].min())
    return keypoint_person(uv, K, person.id, relative)


def pseudo_clips(labels: PseudoLabels, window: int, rng: np.random.Generator | None = None,
                 stride: int | None = None) -> Iterator[Clip]:
    """Windows of ``window`` consecutive training frames (before ``holdout_from``, every ``stride`` frames, default
    ``window // 2``) of a label directory (``label``), in a random order with ``rng``: slot k is the window's k-th
    track, absent from the frames it is not in (``people.absent_person``); each person known by their confident
    keypoints (2D term) and the teacher's world landmarks (root-relative 3D term, weighted by confidence)."""
    frames = labels.train_frames
    stride = stride or max(1, window // 2)
    height, width = labels.manifest["height"], labels.manifest["width"]
    K = labels.K if labels.K is not None else default_intrinsics(width, height)
    starts = [i for i in range(0, len(frames) - window + 1, stride)
              if frames[i + window - 1].frame - frames[i].frame == window - 1]   # consecutive frames only
    for i in _in_order(starts, rng):
        part = frames[i:i + window]
        ids = sorted({p.id for f in part for p in f.people})
        if not ids:
            continue
        out = []
        for f in part:
            by_id = {p.id: p for p in f.people}
            people = [_pseudo_person(by_id[t], K) if t in by_id else absent_person(t) for t in ids]
            out.append(ClipFrame(_read_rgb(f.image), f.stamp, people))
        yield Clip(out, K, labels.fps, np.zeros((0, 3), np.int64),
                            {"dataset": "pseudo", "root": str(labels.root), "start": part[0].frame})


def shard_clips(folder, window: int, rng: np.random.Generator | None = None) -> Iterator[Clip]:
    """The pre-rendered synthetic clips of a shard directory (``render-shards``' OUT/train), in a random order with
    ``rng``, each cut to ``window`` frames at a random start: the synthetic half of a real-data mixture."""
    from hmr_ros.clip_files import list_shards, read_clip
    from hmr_ros.smpl.body_model import load_body_model

    model = load_body_model("procedural")  # once: ~90 ms a load, and the shards were rendered with it
    paths = list_shards(folder)  # not the .tmp files of a render still writing
    for path in _in_order(paths, rng):
        clip = read_clip(path, model)
        if len(clip.frames) < window:
            continue
        start = 0 if rng is None else int(rng.integers(len(clip.frames) - window + 1))
        yield Clip(clip.frames[start:start + window], clip.K, clip.fps, clip.faces, clip.meta)


#: A mixture source: (name, a function of an RNG returning one epoch of clips in an order drawn from it, weight).
Source = tuple[str, Callable[[np.random.Generator], Iterable[Clip]], float]


def sources_from_specs(specs: list[str], body_model, window: int, bedlam_images: str | None = None,
                       agora_images: str | None = None, agora_size: tuple[int, int] = (1280, 720)) -> list[Source]:
    """``train --dataset`` values -> mixture sources. A spec is NAME=PATH[:WEIGHT]: ``3dpw=<3DPW root>`` (its train
    split), ``bedlam=<folder of processed-label .npz>`` (images under ``bedlam_images``), ``panoptic=<folder of
    sequence folders>`` (every HD camera with images), ``coco=<COCO root>`` (its train2017 split) or
    ``agora=<folder of convert-agora npz>`` (images under ``agora_images``, ``agora_size`` pixels),
    ``pseudo=<label directory>`` (``label``'s output, training frames only) or ``shards=<render-shards OUT/train>``
    (pre-rendered synthetic clips)."""

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
            sources.append((spec, lambda rng, data=data: threedpw_clips(data, window, rng=rng), weight))
        elif name == "bedlam":
            if not bedlam_images:
                raise ValueError("--dataset bedlam=... needs --bedlam-images (the folder holding <scene>/png/)")
            scenes = [BedlamScene(f, bedlam_images) for f in sorted(Path(path).glob("*.npz"))]
            if not scenes:
                raise ValueError(f"--dataset {spec!r}: no processed-label .npz files in {path}")
            sources.append((spec, lambda rng, scenes=scenes: bedlam_clips(scenes, body_model, window, rng=rng), weight))
        elif name == "panoptic":
            if not Path(path).is_dir():
                raise ValueError(f"--dataset {spec!r}: {path} is not a folder of Panoptic sequence folders")
            sequences = [PanopticSequence(folder, cam.name) for folder in sorted(Path(path).iterdir())
                         if (folder / f"calibration_{folder.name}.json").is_file()
                         for cam in sorted((folder / "hdImgs").glob("*")) if cam.is_dir()]
            if not sequences:
                raise ValueError(f"--dataset {spec!r}: no Panoptic sequence with HD images under {path} (expected "
                                 "<seq>/calibration_<seq>.json and <seq>/hdImgs/<camera>/)")
            sources.append((spec, lambda rng, sequences=sequences: panoptic_clips(sequences, window, rng), weight))
        elif name == "coco":
            data = CocoKeypoints(path, "train")
            sources.append((spec, lambda rng, data=data: coco_clips(data, window, rng), weight))
        elif name == "pseudo":
            labels = PseudoLabels(path)
            if not labels.train_frames:
                raise ValueError(f"--dataset {spec!r}: {path} has no training frame (all held out or skipped)")
            sources.append((spec, lambda rng, labels=labels: pseudo_clips(labels, window, rng), weight))
        elif name == "shards":
            if not any(Path(path).glob("clip_*.npz")):
                raise ValueError(f"--dataset {spec!r}: no clip_*.npz in {path} (render-shards' OUT/train)")
            sources.append((spec, lambda rng, path=path: shard_clips(path, window, rng), weight))
        elif name == "agora":
            if not agora_images:
                raise ValueError("--dataset agora=... needs --agora-images (the folder of the rendered images)")
            tables = [AgoraTable(f, agora_images, *agora_size) for f in sorted(Path(path).glob("*.npz"))]
            if not tables:
                raise ValueError(f"--dataset {spec!r}: no AGORA tables (*.npz from convert-agora) in {path}")
            sources.append((spec, lambda rng, tables=tables: agora_clips(tables, window, rng), weight))
        else:
            raise ValueError(f"--dataset {spec!r}: unknown dataset {name!r} (3dpw, bedlam, agora, panoptic, "
                             "coco, pseudo or shards)")
    return sources
