"""COCO-2017 person keypoints (Lin et al.) in the official layout: 2D only, people in the wild.

    root/annotations/person_keypoints_{train,val}2017.json    images, annotations (17 keypoints x, y, v), categories
    root/{train,val}2017/000000000139.jpg

    coco = CocoKeypoints("/data/coco", "val")
    for image in coco.images():     # CocoImage: path, size, people with (17, 3) keypoints (x, y pixels, visibility)
        ...

Visibility is COCO's: 0 not labelled (x = y = 0), 1 labelled but occluded, 2 visible. Crowd regions
(``iscrowd``) and people without any labelled keypoint are kept but flagged, so a training sampler can mask them
(their pixels hold people the heatmap must not call background). No intrinsics: the default (focal length = image
diagonal, ``hmr_ros.camera.default_intrinsics``) applies. No 3D: COCO trains the 2D terms only.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hmr_ros.datasets.json_file import load_json_object

COCO17 = ("nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist",
          "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle")
SPLITS = ("train", "val")


@dataclass
class CocoPerson:
    """keypoints (17, 3): x, y pixels and visibility 0/1/2; box (4,) x0, y0, x1, y1 pixels; crowd: an ``iscrowd``
    region; labelled: at least one keypoint is labelled."""

    keypoints: np.ndarray
    box: np.ndarray
    crowd: bool

    @property
    def labelled(self) -> bool:
        return bool((self.keypoints[:, 2] > 0).any())


@dataclass
class CocoImage:
    id: int
    path: Path
    width: int
    height: int
    people: list[CocoPerson]


class CocoKeypoints:
    def __init__(self, root: str | Path, split: str = "val"):
        if split not in SPLITS:
            raise ValueError(f"COCO split must be one of {SPLITS}, got {split!r}")
        self.root = Path(root)
        self.split = split
        path = self.root / "annotations" / f"person_keypoints_{split}2017.json"
        data = load_json_object(path, "COCO annotations")
        if not isinstance(data.get("images"), list) or not isinstance(data.get("annotations"), list):
            raise ValueError(f"COCO annotations {path}: expected an object with 'images' and 'annotations' lists")
        self.path = path
        self._images = {int(im["id"]): im for im in data["images"]}
        self._people: dict[int, list[CocoPerson]] = {i: [] for i in self._images}
        for n, ann in enumerate(data["annotations"]):
            try:
                kp = np.asarray(ann["keypoints"], np.float32).reshape(17, 3)
                x, y, w, h = (float(v) for v in ann["bbox"])
                image_id = int(ann["image_id"])
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"COCO annotations {path}: annotation {n} needs image_id, bbox (4 numbers) and "
                                 "keypoints (17 x 3 numbers)") from None
            if image_id not in self._people:
                raise ValueError(f"COCO annotations {path}: annotation {n} refers to unknown image {image_id}")
            self._people[image_id].append(CocoPerson(kp, np.array([x, y, x + w, y + h], np.float32),
                                                     bool(ann.get("iscrowd", 0))))

    def __len__(self) -> int:
        return len(self._images)

    def images(self, with_people_only: bool = True) -> list[CocoImage]:
        """Every image (with at least one labelled person unless ``with_people_only`` is False), by id."""
        out = []
        for i in sorted(self._images):
            people = self._people[i]
            if with_people_only and not any(p.labelled and not p.crowd for p in people):
                continue
            im = self._images[i]
            out.append(CocoImage(i, self.root / f"{self.split}2017" / im["file_name"], int(im["width"]),
                                 int(im["height"]), people))
        return out
