"""Clips on disk: one compressed ``.npz`` per clip (``render-shards`` writes them, training and evaluation read them),
read without pickle.

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
meta_json              () str               ``Clip.meta`` as JSON
betas                  (T, P, 10) float32
global_orient          (T, P, 3) float32    axis-angle, camera optical frame
body_pose              (T, P, 69) float32   axis-angle
translation            (T, P, 3) float32    metres
joints_2d, box,        (T, P, 24, 2),       float32 pixels (see ``PersonTruth``)
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
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from hmr_ros.clips import Clip, ClipFrame, PersonTruth, pose_bodies
from hmr_ros.smpl.body_model import BodyModel, load_body_model

__all__ = ["VERSION", "write_clip", "read_clip", "list_shards", "iter_clips"]

VERSION = 1
_FLOAT_KEYS = ("global_orient", "body_pose", "translation", "joints_2d", "box", "centre")
_OPTIONAL_KEYS = ("joints_occluded", "joints_visible", "visible_pixels")


def _encode(rgb: np.ndarray, image_format: str, quality: int) -> np.ndarray:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if image_format == "jpeg":
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    elif image_format == "png":
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    else:
        raise ValueError(f"image_format must be 'jpeg' or 'png', got {image_format!r}")
    if not ok:
        raise ValueError(f"could not encode a {rgb.shape} frame as {image_format}")
    return buf.ravel()


def write_clip(path: str | Path, clip: Clip, image_format: str = "jpeg", quality: int = 95) -> Path:
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


def read_clip(path: str | Path, body_model: BodyModel | None = None) -> Clip:
    """Read a clip written by :func:`write_clip` (no pickle); vertices and joints are recomputed."""
    model = body_model if body_model is not None else load_body_model("procedural")
    with np.load(path, allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    T, P = a["motion"].shape
    if P and int(a["num_vertices"]) != model.num_vertices:
        raise ValueError(f"read_clip: {path} was rendered with a {int(a['num_vertices'])}-vertex body model, "
                         f"got {model.num_vertices} vertices")
    off = a["image_offsets"]
    rgbs = [cv2.cvtColor(cv2.imdecode(a["images"][off[t]:off[t + 1]], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            for t in range(T)]
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
            people.append(PersonTruth(
                betas=a["betas"][t, k], global_orient=a["global_orient"][t, k], body_pose=a["body_pose"][t, k],
                translation=a["translation"][t, k], joints=geo[k][1][t], vertices=geo[k][0][t], **extra,
                motion=str(a["motion"][t, k]) or None, track_id=int(a["track_id"][t, k])))
        frames.append(ClipFrame(rgb=rgbs[t], stamp=float(a["stamps"][t]), people=people))
    return Clip(frames=frames, K=a["K"], fps=float(a["fps"]), faces=model.faces,
                         meta=json.loads(str(a["meta_json"])))


def list_shards(directory: str | Path) -> list[Path]:
    """The clip files of a shard directory, in index order."""
    return sorted(Path(directory).glob("clip_*[0-9].npz"))


def iter_clips(directory: str | Path, body_model: BodyModel | None = None) -> Iterator[Clip]:
    """Read every clip of a shard directory in index order."""
    model = body_model if body_model is not None else load_body_model("procedural")
    for path in list_shards(directory):
        yield read_clip(path, model)
