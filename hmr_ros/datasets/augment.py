"""Augmentation of any clip (rendered or real, ``Clip``): horizontal flip with the left/right joint swap,
colour jitter, and (from ``training.dataset``) the random crop that zooms in. One random draw per clip, so every
frame of a window gets the same transform and the motion stays consistent.

Flip: the image is mirrored about its vertical centre line; in the camera frame that is the reflection x -> -x
with the principal point mirrored too (cx -> W - cx, pixel u -> W - u). A reflected SMPL body is the SMPL body of
the mirrored pose: left and right joints swap their rotations and every axis-angle has its y and z components
negated; the translation is then chosen so the pelvis lands on the reflected pelvis. The betas are kept (SMPL's
shape space is left/right symmetric up to the template's small asymmetry, which moves the other joints by
millimetres). A person known by joints only (``smpl`` False) has them mirrored and their left and right slots
swapped; for 2D keypoints stored as rays the reflection is the same (u -> W - u).
"""
from __future__ import annotations

import numpy as np

from hmr_ros.datasets.people import joints_person, posed_person
from hmr_ros.smpl.kinematic_tree import SMPL_JOINT_NAMES
from hmr_ros.clips import Clip, ClipFrame, random_crop


def _mirror_index() -> np.ndarray:
    names = list(SMPL_JOINT_NAMES)
    swap = {"left_": "right_", "right_": "left_"}
    return np.array([names.index(next((swap[p] + n[len(p):] for p in swap if n.startswith(p)), n)) for n in names])


MIRROR = _mirror_index()  # SMPL joint i of the flipped body is joint MIRROR[i] of the original


def mirror_pose(pose: np.ndarray) -> np.ndarray:
    """(72,) or (24, 3) axis-angle -> the pose of the mirrored body (same shape)."""
    aa = np.asarray(pose, np.float64).reshape(24, 3)[MIRROR] * [1.0, -1.0, -1.0]
    return aa.reshape(np.shape(pose))


def flip_clip(clip: Clip, body_model) -> Clip:
    """The clip mirrored left-right, people re-posed as their mirror images (see the module doc)."""
    width = clip.frames[0].rgb.shape[1]
    K = np.array(clip.K, np.float64)
    K[0, 2] = width - K[0, 2]
    frames = []
    for frame in clip.frames:
        people = []
        for p in frame.people:
            if not p.smpl and not (np.isfinite(p.joints[0]).all() and p.joints[0][2] > 0):
                people.append(p)  # an absent slot (``people.absent_person``): nothing to mirror
                continue
            if not p.smpl:  # known by joints only: mirror them and swap left and right slots
                relative = None if p.relative is None else np.asarray(p.relative)[MIRROR] * [-1.0, 1.0, 1.0, 1.0]
                people.append(joints_person(np.asarray(p.joints)[MIRROR] * [-1.0, 1.0, 1.0], K, p.track_id, p.metric,
                                            relative))
                continue
            pose = mirror_pose(np.r_[p.global_orient, p.body_pose])
            at_origin = posed_person(body_model, p.betas, pose[:3], pose[3:], np.zeros(3), K, p.track_id)
            root = np.asarray(p.joints[0], np.float64) * [-1.0, 1.0, 1.0]
            people.append(posed_person(body_model, p.betas, pose[:3], pose[3:], root - at_origin.joints[0], K,
                                       p.track_id))
        frames.append(ClipFrame(np.ascontiguousarray(frame.rgb[:, ::-1]), frame.stamp, people))
    return Clip(frames, K, clip.fps, clip.faces, {**clip.meta, "flipped": True})


def jitter_colour(clip: Clip, rng: np.random.Generator, strength: float = 0.2) -> Clip:
    """Brightness, contrast and per-channel gain, each drawn once in [1 - strength, 1 + strength]."""
    gain = rng.uniform(1 - strength, 1 + strength, 3)
    contrast, brightness = rng.uniform(1 - strength, 1 + strength, 2)
    frames = []
    for frame in clip.frames:
        x = frame.rgb.astype(np.float32)
        mean = x.mean()
        x = ((x - mean) * contrast + mean) * brightness * gain
        frames.append(ClipFrame(np.clip(x, 0, 255).astype(np.uint8), frame.stamp, frame.people))
    return Clip(frames, clip.K, clip.fps, clip.faces, clip.meta)


def augment(clip: Clip, rng: np.random.Generator, body_model, zoom: tuple[float, float] = (0.7, 1.0),
            flip: float = 0.5, colour: float = 0.2) -> Clip:
    """Random crop (zoom), a flip with probability ``flip``, colour jitter of ``colour`` (0 = off)."""
    clip = random_crop(clip, rng, zoom)
    if rng.random() < flip:
        clip = flip_clip(clip, body_model)
    return jitter_colour(clip, rng, colour) if colour > 0 else clip
