"""3DPW (von Marcard et al., ECCV 2018) in its native layout, read without running any pickled code.

    root/sequenceFiles/{train,validation,test}/<sequence>.pkl    Python-2 pickles (restricted unpickler)
    root/imageFiles/<sequence>/image_00000.jpg ...

    data = ThreeDPW("/data/3DPW", "test", body_model=load_body_model("/models/SMPL_NEUTRAL.npz"))
    for frame in data.frames("downtown_walkBridge_01"):     # Frame3DPW: image path, K, people in the camera frame
        ...

A sequence file holds (the dataset's readme): ``sequence``; per actor ``betas`` (10), ``poses`` (N, 72) SMPL
axis-angle in the world frame, ``trans`` (N, 3) world metres, ``jointPositions`` (N, 72) world metres,
``poses2d`` (N, 3, 18) COCO-18 keypoints (x, y, confidence; pixels), ``campose_valid`` (N,); and ``cam_poses``
(N, 4, 4) world -> camera, ``cam_intrinsics`` (3, 3). Everything this reader returns is in the camera optical frame
of each image, as ``hmr_ros.bodies.Body``: SMPL parameters whose mesh is ``body_model(betas, pose) + translation``.

Moving the SMPL parameters into the camera frame: with camera pose (R, t) and the shaped body's pelvis J0 (the
rest-pose root joint, which the root rotation pivots about),
    global_orient_cam = R · global_orient,   translation_cam = R (J0 + trans) + t − J0.
J0 depends on the body model: pass the SMPL file the sequences were fitted with (neutral SMPL, 10 betas) for exact
translations; the procedural body's J0 differs from SMPL's by centimetres.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hmr_ros.geometry.rotations import rotmat_to_axis_angle
from hmr_ros.geometry.rotations_np import rotmat_from_rotvec
from hmr_ros.smpl.body_model import BodyModel, load_array_pickle, load_body_model

SPLITS = ("train", "validation", "test")
REQUIRED = ("sequence", "betas", "poses", "trans", "poses2d", "jointPositions", "cam_poses", "cam_intrinsics",
            "campose_valid")


@dataclass
class Person3DPW:
    """One actor in one image, camera optical frame: betas (10,); global_orient (3,) and body_pose (69,) axis-angle
    radians; translation (3,) SMPL transl, metres; joints (24, 3) the dataset's 3D joints, metres; keypoints2d
    (18, 3) COCO-18 x, y (pixels) and confidence; valid: the camera pose of this frame was aligned (3DPW's
    ``campose_valid``; the evaluation protocol skips invalid frames)."""

    actor: int
    betas: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    translation: np.ndarray
    joints: np.ndarray
    keypoints2d: np.ndarray
    valid: bool


@dataclass
class Frame3DPW:
    sequence: str
    index: int              # image index within the sequence
    image_path: Path
    K: np.ndarray           # (3, 3) pixels
    people: list[Person3DPW]


def _bad(path: Path, problem: str) -> ValueError:
    return ValueError(f"3DPW sequence file {path}: {problem}")


def read_sequence(path: str | Path) -> dict:
    """The sequence file's dict, checked: every ``REQUIRED`` key, one entry per actor, N frames everywhere."""
    path = Path(path)
    try:
        data = load_array_pickle(path)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError) as exc:
        raise _bad(path, f"cannot unpickle ({exc})") from None
    if not isinstance(data, dict):
        raise _bad(path, f"holds a {type(data).__name__}, not the dict of a sequence")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise _bad(path, f"missing {', '.join(missing)} (expected the keys {', '.join(REQUIRED)})")
    n = len(np.asarray(data["cam_poses"]))
    actors = len(data["poses"])
    for key, per_frame in (("betas", None), ("poses", 72), ("trans", 3), ("jointPositions", 72),
                           ("poses2d", (3, 18)), ("campose_valid", ())):
        if len(data[key]) != actors:
            raise _bad(path, f"'{key}' has {len(data[key])} actors, 'poses' {actors}")
        for a, value in enumerate(data[key]):
            shape = np.shape(value)
            want = (10,) if key == "betas" else (n,) + (per_frame if isinstance(per_frame, tuple) else (per_frame,))
            if key == "betas" and shape[0] >= 10:
                continue
            if shape != want:
                raise _bad(path, f"'{key}' of actor {a} has shape {shape}, expected {want}")
    if np.shape(data["cam_poses"]) != (n, 4, 4) or np.shape(data["cam_intrinsics"]) != (3, 3):
        raise _bad(path, f"cam_poses {np.shape(data['cam_poses'])} / cam_intrinsics {np.shape(data['cam_intrinsics'])}"
                         f", expected ({n}, 4, 4) / (3, 3)")
    return data


