"""CMU Panoptic Studio (Joo et al.) in the layout of its toolbox's downloads: 3D COCO-19 skeletons of every person in
the dome, and the calibration of every camera; here one HD camera's view of them.

    <seq>/calibration_<seq>.json                              cameras: name, type, resolution, K, distCoef, R, t (cm)
    <seq>/hdPose3d_stage1_coco19/body3DScene_00000123.json    bodies: id, joints19 = 19 x (x, y, z, confidence), cm
    <seq>/hdImgs/00_16/00_16_00000123.jpg                     the HD camera's image of that frame

    seq = PanopticSequence("/data/panoptic/160422_haggling1", camera="00_16")
    for frame in seq.frames():        # PanopticFrame: image path, K, people with camera-frame joints (metres)
        ...

Joints are moved into the camera frame (X_cam = R X + t, then centimetres to metres) and projected with the
camera's lens distortion (OpenCV's model, the toolbox's ``projectPoints``). Panoptic has no SMPL fits: it trains and
evaluates the joint terms only. A malformed file fails with its path and what was expected.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hmr_ros.datasets.json_file import load_json_object

COCO19 = ("neck", "nose", "pelvis", "l_shoulder", "l_elbow", "l_wrist", "l_hip", "l_knee", "l_ankle", "r_shoulder",
          "r_elbow", "r_wrist", "r_hip", "r_knee", "r_ankle", "l_eye", "l_ear", "r_eye", "r_ear")
CM = 0.01  # Panoptic's unit, in metres
#: COCO-19 joint -> SMPL joint slot, for the 14 joints both skeletons name alike (their definitions differ by a few
#: centimetres: SMPL's hips sit deeper in the pelvis). Training and the protocol without a regressor use these.
SMPL_SLOTS = {"neck": 12, "pelvis": 0, "l_shoulder": 16, "l_elbow": 18, "l_wrist": 20, "l_hip": 1, "l_knee": 4,
              "l_ankle": 7, "r_shoulder": 17, "r_elbow": 19, "r_wrist": 21, "r_hip": 2, "r_knee": 5, "r_ankle": 8}


@dataclass
class PanopticPerson:
    """id: the dataset's person id (stable through the sequence); joints (19, 3) metres, camera optical frame,
    COCO-19 order; confidence (19,) in [0, 1] (negative = not reconstructed); keypoints2d (19, 2) pixels."""

    id: int
    joints: np.ndarray
    confidence: np.ndarray
    keypoints2d: np.ndarray


@dataclass
class PanopticFrame:
    index: int              # the HD frame number of the file name
    image_path: Path
    K: np.ndarray           # (3, 3) pixels
    people: list[PanopticPerson]


class PanopticSequence:
    """One sequence seen by one HD camera (``camera`` "00_16": panel 00, node 16)."""

    def __init__(self, folder: str | Path, camera: str = "00_16"):
        self.folder = Path(folder)
        self.name = self.folder.name
        calib_path = self.folder / f"calibration_{self.name}.json"
        calib = load_json_object(calib_path, "Panoptic calibration")
        cams = {c.get("name"): c for c in calib.get("cameras", []) if isinstance(c, dict)}
        if camera not in cams:
            raise ValueError(f"Panoptic calibration {calib_path}: no camera {camera!r} (it has "
                             f"{', '.join(sorted(n for n in cams if n)[:12])}, ...)")
        cam = cams[camera]
        try:
            self.K = np.asarray(cam["K"], np.float64).reshape(3, 3)
            self.R = np.asarray(cam["R"], np.float64).reshape(3, 3)
            self.t = np.asarray(cam["t"], np.float64).reshape(3) * CM
            self.dist = np.asarray(cam.get("distCoef", [0, 0, 0, 0, 0]), np.float64).reshape(-1)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"Panoptic calibration {calib_path}: camera {camera} needs K (3x3), R (3x3), t (3) and "
                             f"distCoef: {e}") from None
        self.camera = camera
        self.pose_files = sorted((self.folder / "hdPose3d_stage1_coco19").glob("body3DScene_*.json"))
        if not self.pose_files:
            raise ValueError(f"no Panoptic skeletons in {self.folder / 'hdPose3d_stage1_coco19'} "
                             "(expected body3DScene_<frame>.json files)")

    def frames(self) -> list[PanopticFrame]:
        return [self.frame(p) for p in self.pose_files]

    def frame(self, path: Path) -> PanopticFrame:
        match = re.fullmatch(r"body3DScene_(\d+)\.json", path.name)
        if not match:
            raise ValueError(f"Panoptic skeleton file {path}: expected the name body3DScene_<frame>.json")
        index = int(match.group(1))
        data = load_json_object(path, "Panoptic skeleton file")
        people = []
        for body in data.get("bodies", []):
            try:
                j = np.asarray(body["joints19"], np.float64).reshape(19, 4)
                pid = int(body["id"])
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"Panoptic skeleton file {path}: each body needs 'id' and 'joints19' "
                                 "(19 x 4 numbers: x, y, z in cm, confidence)") from None
            cam = (j[:, :3] @ self.R.T) * CM + self.t
            uv, _ = cv2.projectPoints(cam, np.zeros(3), np.zeros(3), self.K, self.dist)
            people.append(PanopticPerson(pid, cam.astype(np.float32), j[:, 3].astype(np.float32),
                                         uv.reshape(19, 2).astype(np.float32)))
        image = self.folder / "hdImgs" / self.camera / f"{self.camera}_{index:08d}.jpg"
        return PanopticFrame(index, image, self.K, people)
