"""The clip: frames of one camera with the people in them, the one data type every clip source gives and every
consumer takes -- the simulator (``sim``), the datasets (3DPW, BEDLAM, AGORA, Panoptic, COCO, pseudo-labels, shards),
training and evaluation. ROS-free and simulator-free.

Units and frames follow :class:`hmr_ros.bodies.Body`: ``vertices = body_model(betas, pose) + translation``, metres in
the camera optical frame (x right, y down, z forward); pixels (u right, v down) for image quantities.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from hmr_ros.bodies import PosedSMPL
from hmr_ros.geometry.rotations import axis_angle_to_rotmat
from hmr_ros.smpl.body_model import BodyModel

__all__ = ["PersonTruth", "ClipFrame", "Clip", "pose_bodies", "crop_clip", "random_crop"]


@dataclass
class PersonTruth(PosedSMPL):
    """One person in one frame: :class:`PosedSMPL` and what is known of them in the image; pixels for image
    quantities.

    Attributes:
        joints_2d: (24, 2) float32 pixel coordinates (u right, v down; pixel (x, y) spans [x, x+1)) of the
            projected joints (NaN for a joint behind the camera).
        joints_in_image: (24,) bool, in front of the camera and projecting inside the image.
        joints_occluded: (24,) bool, another person's surface is nearer than the joint at its pixel (z-buffer);
            the person's own body in front of a joint (self-occlusion) does not count. None where not computed
            (:func:`make_clip`).
        joints_visible: (24,) bool, ``joints_in_image & ~joints_occluded`` (None where occlusion is not computed).
        box: (4,) float32 (x0, y0, x1, y1) pixels, the amodal box of the projected vertices (not clipped).
        centre: (2,) float32 pixels, the projected root joint (``joints_2d[0]``).
        visible_pixels: pixels where this person is the nearest surface (None where not computed).
        motion: label from :data:`hmr_ros.sim.motions.MOTIONS` ("walk" in :func:`make_clip`).
        track_id: index of the person in the clip (the same person has the same id in every frame).
        smpl: the SMPL parameters are ground truth (False for a real dataset's person known by joints only: the
            parameters are placeholders). metric: ``joints`` are metric 3D (False: 2D keypoints stored as rays at
            1 m depth). Joints a dataset does not annotate are NaN.
        relative: (24, 4) root-relative joints (x, y, z metres, camera axes) and their weight in [0, 1], for a
            person whose 3D pose is known without their position (a keypoint teacher's world landmarks); weight 0
            where unknown. None: not known this way.
    """

    joints_2d: np.ndarray | None = None
    joints_in_image: np.ndarray | None = None
    joints_occluded: np.ndarray | None = None
    joints_visible: np.ndarray | None = None
    box: np.ndarray | None = None
    centre: np.ndarray | None = None
    visible_pixels: int | None = None
    motion: str | None = None
    track_id: int | None = None
    smpl: bool = True
    metric: bool = True
    relative: np.ndarray | None = None


@dataclass
class ClipFrame:
    """rgb: (H, W, 3) uint8 RGB; stamp: seconds; people: ground truth, in drawing order (far first)."""

    rgb: np.ndarray
    stamp: float
    people: list[PersonTruth]


@dataclass
class Clip:
    """frames; K: (3, 3) intrinsics; fps; faces: (F, 3) of the body model used; meta: scene description
    (plain numbers and strings: seed, camera height/pitch/FoV, background style, ...; empty for make_clip)."""

    frames: list[ClipFrame]
    K: np.ndarray
    fps: float
    faces: np.ndarray
    meta: dict = field(default_factory=dict)


def pose_bodies(model: BodyModel, betas: np.ndarray, global_orient: np.ndarray, body_pose: np.ndarray,
                translation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N, V, 3) and joints (N, 24, 3), float32 metres, from float32 ground truth: betas (N, 10),
    global_orient (N, 3), body_pose (N, 69), translation (N, 3). The one path from stored ground truth to
    geometry, shared by the renderer and the shard reader so both get the same numbers."""
    aa = np.concatenate([global_orient, body_pose], axis=1).reshape(-1, 24, 3)
    threads = torch.get_num_threads()
    # one thread: batches of a few bodies gain nothing from more, lose a lot on a busy machine, and a fixed
    # thread count keeps the floating-point reduction order (so the shard reader's numbers) the same
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            # contiguous copies: torch may pick another (differently rounding) kernel for strided views
            out = model(torch.as_tensor(np.ascontiguousarray(betas, np.float32)),
                        axis_angle_to_rotmat(torch.as_tensor(np.ascontiguousarray(aa, np.float32))))
    finally:
        torch.set_num_threads(threads)
    t = np.ascontiguousarray(translation, np.float32)[:, None]
    return out.vertices.numpy() + t, out.joints.numpy() + t


def crop_clip(clip: Clip, x0: int, y0: int, width: int, height: int) -> Clip:
    """The same clip seen through a smaller sensor: every frame cropped to ``[x0, x0 + width) x [y0, y0 + height)``,
    the principal point moved by (-x0, -y0). Ground truth in the camera frame (metres) is unchanged.

    The 2D annotations follow the crop, where a person has them: ``joints_2d``, ``centre`` and ``box`` move by
    (-x0, -y0) pixels (the box stays amodal: it may extend past the crop), ``joints_in_image`` is recomputed for the
    cropped image and ``joints_visible = joints_in_image & ~joints_occluded`` (occlusion at a joint's pixel does not
    depend on the crop). ``visible_pixels`` counts the uncropped frame and cannot be recounted without the z-buffer,
    so it becomes None. ``meta`` is kept, with ``crop = [x0, y0, width, height]`` added.
    """
    h, w = clip.frames[0].rgb.shape[:2]
    if not (0 <= x0 and 0 <= y0 and 16 <= width and 16 <= height and x0 + width <= w and y0 + height <= h):
        raise ValueError(f"crop_clip: crop {width}x{height}+{x0}+{y0} does not fit the {w}x{h} frames "
                         "(or is smaller than 16 px)")
    K = np.array(clip.K, dtype=np.float64)
    K[0, 2] -= x0
    K[1, 2] -= y0
    shift2 = np.array([x0, y0], dtype=np.float32)

    def moved(person):
        if person.joints_2d is None:
            return person
        uv = np.asarray(person.joints_2d, np.float32) - shift2
        with np.errstate(invalid="ignore"):  # NaN for joints behind the camera: never inside
            inside = np.isfinite(uv).all(-1) & (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (
                uv[:, 1] < height)
        changes = dict(joints_2d=uv, joints_in_image=inside, visible_pixels=None)
        if person.centre is not None:
            changes["centre"] = np.asarray(person.centre, np.float32) - shift2
        if person.box is not None:
            changes["box"] = np.asarray(person.box, np.float32) - np.tile(shift2, 2)
        if person.joints_occluded is not None:
            changes["joints_visible"] = inside & ~np.asarray(person.joints_occluded, bool)
        return dataclasses.replace(person, **changes)

    frames = [type(f)(rgb=np.ascontiguousarray(f.rgb[y0:y0 + height, x0:x0 + width]), stamp=f.stamp,
                      people=[moved(p) for p in f.people]) for f in clip.frames]
    return Clip(frames=frames, K=K, fps=clip.fps, faces=clip.faces,
                         meta={**clip.meta, "crop": [int(x0), int(y0), int(width), int(height)]})


def random_crop(clip: Clip, rng: np.random.Generator, zoom: tuple[float, float]) -> Clip:
    """:func:`crop_clip` to a side of ``uniform(*zoom)`` times the image's (aspect ratio kept, at least 16 px),
    placed uniformly at random: the augmentation of both datasets."""
    height, width = clip.frames[0].rgb.shape[:2]
    side = rng.uniform(*zoom)
    cw, ch = max(16, round(width * side)), max(16, round(height * side))
    return crop_clip(clip, int(rng.integers(width - cw + 1)), int(rng.integers(height - ch + 1)), cw, ch)
