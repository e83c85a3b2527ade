"""AGORA (Patel et al., CVPR 2021) through its ground-truth tables, converted to npz.

AGORA ships each split's ground truth as pandas DataFrames pickled with torch and pandas objects inside
(``validation_0.pkl`` ... ``validation_9.pkl``, the "Camera dataframe with SMPL joints and vertices"). A restricted
unpickler cannot rebuild a DataFrame safely. So ``python -m hmr_ros convert-agora`` (``datasets.agora_convert``),
run once by the user on the files they downloaded and trust, writes one npz per table, and hmr_ros only ever reads
those npz files (``allow_pickle=False``):

    image     (N,) str    image file name (``ag_validationset_renderpeople_bfh_archviz_5_10_cam02_00000.png``)
    person    (P,) int    the image each person belongs to (index into ``image``)
    joints2d  (P, 24, 2)  SMPL joints projected into the image, pixels at ``width`` x ``height`` (3840 x 2160)
    joints3d  (P, 24, 3)  SMPL joints, camera frame, metres
    vertices  (P, 6890, 3) SMPL vertices, camera frame, metres
    occlusion (P,) float  percentage of the person hidden (0-100)
    valid     (P,) bool   AGORA's ``isValid``: the person counts in the evaluation (occlusion 0-90 %)
    kid       (P,) bool
    width, height ()      the resolution ``joints2d`` refers to

Only SMPL tables (6890 vertices) are read; AGORA's SMPL-X tables (10475) are refused with that reason.

Camera: AGORA renders every scene with a 36 x 20.25 mm sensor and the principal point at the image centre. The
focal length follows from the scene in the image name: 50 mm for ``hdri`` scenes, 18 mm for ``cam00`` to
``cam03``, and 28 mm otherwise (``ag2`` included). :func:`agora_intrinsics` gives K for any rendered resolution
(1280 x 720 or 3840 x 2160).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

FIELDS = ("image", "person", "joints2d", "joints3d", "vertices", "occlusion", "valid", "kid", "width", "height")
SENSOR_MM = (36.0, 20.25)
SMPL_VERTICES = 6890


def agora_focal_mm(image_name: str) -> float:
    """The lens AGORA rendered ``image_name`` with, in millimetres (see the module doc)."""
    name = image_name.lower()
    if "hdri" in name:
        return 50.0
    if any(f"cam0{i}" in name for i in range(4)):
        return 18.0
    return 28.0


def agora_intrinsics(image_name: str, width: int, height: int) -> np.ndarray:
    """(3, 3) K of an AGORA image rendered at ``width`` x ``height`` pixels."""
    f = agora_focal_mm(image_name)
    return np.array([[f / SENSOR_MM[0] * width, 0.0, width / 2.0],
                     [0.0, f / SENSOR_MM[1] * height, height / 2.0],
                     [0.0, 0.0, 1.0]])


@dataclass
class AgoraPerson:
    """joints2d (24, 2) px at the image's resolution; joints3d (24, 3), vertices (6890, 3): camera frame, metres."""

    joints2d: np.ndarray
    joints3d: np.ndarray
    vertices: np.ndarray
    occlusion: float
    valid: bool
    kid: bool


@dataclass
class AgoraImage:
    """One image: its path, K at its resolution and its people. ``index`` counts images (the protocols' stamp)."""

    image_path: Path
    index: int
    K: np.ndarray
    people: list[AgoraPerson]


class AgoraTable:
    """One converted table. ``images_root`` holds the rendered images; ``width`` x ``height`` is their resolution
    (AGORA ships 1280 x 720 and 3840 x 2160): the 2D joints are rescaled from the table's resolution to it."""

    def __init__(self, path: str | Path, images_root: str | Path, width: int = 1280, height: int = 720):
        self.path, self.images_root = Path(path), Path(images_root)
        self.width, self.height = int(width), int(height)
        try:
            data = np.load(self.path, allow_pickle=False)
            missing = [f for f in FIELDS if f not in data.files]
            if missing:
                raise ValueError(f"missing {', '.join(missing)} (expected {', '.join(FIELDS)}; write it with "
                                 "python -m hmr_ros convert-agora)")
            self.arrays = {f: data[f] for f in FIELDS}
        except (OSError, ValueError) as e:
            raise ValueError(f"AGORA table {self.path}: {e}") from None
        self._check()

    def _check(self) -> None:
        a = self.arrays
        p = len(a["person"])
        shapes = {"joints2d": (p, 24, 2), "joints3d": (p, 24, 3), "vertices": (p, SMPL_VERTICES, 3),
                  "occlusion": (p,), "valid": (p,), "kid": (p,)}
        for name, want in shapes.items():
            if a[name].shape != want:
                hint = " (an SMPL-X table? only AGORA's SMPL tables are read)" if name == "vertices" else ""
                raise ValueError(f"AGORA table {self.path}: {name} has shape {a[name].shape}, expected {want}{hint}")
        if p and (a["person"].min() < 0 or a["person"].max() >= len(a["image"])):
            raise ValueError(f"AGORA table {self.path}: person refers to images outside 0..{len(a['image']) - 1}")
        if not (np.isfinite(a["joints3d"]).all() and np.isfinite(a["vertices"]).all()):
            raise ValueError(f"AGORA table {self.path}: non-finite joints or vertices")
        if int(a["width"]) <= 0 or int(a["height"]) <= 0:
            raise ValueError(f"AGORA table {self.path}: width and height must be positive")

    def _image_path(self, name: str) -> Path:
        """The table names the 3840 x 2160 render; the 1280 x 720 release adds ``_1280x720`` before the suffix."""
        path = self.images_root / name
        sized = path.with_name(f"{path.stem}_{self.width}x{self.height}{path.suffix}")
        return sized if not path.is_file() and sized.is_file() else path

    def images(self) -> list[AgoraImage]:
        """Every image of the table in file order, with its people (all of them: ``valid`` says who is scored)."""
        a = self.arrays
        scale = np.array([self.width / float(a["width"]), self.height / float(a["height"])])
        out = []
        for i, name in enumerate(a["image"]):
            rows = np.flatnonzero(a["person"] == i)
            people = [AgoraPerson(a["joints2d"][r] * scale, a["joints3d"][r], a["vertices"][r],
                                  float(a["occlusion"][r]), bool(a["valid"][r]), bool(a["kid"][r])) for r in rows]
            out.append(AgoraImage(self._image_path(str(name)), i,
                                  agora_intrinsics(str(name), self.width, self.height), people))
        return out
