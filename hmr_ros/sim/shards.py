"""Render clips once into compressed shards on disk, read them back as :class:`SyntheticClip` objects.

Seeds and splits. Clip ``i`` of a split gets the integer seed :func:`clip_seeds` derives with numpy's
``SeedSequence``:

- ``train``: ``SeedSequence([seed, i])`` -- the same entropy ``hmr_ros.training.dataset`` uses per clip;
- ``bench``: ``SeedSequence([BENCH_NAMESPACE, seed, i])`` with the 128-bit constant :data:`BENCH_NAMESPACE`
  (four 32-bit words that small user seeds never produce), default ``seed`` 0: a fixed, held-out benchmark that
  no training seed reaches. Never train on ``bench``.

The clip seed is the first 63 bits of ``generate_state(2, np.uint64)``, passed to
:func:`hmr_ros.sim.varied.make_varied_clip`; rendering is deterministic per seed and arguments.

Layout of a directory written by :func:`write_shards` (``render-shards`` writes ``OUT/<split>/``)::

    manifest.json          {"version", "files", "seeds", "image_format", "quality", "clip_kwargs"}
    clip_000000.npz        one clip per file, np.savez_compressed, read with allow_pickle=False
    clip_000001.npz ...

Keys of a clip file (T frames, P people, the same people in every frame):

=====================  ===================  ===========================================================
images                 (N,) uint8           the T encoded frames (JPEG or PNG files) back to back
image_offsets          (T + 1,) int64       frame t is ``images[offsets[t]:offsets[t+1]]``
image_format           () str               "jpeg" or "png"
stamps                 (T,) float64         seconds
K                      (3, 3) float64       intrinsics, pixels
fps                    () float64
num_vertices           () int64             of the body model the clip was rendered with
meta_json              () str               ``SyntheticClip.meta`` as JSON
betas                  (T, P, 10) float32
global_orient          (T, P, 3) float32    axis-angle, camera optical frame
body_pose              (T, P, 69) float32   axis-angle
translation            (T, P, 3) float32    metres
joints_2d, box,        (T, P, 24, 2),       float32 pixels (see ``GroundTruthPerson``)
centre                 (T, P, 4), (T,P,2)
joints_in_image        (T, P, 24) bool
joints_occluded,       (T, P, 24) bool      absent when the clip had no occlusion ground truth
joints_visible
visible_pixels         (T, P) int64         absent likewise
motion                 (T, P) str           motion labels
track_id               (T, P) int64
=====================  ===================  ===========================================================

Vertices and 3D joints are not stored (7k vertices per person-frame would dominate the files): the reader
recomputes them with :func:`hmr_ros.sim.clips.pose_bodies` from the stored float32 pose, exactly as the renderer
did, so a read clip equals the rendered one array for array -- except the pixels when ``image_format="jpeg"``
(lossy; "png" is exact). Clips of the old :func:`hmr_ros.sim.clips.make_clip` round-trip to ~1e-5 m in vertices.
"""
from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from hmr_ros.sim.clips import GroundTruthPerson, SyntheticClip, SyntheticFrame, pose_bodies
from hmr_ros.smpl.body_model import BodyModel, load_body_model

__all__ = ["BENCH_NAMESPACE", "SPLITS", "clip_seeds", "write_clip", "read_clip", "write_shards", "list_shards",
           "iter_clips"]

BENCH_NAMESPACE = 0x686D725F726F735F62656E63685F7631  # b"hmr_ros_bench_v1"
SPLITS = ("train", "bench")
VERSION = 1
_FLOAT_KEYS = ("global_orient", "body_pose", "translation", "joints_2d", "box", "centre")
_OPTIONAL_KEYS = ("joints_occluded", "joints_visible", "visible_pixels")


def clip_seeds(split: str, count: int, seed: int = 0, start: int = 0) -> list[int]:
    """Seeds of clips ``start .. start + count - 1`` of a split (see the module docstring)."""
    if split not in SPLITS:
        raise ValueError(f"clip_seeds: split must be one of {SPLITS}, got {split!r}")
    if seed < 0 or count < 0 or start < 0:
        raise ValueError(f"clip_seeds: seed, count and start must be >= 0, got {seed}, {count}, {start}")
    prefix = [] if split == "train" else [BENCH_NAMESPACE]
    return [int(np.random.SeedSequence(prefix + [seed, i]).generate_state(2, np.uint64)[0] >> np.uint64(1))
            for i in range(start, start + count)]


def _encode(rgb: np.ndarray, image_format: str, quality: int) -> np.ndarray:
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    if image_format == "jpeg":
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    elif image_format == "png":
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    else:
        raise ValueError(f"image_format must be 'jpeg' or 'png', got {image_format!r}")
    if not ok:
        raise ValueError(f"could not encode a {rgb.shape} frame as {image_format}")
    return buf.ravel()


