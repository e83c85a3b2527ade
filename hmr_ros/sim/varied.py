"""Varied synthetic clips: 1-8 people with mixed motions, crossing and occluding each other in random scenes.

:func:`make_varied_clip` draws everything from one seed: the camera, lighting, background and sensor effects
(:mod:`hmr_ros.sim.scene`), and per person a shape (|beta| <= 3), a look (:mod:`hmr_ros.sim.appearance`), a
timeline of blended motions (:mod:`hmr_ros.sim.motions`) and a path. Paths integrate each motion's body-frame
velocity and yaw rate from a random heading (locomotion mostly across the image, so people cross); the path is
then placed so that at mid-clip the person is at a random depth and image column (sometimes right behind or in
front of someone already placed, for occlusions), rejecting placements where the root leaves 1.5-12 m depth
(camera optical z), projects inside the image in fewer than a third of the frames (partly outside is fine), or
comes within 0.8 m of another person at the same time. Feet stand on the floor: every frame the lowest vertex
touches y = camera height in the level frame.

Global orientation: ``R_cam = camera.R @ Rx(pi) @ Ry(heading)`` (SMPL y-up turned upright in the y-down level
frame, yawed, then pitched with the camera). Frames are rasterised with a z-buffer (:mod:`hmr_ros.render.raster`),
shaded, and every joint's occlusion is read from that z-buffer (:func:`hmr_ros.sim.clips.PersonTruth`).
"""
from __future__ import annotations

import numpy as np
import torch

from hmr_ros.geometry.projection import project
from hmr_ros.geometry.rotations import rotmat_to_axis_angle
from hmr_ros.sim.appearance import sample_appearance, shade_people, vertex_regions
from hmr_ros.clips import PersonTruth, Clip, ClipFrame, pose_bodies
from hmr_ros.sim.clips import image_annotations
from hmr_ros.sim.motions import MOTIONS, euler_to_rotmat, evaluate_timeline, sample_timeline
from hmr_ros.render.raster import Raster, rasterize, vertex_normals
from hmr_ros.sim.scene import (Camera, draw_shadow, postprocess, render_background, sample_camera, sample_lighting,
                               sample_post)
from hmr_ros.smpl.body_model import BodyModel, load_body_model

__all__ = ["make_varied_clip", "occlusion_flags", "NEAR_M", "FAR_M", "MAX_PEOPLE"]

NEAR_M, FAR_M = 1.5, 12.0
MAX_PEOPLE = 8
_PELVIS_HEIGHT_M = 0.93  # standing pelvis above the floor: placement only, before the body is posed
_MIN_GAP_M = 0.8


def occlusion_flags(raster: Raster, k: int, joints: np.ndarray, joints_2d: np.ndarray, in_image: np.ndarray
                    ) -> np.ndarray:
    """(24,) bool: joint of mesh ``k`` (camera frame (24, 3), pixels (24, 2)) whose pixel shows another mesh
    nearer than the joint. Joints outside the image are never occluded."""
    occ = np.zeros(len(joints), dtype=bool)
    idx = np.nonzero(in_image)[0]
    if len(idx) == 0:
        return occ
    ix, iy = np.floor(joints_2d[idx, 0]).astype(int), np.floor(joints_2d[idx, 1]).astype(int)
    other = raster.mesh[iy, ix]
    occ[idx] = (other >= 0) & (other != k) & (raster.depth[iy, ix] < joints[idx, 2])
    return occ


def _rot_x_pi_y(heading: np.ndarray) -> np.ndarray:
    """(T,) heading -> (T, 3, 3) Rx(pi) @ Ry(heading)."""
    c, s = np.cos(heading), np.sin(heading)
    R = np.zeros(heading.shape + (3, 3))
    R[:, 0, 0], R[:, 0, 2] = c, s
    R[:, 1, 1] = -1.0
    R[:, 2, 0], R[:, 2, 2] = s, -c
    return R


def _cumtrapz(x: np.ndarray, dt: float) -> np.ndarray:
    return np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum((x[1:] + x[:-1]) * dt / 2, axis=0)])


