"""Synthetic multi-person motion with ground truth and a simulated detector, for tracking evaluation.

No rendering: people are SMPL parameter sequences (walking = straight paths + sinusoidal gait rotations)
posed by a small forward-kinematics skeleton of the SMPL joint tree (:class:`KinematicSkeleton`, fixed bone
offsets, stature scaled by betas[0]; it has the body-model call signature, so the tracker can re-pose with
it). The detector adds what a real one adds: Gaussian noise on translation and joint rotations, noisy
betas, boxes from the projected noisy joints (pinhole K), random misses, occlusion misses (a person whose
box is mostly covered by a nearer person's box is not detected, plus scripted occlusion windows), and a
shuffled output order every frame. The metrics are in :mod:`hmr_ros.eval.tracking`.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from hmr_ros.bodies import Body
from hmr_ros.geometry.projection import project
from hmr_ros.geometry.rotations_np import quat_from_rotvec, quat_mul, rotmat_from_rotvec, rotvec_from_quat
from hmr_ros.smpl.kinematic_tree import NUM_JOINTS, SMPL_PARENTS
from hmr_ros.smpl.lbs import batch_rigid_transform

# ----------------------------------------------------------------------------------------------------------
# Skeleton
# ----------------------------------------------------------------------------------------------------------

# Bone offsets (child - parent, metres, SMPL model frame: y up, x to the body's left, z forward), chosen by
# hand from adult proportions (1.75 m, T-pose). Joint 0 (pelvis) sits 0.2 m below the model origin, as in
# SMPL, so the translation differs from the root position.
_BONE_OFFSETS_M = (
    (0.0, -0.20, 0.0),      # 0 pelvis (absolute)
    (0.06, -0.09, 0.0),     # 1 left hip
    (-0.06, -0.09, 0.0),    # 2 right hip
    (0.0, 0.11, -0.02),     # 3 spine1
    (0.04, -0.38, 0.0),     # 4 left knee
    (-0.04, -0.38, 0.0),    # 5 right knee
    (0.0, 0.13, 0.0),       # 6 spine2
    (-0.01, -0.40, -0.04),  # 7 left ankle
    (0.01, -0.40, -0.04),   # 8 right ankle
    (0.0, 0.05, 0.02),      # 9 spine3
    (0.03, -0.06, 0.12),    # 10 left foot
    (-0.03, -0.06, 0.12),   # 11 right foot
    (0.0, 0.22, -0.03),     # 12 neck
    (0.08, 0.12, -0.01),    # 13 left collar
    (-0.08, 0.12, -0.01),   # 14 right collar
    (0.0, 0.08, 0.05),      # 15 head
    (0.12, 0.04, -0.02),    # 16 left shoulder
    (-0.12, 0.04, -0.02),   # 17 right shoulder
    (0.26, 0.0, -0.02),     # 18 left elbow
    (-0.26, 0.0, -0.02),    # 19 right elbow
    (0.25, 0.01, 0.0),      # 20 left wrist
    (-0.25, 0.01, 0.0),     # 21 right wrist
    (0.08, -0.01, -0.01),   # 22 left hand
    (-0.08, -0.01, -0.01),  # 23 right hand
)


@dataclass
class SkeletonOutput:
    """joints (N, 24, 3) metres, model frame; vertices is the same tensor (the skeleton has no mesh)."""

    joints: torch.Tensor
    vertices: torch.Tensor


class KinematicSkeleton(torch.nn.Module):
    """Forward kinematics of the SMPL joint tree with fixed bone offsets (a stand-in body model).

    ``forward(betas (N, 10), rotmats (N, 24, 3, 3)) -> SkeletonOutput`` with joints in the model frame;
    like SMPL, the root rotates about joint 0, and camera-frame joints are ``joints + translation``.
    Stature scales by ``1 + 0.05 * betas[:, 0]``.
    """

    def __init__(self) -> None:
        super().__init__()
        # Rest joints = bone offsets summed from the root (float64 sum, so each bone is exact to float32).
        offsets = np.asarray(_BONE_OFFSETS_M, dtype=np.float64)
        rest = offsets.copy()
        for j in range(1, NUM_JOINTS):
            rest[j] = rest[SMPL_PARENTS[j]] + offsets[j]
        self.register_buffer("rest_joints", torch.tensor(rest, dtype=torch.float32))

    def forward(self, betas: torch.Tensor, rotmats: torch.Tensor) -> SkeletonOutput:
        if betas.ndim != 2 or rotmats.shape[1:] != (NUM_JOINTS, 3, 3) or betas.shape[0] != rotmats.shape[0]:
            raise ValueError(
                f"KinematicSkeleton expected betas (N, 10) and rotmats (N, {NUM_JOINTS}, 3, 3), got "
                f"{tuple(betas.shape)} and {tuple(rotmats.shape)}"
            )
        # Scaling every rest joint about the model origin scales every bone by the same factor.
        scale = (1.0 + 0.05 * betas[:, :1]).unsqueeze(-1)  # (N, 1, 1)
        joints, _ = batch_rigid_transform(rotmats, self.rest_joints.unsqueeze(0) * scale, SMPL_PARENTS)
        return SkeletonOutput(joints=joints, vertices=joints)


def pose_joints(skeleton: KinematicSkeleton, betas: np.ndarray, rotvecs: np.ndarray,
                translation: np.ndarray) -> np.ndarray:
    """Camera-frame joints (N, 24, 3) m from betas (N, 10), axis-angle (N, 24, 3), translation (N, 3) m."""
    rotmats = rotmat_from_rotvec(rotvecs)
    with torch.no_grad():
        out = skeleton(torch.as_tensor(betas, dtype=torch.float32), torch.as_tensor(rotmats, dtype=torch.float32))
    return out.joints.numpy().astype(np.float64) + translation[:, None, :]


# ----------------------------------------------------------------------------------------------------------
# Ground truth motion
# ----------------------------------------------------------------------------------------------------------
@dataclass
class ScenarioPerson:
    """Ground truth of one person over the T frames of a scenario (present[t] False: not in the scene)."""

    present: np.ndarray  # (T,) bool
    betas: np.ndarray  # (10,)
    rotvecs: np.ndarray  # (T, 24, 3) axis-angle, joint 0 = global orient (camera frame)
    translation: np.ndarray  # (T, 3) m
    joints: np.ndarray  # (T, 24, 3) m, camera frame
    token: np.ndarray  # (D,) unit appearance vector


@dataclass
class Scenario:
    """A synthetic scene: camera, people, and the detector's scripted occlusions."""

    name: str
    fps: float
    K: np.ndarray  # (3, 3) pinhole intrinsics, pixels
    image_size: tuple[int, int]  # (width, height) pixels
    people: list[ScenarioPerson]
    # (person index, first frame, number of frames) during which the detector misses that person.
    scripted_occlusions: list[tuple[int, int, int]] = field(default_factory=list)
    auto_occlusion: bool = True
    # A person is missed when this fraction of its box lies under the box of a nearer person.
    occlusion_coverage: float = 0.6

    @property
    def num_frames(self) -> int:
        return len(self.people[0].present)

    @property
    def stamps(self) -> np.ndarray:
        return np.arange(self.num_frames) / self.fps

    @functools.cached_property
    def boxes(self) -> np.ndarray:
        """(P, T, 4) ground-truth boxes, pixels."""
        return np.stack([joints_box(self.K, p.joints) for p in self.people])

    @functools.cached_property
    def in_view(self) -> np.ndarray:
        """(P, T) bool: present, in front of the camera, root projecting inside the image."""
        roots = np.stack([p.joints[:, 0] for p in self.people])  # (P, T, 3)
        uv = project(roots, self.K)
        w, h = self.image_size
        present = np.stack([p.present for p in self.people])
        return (present & (roots[..., 2] > 0.5) & (uv[..., 0] >= 0) & (uv[..., 0] < w)
                & (uv[..., 1] >= 0) & (uv[..., 1] < h))

    @functools.cached_property
    def occluded(self) -> np.ndarray:
        """(P, T) bool: in view but hidden (scripted windows, or covered by a nearer person's box)."""
        hidden = np.zeros_like(self.in_view)
        for i, start, n in self.scripted_occlusions:
            hidden[i, start:start + n] = True
        if self.auto_occlusion:
            b = self.boxes
            depth = np.stack([p.joints[:, 0, 2] for p in self.people])  # (P, T)
            iw = np.clip(np.minimum(b[:, None, :, 2], b[None, :, :, 2])
                         - np.maximum(b[:, None, :, 0], b[None, :, :, 0]), 0.0, None)
            ih = np.clip(np.minimum(b[:, None, :, 3], b[None, :, :, 3])
                         - np.maximum(b[:, None, :, 1], b[None, :, :, 1]), 0.0, None)
            area = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # (P, T)
            covered = ((iw * ih >= self.occlusion_coverage * area[:, None])
                       & (depth[None] < depth[:, None]) & self.in_view[None])  # [i, j]: j in front of i
            hidden |= covered.any(axis=1)
        return hidden & self.in_view

    def longest_occlusion(self) -> int:
        """Longest run of frames in which one in-view person is occluded (random misses not counted)."""
        longest = 0
        for row in self.occluded:
            run = 0
            for hidden in row:
                run = run + 1 if hidden else 0
                longest = max(longest, run)
        return longest