def write_clip(path: str | Path, clip: SyntheticClip, image_format: str = "jpeg", quality: int = 95) -> Path:
    """Write one clip (see the module docstring for the keys); returns the path."""
    T = len(clip.frames)
    P = len(clip.frames[0].people) if T else 0
    if any(len(f.people) != P for f in clip.frames):
        raise ValueError("write_clip: every frame must list the same people")
    enc = [_encode(f.rgb, image_format, quality) for f in clip.frames]
    arrays = {
        "images": np.concatenate(enc) if enc else np.zeros(0, np.uint8),
        "image_offsets": np.cumsum([0] + [len(e) for e in enc]).astype(np.int64),
        "image_format": np.array(image_format), "stamps": np.array([f.stamp for f in clip.frames], np.float64),
        "K": np.asarray(clip.K, np.float64), "fps": np.array(clip.fps, np.float64),
        "num_vertices": np.array(clip.frames[0].people[0].vertices.shape[0] if P else 0, np.int64),
        "meta_json": np.array(json.dumps(clip.meta)),
    }
    people = [[p for p in f.people] for f in clip.frames]

    def stack(name, dtype):
        return np.array([[getattr(p, name) for p in row] for row in people], dtype=dtype).reshape((T, P) + (
            np.shape(getattr(people[0][0], name)) if P else ()))

    arrays["betas"] = stack("betas", np.float32)
    for k in _FLOAT_KEYS:
        arrays[k] = stack(k, np.float32)
    arrays["joints_in_image"] = stack("joints_in_image", bool)
    if P and all(getattr(p, k) is not None for row in people for p in row for k in _OPTIONAL_KEYS):
        for k in _OPTIONAL_KEYS:
            arrays[k] = stack(k, np.int64 if k == "visible_pixels" else bool)
    arrays["motion"] = np.array([[p.motion or "" for p in row] for row in people], dtype=str).reshape(T, P)
    arrays["track_id"] = np.array([[k if p.track_id is None else p.track_id for k, p in enumerate(row)]
                                   for row in people], np.int64).reshape(T, P)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)  # readers never see a half-written shard
    return path


def read_clip(path: str | Path, body_model: BodyModel | None = None) -> SyntheticClip:
    """Read a clip written by :func:`write_clip` (no pickle); vertices and joints are recomputed."""
    model = body_model if body_model is not None else load_body_model("procedural")
    with np.load(path, allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    T, P = a["motion"].shape
    if P and int(a["num_vertices"]) != model.num_vertices:
        raise ValueError(f"read_clip: {path} was rendered with a {int(a['num_vertices'])}-vertex body model, "
                         f"got {model.num_vertices} vertices")
    off = a["image_offsets"]
    rgbs = [cv2.imdecode(a["images"][off[t]:off[t + 1]], cv2.IMREAD_COLOR)[..., ::-1].copy() for t in range(T)]
    geo = [pose_bodies(model, a["betas"][:, k], a["global_orient"][:, k], a["body_pose"][:, k],
                       a["translation"][:, k]) for k in range(P)]
    has_occ = all(k in a for k in _OPTIONAL_KEYS)
    frames = []
    for t in range(T):
        people = []
        for k in range(P):
            extra = {key: a[key][t, k] for key in _FLOAT_KEYS[3:] + ("joints_in_image",)}
            if has_occ:
                extra.update(joints_occluded=a["joints_occluded"][t, k], joints_visible=a["joints_visible"][t, k],
                             visible_pixels=int(a["visible_pixels"][t, k]))
            people.append(GroundTruthPerson(
                betas=a["betas"][t, k], global_orient=a["global_orient"][t, k], body_pose=a["body_pose"][t, k],
                translation=a["translation"][t, k], joints=geo[k][1][t], vertices=geo[k][0][t], **extra,
                motion=str(a["motion"][t, k]) or None, track_id=int(a["track_id"][t, k])))
        frames.append(SyntheticFrame(rgb=rgbs[t], stamp=float(a["stamps"][t]), people=people))
    return SyntheticClip(frames=frames, K=a["K"], fps=float(a["fps"]), faces=model.faces,
                         meta=json.loads(str(a["meta_json"])))


def _render_one(job: tuple) -> str:
    path, seed, image_format, quality, clip_kwargs = job
    from hmr_ros.sim.varied import make_varied_clip

    write_clip(path, make_varied_clip(seed, **clip_kwargs), image_format, quality)
    return str(path)


def write_shards(out_dir: str | Path, seeds: Sequence[int], *, start_index: int = 0, image_format: str = "jpeg",
                 quality: int = 95, workers: int = 1, **clip_kwargs) -> list[Path]:
    """Render ``make_varied_clip(seed, **clip_kwargs)`` for each seed into ``out_dir/clip_{start_index + i}.npz``
    (6 digits) and write ``manifest.json``; ``workers`` > 1 renders in that many processes."""
    if image_format not in ("jpeg", "png"):
        raise ValueError(f"write_shards: image_format must be 'jpeg' or 'png', got {image_format!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"clip_{start_index + i:06d}.npz" for i in range(len(seeds))]
    jobs = [(p, int(s), image_format, quality, clip_kwargs) for p, s in zip(paths, seeds)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_render_one, jobs))
    else:
        for job in jobs:
            _render_one(job)
    manifest = {"version": VERSION, "files": [p.name for p in paths], "seeds": [int(s) for s in seeds],
                "image_format": image_format, "quality": quality,
                "clip_kwargs": {k: (list(v) if isinstance(v, tuple) else v) for k, v in clip_kwargs.items()}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return paths


def list_shards(directory: str | Path) -> list[Path]:
    """The clip files of a shard directory, in index order."""
    return sorted(Path(directory).glob("clip_*[0-9].npz"))


def iter_clips(directory: str | Path, body_model: BodyModel | None = None) -> Iterator[SyntheticClip]:
    """Read every clip of a shard directory in index order."""
    model = body_model if body_model is not None else load_body_model("procedural")
    for path in list_shards(directory):
        yield read_clip(path, model)