class ThreeDPW:
    """The sequences of one split. ``body_model`` supplies J0 for the translation conversion (default procedural)."""

    def __init__(self, root: str | Path, split: str = "test", body_model: BodyModel | None = None):
        if split not in SPLITS:
            raise ValueError(f"3DPW split must be one of {SPLITS}, got {split!r}")
        self.root = Path(root)
        folder = self.root / "sequenceFiles" / split
        self.files = sorted(folder.glob("*.pkl"))
        if not self.files:
            raise ValueError(f"no 3DPW sequence files in {folder} (expected <root>/sequenceFiles/{split}/*.pkl)")
        self.body_model = body_model or load_body_model("procedural")

    @property
    def sequences(self) -> list[str]:
        return [f.stem for f in self.files]

    def frames(self, sequence: str) -> list[Frame3DPW]:
        """Every image of ``sequence`` with its actors in the camera frame."""
        path = next((f for f in self.files if f.stem == sequence), None)
        if path is None:
            raise ValueError(f"3DPW has no sequence {sequence!r} in this split; it has {', '.join(self.sequences)}")
        data = read_sequence(path)
        cam = np.asarray(data["cam_poses"], dtype=np.float64)
        R, t = cam[:, :3, :3], cam[:, :3, 3]
        K = np.asarray(data["cam_intrinsics"], dtype=np.float64)
        name = str(data["sequence"])
        per_actor = [self._actor_in_camera(data, a, R, t) for a in range(len(data["poses"]))]
        frames = []
        for i in range(len(cam)):
            image = self.root / "imageFiles" / name / f"image_{i:05d}.jpg"
            frames.append(Frame3DPW(name, i, image, K, [people[i] for people in per_actor]))
        return frames

    def _actor_in_camera(self, data: dict, a: int, R: np.ndarray, t: np.ndarray) -> list[Person3DPW]:
        betas = np.asarray(data["betas"][a], dtype=np.float64)[:10]
        poses = np.asarray(data["poses"][a], dtype=np.float64)                  # (N, 72) world
        trans = np.asarray(data["trans"][a], dtype=np.float64)                  # (N, 3) world
        joints = np.asarray(data["jointPositions"][a], dtype=np.float64).reshape(-1, 24, 3)
        kp2d = np.asarray(data["poses2d"][a], dtype=np.float64).transpose(0, 2, 1)  # (N, 18, 3)
        valid = np.asarray(data["campose_valid"][a]).astype(bool)
        root_cam = R @ rotmat_from_rotvec(poses[:, :3])                        # (N, 3, 3)
        with torch.no_grad():
            rest = torch.eye(3).expand(1, 24, 3, 3)
            j0 = self.body_model(torch.as_tensor(betas, dtype=torch.float32)[None], rest).joints[0, 0].double().numpy()
        translation = np.einsum("nij,nj->ni", R, j0 + trans) + t - j0
        joints_cam = np.einsum("nij,nkj->nki", R, joints) + t[:, None]
        orient_cam = rotmat_to_axis_angle(torch.from_numpy(root_cam)).numpy()
        return [Person3DPW(a, betas.astype(np.float32), orient_cam[i].astype(np.float32),
                           poses[i, 3:].astype(np.float32), translation[i].astype(np.float32),
                           joints_cam[i].astype(np.float32), kp2d[i].astype(np.float32), bool(valid[i]))
                for i in range(len(poses))]