CAMERA_HEIGHT_M = 1.3
PELVIS_HEIGHT_M = 0.95
_FLIP = quat_from_rotvec(np.array([math.pi, 0.0, 0.0]))  # SMPL y-up model frame -> camera optical frame (y down)


def default_camera() -> tuple[np.ndarray, tuple[int, int]]:
    """A 1280x720 pinhole camera, 900 px focal length (70 degree horizontal field of view)."""
    return np.array([[900.0, 0.0, 640.0], [0.0, 900.0, 360.0], [0.0, 0.0, 1.0]]), (1280, 720)


def walking_person(skeleton: KinematicSkeleton, stamps: np.ndarray, path_xz: np.ndarray, present: np.ndarray,
                   rng: np.random.Generator, token_dim: int = 32) -> ScenarioPerson:
    """A person walking along ``path_xz`` (T, 2) metres on the ground plane (camera x and z).

    Heading follows the walking direction; the gait (hips, knees, arms, spine twist) is sinusoidal with a
    cadence and amplitude that grow with speed, so a standing person only sways.
    """
    t_count = len(stamps)
    vel = np.gradient(path_xz, stamps, axis=0)  # (T, 2) m/s
    speed = np.linalg.norm(vel, axis=1)
    heading = np.empty(t_count)
    facing = rng.uniform(-math.pi, math.pi)  # for standing people
    for t in range(t_count):
        if speed[t] > 0.05:
            facing = math.atan2(-vel[t, 0], -vel[t, 1])
        heading[t] = facing
    heading = np.unwrap(heading)
    amp = np.clip(speed / 1.3, 0.1, 1.2)
    cadence_hz = 0.6 + 0.25 * speed  # ~0.9 strides per second at 1.3 m/s
    phase = 2.0 * math.pi * np.cumsum(cadence_hz) * (stamps[1] - stamps[0])
    phase = phase + rng.uniform(0.0, 2.0 * math.pi)
    s, c = np.sin(phase), np.cos(phase)
    rv = np.zeros((t_count, NUM_JOINTS, 3))
    yaw = quat_from_rotvec(heading[:, None] * np.array([0.0, 1.0, 0.0]))
    rv[:, 0] = rotvec_from_quat(quat_mul(yaw, _FLIP))
    rv[:, 1, 0] = -0.45 * amp * s        # left hip flexion
    rv[:, 2, 0] = 0.45 * amp * s         # right hip
    rv[:, 4, 0] = 0.35 * amp * (1 - c)   # left knee
    rv[:, 5, 0] = 0.35 * amp * (1 + c)   # right knee
    rv[:, 3, 1] = 0.08 * amp * s         # spine twist
    rv[:, 6, 1] = 0.05 * amp * s
    rv[:, 16] = np.stack([0.35 * amp * s, np.zeros(t_count), np.full(t_count, -1.2)], axis=1)  # arms down + swing
    rv[:, 17] = np.stack([-0.35 * amp * s, np.zeros(t_count), np.full(t_count, 1.2)], axis=1)
    rv[:, 18, 1] = 0.3 + 0.1 * amp * c   # elbows
    rv[:, 19, 1] = -0.3 - 0.1 * amp * c
    rv[:, 15, 0] = 0.05 * np.sin(0.5 * phase)  # head nod
    betas = np.zeros(10)
    betas[:3] = rng.normal(0.0, 1.0, 3)
    bob = 0.015 * amp * np.cos(2.0 * phase)
    root = np.stack([path_xz[:, 0], np.full(t_count, CAMERA_HEIGHT_M - PELVIS_HEIGHT_M) + bob, path_xz[:, 1]], 1)
    pelvis_rest = pose_joints(skeleton, betas[None], np.zeros((1, NUM_JOINTS, 3)), np.zeros((1, 3)))[0, 0]
    translation = root - pelvis_rest
    joints = pose_joints(skeleton, np.repeat(betas[None], t_count, 0), rv, translation)
    token = rng.normal(size=token_dim)
    return ScenarioPerson(present=present.astype(bool), betas=betas, rotvecs=rv, translation=translation,
                       joints=joints, token=token / np.linalg.norm(token))