def _place(rng, cam: Camera, motion, dt: float, sub: int, placed: list[np.ndarray]) -> np.ndarray | None:
    """Level-frame root path (T_fine, 2) (x, z) and heading (T_fine,) for a motion, or None if no placement."""
    loco = np.abs(motion.velocity).max() > 0.2
    for _ in range(40):
        if loco and rng.random() < 0.6:
            h0 = rng.choice([-1, 1]) * np.pi / 2 + rng.uniform(-0.7, 0.7)
        else:
            h0 = rng.uniform(-np.pi, np.pi)
        heading = h0 + _cumtrapz(motion.yaw_rate, dt)
        front = np.stack([np.sin(heading), -np.cos(heading)], -1)  # body +z in the level frame (x, z)
        left = np.stack([np.cos(heading), np.sin(heading)], -1)
        pos = _cumtrapz(motion.velocity[:, :1] * front + motion.velocity[:, 1:] * left, dt)
        mid = len(pos) // 2
        if placed and rng.random() < 0.35:  # line up with someone for an occlusion
            other = placed[rng.integers(len(placed))][0]
            z = other[mid // sub * sub, 1] + rng.choice([-1, 1]) * rng.uniform(1.2, 4.0)
            x = other[mid // sub * sub, 0] * z / max(other[mid // sub * sub, 1], 1e-3) + rng.normal(0, 0.2)
        else:
            z = NEAR_M + (FAR_M - NEAR_M) * rng.random() ** 1.6  # more near people than far ones
            u = rng.uniform(-0.1, 1.1) * cam.width
            x = (u - cam.K[0, 2]) / cam.K[0, 0] * z
        path = pos - pos[mid] + np.array([x, z])
        frames = path[::sub]
        root = np.stack([frames[:, 0], np.full(len(frames), cam.height_m - _PELVIS_HEIGHT_M), frames[:, 1]], -1)
        rc = root @ cam.R.T
        if not ((rc[:, 2] > NEAR_M + 0.3).all() and (rc[:, 2] < FAR_M - 0.3).all()):
            continue
        u, v = project(rc, cam.K).T
        if ((u >= 0) & (u < cam.width) & (v >= 0) & (v < cam.height)).mean() < 1 / 3:
            continue
        if any(np.linalg.norm(p[::sub] - frames, axis=1).min() < _MIN_GAP_M for p, _ in placed):
            continue
        return path, heading
    return None


def make_varied_clip(seed: int = 0, *, num_frames: int = 16, fps: float | None = None,
                     size: tuple[int, int] | None = None, num_people: int | None = None,
                     motions: tuple[str, ...] = MOTIONS, background: str | None = None, effects: bool = True,
                     body_model: BodyModel | None = None) -> Clip:
    """Render one varied clip with exact ground truth (deterministic per seed and arguments).

    Args:
        seed: the clip's random seed (see :mod:`hmr_ros.sim.shards` for the train/bench seed namespaces).
        num_frames: T. fps: frame rate, default random 10-30. size: (width, height) pixels, default random
            from :data:`hmr_ros.sim.scene.SIZES`. num_people: default random 1..8 (fewer if they cannot be
            placed). motions: the motions to draw from. background: a style of
            :data:`hmr_ros.sim.scene.BACKGROUNDS`, default random. effects: blur, noise and JPEG.
    Returns:
        Clip whose frames list the people in track order (``track_id`` = index) with every field of
        :class:`PersonTruth` set, and ``meta`` describing the scene.
    """
    if num_frames < 1 or (num_people is not None and not 0 <= num_people <= MAX_PEOPLE):
        raise ValueError(f"make_varied_clip: need num_frames >= 1 and 0 <= num_people <= {MAX_PEOPLE}, got "
                         f"{num_frames}, {num_people}")
    model = body_model if body_model is not None else load_body_model("procedural")
    rng = np.random.default_rng(seed)
    cam = sample_camera(rng, size)
    light = sample_lighting(rng, cam)
    bg = render_background(rng, cam, light, background)
    post = sample_post(rng)
    fps = float(rng.uniform(10.0, 30.0)) if fps is None else float(fps)
    P = int(rng.integers(1, MAX_PEOPLE + 1)) if num_people is None else num_people
    sub = int(np.ceil(60.0 / fps))  # integrate root motion at >= 60 Hz
    dt = 1.0 / (fps * sub)
    t_fine = np.arange((num_frames - 1) * sub + 1) * dt

    placed, people = [], []
    for _ in range(P):
        segs = sample_timeline(rng, float(t_fine[-1]), motions)
        motion = evaluate_timeline(segs, t_fine)
        where = _place(rng, cam, motion, dt, sub, placed)
        if where is None:
            continue
        placed.append(where)
        betas = np.clip(rng.normal(0.0, 1.1, model.num_betas), -3.0, 3.0).astype(np.float32)
        people.append((where, motion, betas, sample_appearance(rng)))

    T = num_frames
    faces = np.asarray(model.faces)
    rest = model.v_template.numpy().astype(np.float64)
    rest_joints = (model.J_regressor @ model.v_template).numpy()
    face_region = vertex_regions(model.lbs_weights.numpy(), rest, rest_joints)[faces[:, 0]]
    gt = []  # per person: dict of (T, ...) arrays
    for (path, heading), motion, betas, _ in people:
        R = euler_to_rotmat(motion.euler[::sub])  # (T, 24, 3, 3) local
        R[:, 0] = cam.R @ _rot_x_pi_y(heading[::sub])
        aa = rotmat_to_axis_angle(torch.as_tensor(R)).numpy().astype(np.float32)
        go, bp = aa[:, 0], aa[:, 1:].reshape(T, 69)
        bb = np.tile(betas, (T, 1))
        v_rel, j_rel = pose_bodies(model, bb, go, bp, np.zeros((T, 3), np.float32))
        lv = v_rel.astype(np.float64) @ cam.R  # level frame (rows R^T v)
        root_l = j_rel[:, 0].astype(np.float64) @ cam.R
        t_l = np.stack([path[::sub, 0] - root_l[:, 0], cam.height_m - lv[..., 1].max(1), path[::sub, 1] - root_l[:, 2]], -1)
        transl = (t_l @ cam.R.T).astype(np.float32)
        # what pose_bodies(model, bb, go, bp, transl) returns (the shard reader's path), without posing twice
        verts, joints = v_rel + transl[:, None], j_rel + transl[:, None]
        gt.append(dict(go=go, bp=bp, betas=betas, transl=transl, verts=verts, joints=joints,
                       label=motion.label[::sub], foot=(path[::sub])))

    frames = []
    for t in range(T):
        meshes = [g["verts"][t] for g in gt]
        raster = rasterize(meshes, faces, cam.K, cam.width, cam.height)
        img = bg.rgb.copy()
        if bg.style != "clutter":
            for g in gt:
                draw_shadow(img, bg, cam, light, g["foot"][t])
        looks = [(m.astype(np.float64), vertex_normals(m.astype(np.float64), faces), p[3]) for m, p in zip(meshes, people)]
        shade_people(img, raster, looks, faces, rest, face_region, light)
        rgb = postprocess(img, post, rng) if effects else img
        frame_people = []
        for k, g in enumerate(gt):
            ann = image_annotations(cam.K, g["joints"][t], g["verts"][t], cam.width, cam.height)
            occ = occlusion_flags(raster, k, g["joints"][t], ann["joints_2d"], ann["joints_in_image"])
            frame_people.append(PersonTruth(
                betas=g["betas"], global_orient=g["go"][t], body_pose=g["bp"][t], translation=g["transl"][t],
                joints=g["joints"][t], vertices=g["verts"][t], **ann, joints_occluded=occ,
                joints_visible=ann["joints_in_image"] & ~occ, visible_pixels=int((raster.mesh == k).sum()),
                motion=MOTIONS[int(g["label"][t])], track_id=k))
        frames.append(ClipFrame(rgb=rgb, stamp=t / fps, people=frame_people))
    meta = {"seed": int(seed), "width": cam.width, "height": cam.height, "camera_height_m": cam.height_m,
            "pitch_rad": cam.pitch, "hfov_rad": cam.hfov, "background": bg.style, "light_intensity": light.intensity,
            "ambient": light.ambient, "blur_sigma": post.blur_sigma, "noise_sigma": post.noise_sigma,
            "jpeg_quality": post.jpeg_quality, "effects": bool(effects)}
    return Clip(frames=frames, K=cam.K, fps=fps, faces=faces, meta=meta)
