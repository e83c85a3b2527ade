"""BEDLAM (Black et al., CVPR 2023) through its processed labels: one ``<scene>.npz`` per scene as BEDLAM's
``data_processing`` scripts write it, one row per person instance, and the rendered images.

    labels/<scene>.npz     imgname (<sequence>/<frame>.png), pose_cam (72 SMPL or 165 SMPL-X axis-angle, camera
                           frame), shape (betas), trans_cam (3), cam_ext (4, 4), cam_int (3, 3), gtkps (J, 2|3)
    images/<scene>/png/<imgname>

    for image in BedlamScene("labels/20221010_3_1000_batch01hand.npz", "images").images():
        ...                # BedlamImage: path, K, people in the camera optical frame (SMPL parameters, 2D joints)

The mesh of a row in the camera frame is ``SMPL(pose_cam, shape) + trans_cam + cam_ext[:3, 3]``: BEDLAM keeps the
camera's own translation apart, so ``translation`` here is their sum. SMPL-X labels (165 pose values) become SMPL
by keeping the 22 body joints' rotations and setting SMPL's two hand joints to rest; their betas live in SMPL-X's
shape space, not SMPL's (``smplx_betas`` is True): train on them only with an SMPL-X body model, or drop the shape
terms. The npz is read with ``allow_pickle=False``: only the fields above are touched.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FIELDS = ("imgname", "pose_cam", "shape", "trans_cam", "cam_ext", "cam_int", "gtkps")


@dataclass
class BedlamPerson:
    """betas (10,); global_orient (3,), body_pose (69,) axis-angle radians, camera frame; translation (3,) SMPL
    transl, metres; keypoints2d (J, 2) pixels, the label's own joint set; smplx_betas: see the module doc."""

    betas: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    translation: np.ndarray
    keypoints2d: np.ndarray
    smplx_betas: bool


@dataclass
class BedlamImage:
    path: Path
    K: np.ndarray
    people: list[BedlamPerson]


class BedlamScene:
    def __init__(self, labels: str | Path, images_root: str | Path):
        self.labels, self.images_root = Path(labels), Path(images_root)
        try:
            data = np.load(self.labels, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ValueError(f"BEDLAM labels {self.labels}: cannot read as npz ({e})") from None
        missing = [f for f in FIELDS if f not in data.files]
        if missing:
            raise ValueError(f"BEDLAM labels {self.labels}: missing {', '.join(missing)} (expected {', '.join(FIELDS)})")
        try:
            self.rows = {f: data[f] for f in FIELDS}
        except ValueError as e:  # an object array, which allow_pickle=False will not load
            raise ValueError(f"BEDLAM labels {self.labels}: {e}") from None
        n = len(self.rows["imgname"])
        pose = self.rows["pose_cam"].reshape(n, -1)
        if pose.shape[1] not in (72, 165):
            raise ValueError(f"BEDLAM labels {self.labels}: pose_cam has {pose.shape[1]} values per row, expected 72 "
                             "(SMPL) or 165 (SMPL-X)")
        for f in FIELDS[2:]:
            if len(self.rows[f]) != n:
                raise ValueError(f"BEDLAM labels {self.labels}: '{f}' has {len(self.rows[f])} rows, imgname {n}")
        self.smplx = pose.shape[1] == 165

    def images(self) -> list[BedlamImage]:
        """Every labelled image with all of its people, in file-name order."""
        by_image: dict[str, list[int]] = defaultdict(list)
        for i, name in enumerate(self.rows["imgname"]):
            by_image[str(name)].append(i)
        scene = self.labels.stem
        out = []
        for name in sorted(by_image):
            rows = by_image[name]
            people = [self._person(i) for i in rows]
            K = np.asarray(self.rows["cam_int"][rows[0]], np.float64).reshape(3, 3)
            out.append(BedlamImage(self.images_root / scene / "png" / name, K, people))
        return out

    def _person(self, i: int) -> BedlamPerson:
        pose = np.asarray(self.rows["pose_cam"][i], np.float32).reshape(-1)
        body = pose[3:72] if not self.smplx else np.r_[pose[3:66], np.zeros(6, np.float32)]  # SMPL-X: 21 body joints
        translation = (np.asarray(self.rows["trans_cam"][i], np.float64).reshape(3)
                       + np.asarray(self.rows["cam_ext"][i], np.float64).reshape(4, 4)[:3, 3])
        kp = np.asarray(self.rows["gtkps"][i], np.float32)
        return BedlamPerson(np.asarray(self.rows["shape"][i], np.float32).reshape(-1)[:10], pose[:3], body,
                            translation.astype(np.float32), kp[:, :2], self.smplx)