def _line(stamps: np.ndarray, start_xz: tuple[float, float], velocity_xz: tuple[float, float]) -> np.ndarray:
    return np.asarray(start_xz)[None] + stamps[:, None] * np.asarray(velocity_xz)[None]


def scenario_crossing(seed: int = 0, fps: float = 30.0, seconds: float = 6.0) -> Scenario:
    """Two people walk across the image in opposite directions, 0.7 m apart in depth; at the crossing the
    far one is hidden behind the near one (automatic occlusion)."""
    rng = np.random.default_rng(seed)
    skel = KinematicSkeleton()
    stamps = np.arange(int(seconds * fps)) / fps
    present = np.ones(len(stamps), bool)
    people = [
        walking_person(skel, stamps, _line(stamps, (-3.5, 5.0), (1.3, 0.0)), present, rng),
        walking_person(skel, stamps, _line(stamps, (3.5, 5.7), (-1.3, 0.0)), present, rng),
    ]
    K, size = default_camera()
    return Scenario("crossing", fps, K, size, people)


def scenario_occlusion(occluded_frames: int, seed: int = 0, fps: float = 30.0, seconds: float = 5.0) -> Scenario:
    """A walks in front of B (0.8 m nearer); the detector misses B for exactly ``occluded_frames`` frames
    around the moment A passes in front. B walks slowly the other way, so B must be predicted, not held."""
    rng = np.random.default_rng(seed)
    skel = KinematicSkeleton()
    stamps = np.arange(int(seconds * fps)) / fps
    present = np.ones(len(stamps), bool)
    a_path = _line(stamps, (-2.5, 4.5), (1.2, 0.0))
    b_path = _line(stamps, (0.75, 5.3), (-0.3, 0.0))
    people = [walking_person(skel, stamps, a_path, present, rng), walking_person(skel, stamps, b_path, present, rng)]
    cross = int(np.argmin(np.abs(a_path[:, 0] - b_path[:, 0] * 4.5 / 5.3)))  # A in front of B in the image
    K, size = default_camera()
    return Scenario(f"occlusion_{occluded_frames}", fps, K, size, people,
                    scripted_occlusions=[(1, cross - occluded_frames // 2, occluded_frames)], auto_occlusion=False)


def scenario_enter_leave(seed: int = 0, fps: float = 30.0, seconds: float = 10.0) -> Scenario:
    """People walk into and out of the field of view at different times; one enters where another left
    about 10 frames before, while the leaver's track is still lost (its id must not be handed on)."""
    rng = np.random.default_rng(seed)
    skel = KinematicSkeleton()
    stamps = np.arange(int(seconds * fps)) / fps
    specs = [  # (start time s, start xz, velocity xz)
        (0.0, (-4.5, 5.0), (1.2, 0.0)),
        (3.0, (5.5, 6.8), (-1.2, 0.0)),
        (3.0, (-4.0, 4.0), (1.4, 0.3)),
        (2.0, (4.5, 6.0), (-1.4, 0.0)),  # leaves on the left at ~8.3 s, ...
        (8.3, (-4.6, 6.0), (1.1, 0.0)),  # ... this one enters there ~10 frames later, walking back
    ]
    people = []
    for start, xz, v in specs:
        local = np.clip(stamps - start, 0.0, None)
        path = _line(local, xz, v)
        people.append(walking_person(skel, stamps, path, stamps >= start, rng))
    K, size = default_camera()
    return Scenario("enter_leave", fps, K, size, people)


def scenario_crowd(num_people: int = 10, seed: int = 0, fps: float = 30.0, seconds: float = 10.0,
                   min_separation_m: float = 0.7) -> Scenario:
    """``num_people`` walk on piecewise-straight paths in x in [-3, 3] m, z in [4, 10] m, turning at the
    borders and now and then, never closer than ``min_separation_m`` (people do not walk through each
    other). In a crowd this dense some people stay hidden behind others for much longer than 10 frames;
    :func:`evaluate` attributes every id switch to the gap that preceded it."""
    rng = np.random.default_rng(seed)
    skel = KinematicSkeleton()
    stamps = np.arange(int(seconds * fps)) / fps
    paths: list[np.ndarray] = []
    while len(paths) < num_people:
        path = _wander(stamps, rng)
        if all(np.min(np.linalg.norm(path - p, axis=1)) >= min_separation_m for p in paths):
            paths.append(path)
    present = np.ones(len(stamps), bool)
    people = [walking_person(skel, stamps, p, present, rng) for p in paths]
    K, size = default_camera()
    return Scenario(f"crowd_{num_people}", fps, K, size, people)


def _wander(stamps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lo, hi = np.array([-3.0, 4.0]), np.array([3.0, 10.0])
    pos = rng.uniform(lo, hi)
    ang = rng.uniform(-math.pi, math.pi)
    speed = rng.uniform(0.4, 1.4)
    out = np.empty((len(stamps), 2))
    dt = stamps[1] - stamps[0]
    for t in range(len(stamps)):
        out[t] = pos
        if rng.random() < 0.01:  # occasional turn
            ang += rng.normal(0.0, 0.8)
        step = speed * dt * np.array([math.cos(ang), math.sin(ang)])
        nxt = pos + step
        for k in range(2):  # reflect at the borders
            if not lo[k] <= nxt[k] <= hi[k]:
                step[k] = -step[k]
                ang = math.atan2(step[1], step[0])
        pos = pos + step
    return out


def all_scenarios(seed: int = 0) -> list[Scenario]:
    """The evaluation set: crossing, occlusion 5 and 10 frames, entering/leaving, a crowd of 10."""
    return [scenario_crossing(seed), scenario_occlusion(5, seed), scenario_occlusion(10, seed),
            scenario_enter_leave(seed), scenario_crowd(10, seed)]


# ----------------------------------------------------------------------------------------------------------
# Detector simulation
# ----------------------------------------------------------------------------------------------------------
@dataclass
class DetectorNoise:
    """What the simulated detector gets wrong (units in the names)."""

    translation_sigma_m: tuple[float, float, float] = (0.03, 0.03, 0.05)  # depth is the least certain
    rotation_sigma_deg: float = 3.0  # per axis, per joint (global orient included)
    betas_sigma: float = 0.1
    miss_probability: float = 0.03  # random dropouts
    box_jitter_px: float = 3.0
    with_tokens: bool = False  # attach noisy appearance tokens (Body.token)
    token_sigma: float = 0.15


def joints_box(K: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(..., 4) x0, y0, x1, y1 pixels around projected joints (..., 24, 3), padded for the flesh around the
    bones."""
    uv = project(joints, K)
    lo, hi = uv.min(axis=-2), uv.max(axis=-2)
    pad = 0.1 * (hi[..., 1:2] - lo[..., 1:2])
    return np.concatenate([lo - pad, hi + pad], axis=-1)


@dataclass
class Detection:
    """A simulated detection and the ground-truth person it came from (the tracker never sees ``truth``)."""

    body: Body
    truth: int


def simulate_detections(scen: Scenario, noise: DetectorNoise, seed: int = 0) -> list[list[Detection]]:
    """Per frame, the detector output in shuffled order."""
    rng = np.random.default_rng(seed)
    skel = KinematicSkeleton()
    frames: list[list[Detection]] = []
    for t in range(scen.num_frames):
        dets = []
        for i, p in enumerate(scen.people):
            if not scen.in_view[i, t] or scen.occluded[i, t] or rng.random() < noise.miss_probability:
                continue
            rot_noise = rng.normal(0.0, math.radians(noise.rotation_sigma_deg), (NUM_JOINTS, 3))
            rv = rotvec_from_quat(quat_mul(quat_from_rotvec(p.rotvecs[t]), quat_from_rotvec(rot_noise)))
            transl = p.translation[t] + rng.normal(0.0, noise.translation_sigma_m)
            betas = p.betas + rng.normal(0.0, noise.betas_sigma, 10)
            joints = pose_joints(skel, betas[None], rv[None], transl[None])[0]
            box = joints_box(scen.K, joints) + rng.normal(0.0, noise.box_jitter_px, 4)
            token = None
            if noise.with_tokens:
                tok = p.token + rng.normal(0.0, noise.token_sigma, p.token.shape)
                token = (tok / np.linalg.norm(tok)).astype(np.float32)
            body = Body(
                score=float(rng.uniform(0.5, 1.0)),
                box=box.astype(np.float32),
                center=project(joints[0], scen.K).astype(np.float32),
                betas=betas.astype(np.float32),
                global_orient=rv[0].astype(np.float32),
                body_pose=rv[1:].reshape(-1).astype(np.float32),
                translation=transl.astype(np.float32),
                joints=joints.astype(np.float32),
                vertices=joints.astype(np.float32),
                token=token,
            )
            dets.append(Detection(body, i))
        rng.shuffle(dets)
        frames.append(dets)
    return frames


