"""Synthetic video with ground truth: people walking across a floor-and-wall scene (demo and tests).

Camera: pinhole at height ``CAMERA_HEIGHT_M`` above a flat floor, looking horizontally; optical frame
x right, y down, z forward; focal length ``0.9 * min(W, 4H/3)`` pixels, principal point at the image
centre. The SMPL body (y up, facing +z) is turned upright in this frame by a 180-degree rotation about x,
then yawed about the body's vertical axis to face its walking direction: the global orientation is
``R = Rx(pi) @ Ry(heading)``. People walk roughly parallel to the image plane at 3-6 m, feet on the floor.

Ground truth follows :class:`hmr_ros.bodies.Body`: ``vertices = body_model(betas, pose) + translation``,
all in metres in the camera optical frame.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from hmr_ros.clips import Clip, ClipFrame, PersonTruth
from hmr_ros.smpl.body_model import BodyModel, load_body_model
from hmr_ros.geometry.projection import project
from hmr_ros.geometry.rotations import axis_angle_to_rotmat, rotmat_to_axis_angle
from hmr_ros.palette import person_color_u8 as person_color
from hmr_ros.render.meshes import render_meshes

__all__ = ["make_clip", "walking_pose", "CAMERA_HEIGHT_M"]

CAMERA_HEIGHT_M = 1.0
_NEAR_Z_M, _FAR_Z_M = 3.2, 5.8
_WALL_Z_M = 9.0
_SIDE_MARGIN_M = 0.5  # half-width of a walking body incl. swinging arms, kept inside the image


def image_annotations(K: np.ndarray, joints: np.ndarray, vertices: np.ndarray, width: int, height: int) -> dict:
    """joints_2d, joints_in_image, box, centre of one person (see :class:`PersonTruth`), float32."""
    uv = project(joints, K, nan_behind_camera=True)
    inside = np.isfinite(uv).all(-1) & (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (uv[:, 1] < height)
    vuv = project(vertices, K, nan_behind_camera=True)
    vuv = vuv[np.isfinite(vuv).all(-1)]
    box = np.r_[vuv.min(0), vuv.max(0)] if len(vuv) else np.full(4, np.nan)
    return {"joints_2d": uv.astype(np.float32), "joints_in_image": inside, "box": box.astype(np.float32),
            "centre": uv[0].astype(np.float32)}


def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """(T,) angles -> (T, 3, 3) rotations about a coordinate axis."""
    aa = np.zeros(np.shape(angle) + (3,))
    aa[..., axis] = angle
    return axis_angle_to_rotmat(torch.as_tensor(aa)).numpy()


def walking_pose(phase: np.ndarray) -> np.ndarray:
    """Local SMPL joint rotations of a simple walk cycle.

    Args:
        phase: (T,) gait phase, radians (2 pi per stride: left step + right step).
    Returns:
        (T, 24, 3, 3) rotations; joint 0 (global orientation) is identity. Hips swing about x (negative =
        leg forward), knees flex in the swing phase, arms hang down (shoulders about z) and swing opposite
        to the legs, elbows slightly bent.
    """
    T = len(phase)
    R = np.tile(np.eye(3), (T, 24, 1, 1))
    s, c = np.sin(phase), np.cos(phase)
    hip = 0.45 * s
    R[:, 1] = _rot(0, -hip)
    R[:, 2] = _rot(0, hip)
    R[:, 4] = _rot(0, 0.1 + 0.8 * np.maximum(0.0, c) ** 2)
    R[:, 5] = _rot(0, 0.1 + 0.8 * np.maximum(0.0, -c) ** 2)
    R[:, 7] = _rot(0, -0.15 * s)
    R[:, 8] = _rot(0, 0.15 * s)
    R[:, 3] = _rot(1, 0.06 * s)  # counter-rotation of the torso
    swing = 0.35 * s
    R[:, 16] = _rot(0, swing) @ _rot(2, np.full(T, -1.25))
    R[:, 17] = _rot(0, -swing) @ _rot(2, np.full(T, 1.25))
    R[:, 18] = _rot(1, np.full(T, -0.3) - 0.15 * np.maximum(0.0, -s))
    R[:, 19] = _rot(1, np.full(T, 0.3) + 0.15 * np.maximum(0.0, s))
    return R


def _background(width: int, height: int, K: np.ndarray) -> np.ndarray:
    """Textured floor (0.5 m checker) in front of a striped wall at ``_WALL_Z_M``, analytic ray casting."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    u = (np.arange(width) + 0.5 - cx) / fx
    v = (np.arange(height) + 0.5 - cy) / fy
    uu, vv = np.meshgrid(u, v)
    with np.errstate(divide="ignore"):
        z_floor = np.where(vv > 0, CAMERA_HEIGHT_M / np.maximum(vv, 1e-9), np.inf)
    floor = z_floor < _WALL_Z_M
    z = np.where(floor, z_floor, _WALL_Z_M)
    x, y = uu * z, vv * z
    img = np.empty((height, width, 3), dtype=np.float32)
    checker = ((np.floor(x / 0.5) + np.floor(z / 0.5)) % 2)[..., None]
    fade = np.clip(1.0 - (z - 2.0) / 12.0, 0.5, 1.0)[..., None]
    floor_rgb = (np.array([150, 140, 120]) + 40 * checker) * fade
    stripes = ((np.floor(x / 0.4) % 2) * 18 + (np.floor((CAMERA_HEIGHT_M - y) / 0.25) % 2) * 8)[..., None]
    wall_rgb = np.array([170, 180, 190]) - stripes - 30 * np.clip((y + 2.0) / 4.0, 0, 1)[..., None]
    img[:] = np.where(floor[..., None], floor_rgb, wall_rgb)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_clip(
    num_frames: int = 48,
    width: int = 640,
    height: int = 480,
    num_people: int = 2,
    fps: float = 15.0,
    seed: int = 0,
    body_model: BodyModel | None = None,
    colors: Sequence[tuple[int, int, int]] | None = None,
) -> Clip:
    """Render a clip of ``num_people`` people walking across the scene, with ground truth.

    ``colors``: RGB 0-255 of person i (at least ``num_people`` of them); None = ``person_color_u8(i)``, the RViz
    colours (the demo passes others so its overlays can tell a rendered person from a published mesh).

    Deterministic for a given seed (and body model). Each person gets random betas (|beta| <= 2), a depth
    in its own band of 3.2-5.8 m (bands keep people from interpenetrating), a walking direction, speed and
    gait phase; the path is chosen so the whole body stays inside the image in every frame.
    """
    if colors is not None and len(colors) < num_people:
        raise ValueError(f"make_clip: {len(colors)} colors for {num_people} people")
    if num_frames < 1 or width < 16 or height < 16 or num_people < 0 or not fps > 0:
        raise ValueError(
            f"make_clip: need num_frames >= 1, width/height >= 16, num_people >= 0, fps > 0; got "
            f"{num_frames}, {width}x{height}, {num_people}, {fps}"
        )
    model = body_model if body_model is not None else load_body_model("procedural")
    rng = np.random.default_rng(seed)
    f = 0.9 * min(width, 4.0 * height / 3.0)
    K = np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])
    stamps = np.arange(num_frames) / fps
    duration = stamps[-1]
    background = _background(width, height, K)

    band = (_FAR_Z_M - _NEAR_Z_M) / max(num_people, 1)
    per_person = []  # (betas, R (T,24,3,3), transl base (T,3))
    for i in range(num_people):
        z0 = _NEAR_Z_M + band * (i + rng.uniform(0.25, 0.75))
        direction = 1.0 if (i + rng.integers(2)) % 2 == 0 else -1.0
        heading = direction * (np.pi / 2) + rng.uniform(-0.15, 0.15)
        x_half = z0 * (width / 2.0) / f - _SIDE_MARGIN_M  # visible half-width at this depth
        speed = min(rng.uniform(0.7, 1.1), 1.6 * x_half / max(duration, 1e-6))
        front = np.array([np.sin(heading), 0.0, -np.cos(heading)])  # body +z in the camera frame
        travel = speed * duration
        x_start = rng.uniform(-1.0, 1.0) * max(0.0, x_half - travel / 2) - front[0] * travel / 2
        path = np.array([x_start, 0.0, z0])[None] + stamps[:, None] * speed * front[None]
        betas = np.clip(rng.normal(0.0, 0.8, model.num_betas), -2.0, 2.0)
        # ~0.9 strides per second at 1 m/s, scaled with speed
        phase = rng.uniform(0, 2 * np.pi) + 2 * np.pi * 0.9 * (0.6 + 0.4 * speed) * stamps
        R = walking_pose(phase)
        R[:, 0] = _rot(0, np.full(num_frames, np.pi)) @ _rot(1, np.full(num_frames, heading))
        per_person.append((betas, R, path))

    people_frames: list[list[PersonTruth]] = [[] for _ in range(num_frames)]
    with torch.no_grad():
        for betas, R, path in per_person:
            out = model(
                torch.as_tensor(np.tile(betas, (num_frames, 1)), dtype=torch.float32),
                torch.as_tensor(R, dtype=torch.float32),
            )
            verts = out.vertices.double().numpy()
            joints = out.joints.double().numpy()
            aa = rotmat_to_axis_angle(torch.as_tensor(R)).numpy()  # (T, 24, 3)
            for t in range(num_frames):
                # feet on the floor: the lowest point (largest y, y points down) touches y = camera height
                transl = path[t] + np.array([0.0, CAMERA_HEIGHT_M - verts[t, :, 1].max(), 0.0])
                j = (joints[t] + transl).astype(np.float32)
                v = (verts[t] + transl).astype(np.float32)
                people_frames[t].append(
                    PersonTruth(
                        betas=betas.astype(np.float32),
                        global_orient=aa[t, 0].astype(np.float32),
                        body_pose=aa[t, 1:].reshape(-1).astype(np.float32),
                        translation=transl.astype(np.float32),
                        joints=j,
                        vertices=v,
                        **image_annotations(K, j, v, width, height),
                        motion="walk",
                        track_id=len(people_frames[t]),
                    )
                )

    frames = []
    for t in range(num_frames):
        people = people_frames[t]
        rgb = render_meshes(
            background, [p.vertices for p in people], model.faces, K,
            colors=[person_color(i) if colors is None else tuple(colors[i]) for i in range(len(people))], alpha=1.0,
        )
        frames.append(ClipFrame(rgb=rgb, stamp=float(stamps[t]), people=people))
    return Clip(frames=frames, K=K, fps=float(fps), faces=model.faces)
