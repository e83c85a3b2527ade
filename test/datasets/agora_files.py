"""AGORA's ground truth as the dataset ships it: a pandas DataFrame pickled, one row per image, a list per column
with one entry per person (for test/datasets and test/eval)."""
import numpy as np

from hmr_ros.datasets.agora import agora_intrinsics
from hmr_ros.geometry.projection import project

IMAGES = ("ag_validationset_renderpeople_bfh_hdri_50mm_5_15_00000.png",
          "ag_validationset_renderpeople_body_cam00_00001.png")


def person(rng, x: float, z: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """(45, 3) joints as smplx's SMPL returns them (24 + 21 extra) and (6890, 3) vertices around them, metres."""
    joints = rng.normal(0, 0.25, (45, 3)) + [x, 0.0, z]
    verts = rng.normal(0, 0.3, (6890, 3)) + [x, 0.0, z]
    return joints, verts


def table(rng, image_names=IMAGES, people=((-1.0, True), (1.0, False))) -> "pandas.DataFrame":
    """Each image holds ``people`` (x position, isValid); 2D joints projected at 3840 x 2160 with AGORA's K."""
    import pandas

    rows = []
    for name in image_names:
        K = agora_intrinsics(name, 3840, 2160)
        j2, j3, vs = [], [], []
        for x, _ in people:
            joints, verts = person(rng, x)
            j2.append(project(joints, K))
            j3.append(joints)
            vs.append(verts)
        rows.append({"imgPath": name, "X": [0.0] * len(people), "Yaw": [90.0] * len(people), "camYaw": 0.0,
                     "gt_joints_2d": j2, "gt_joints_3d": j3, "gt_verts": vs,
                     "occlusion": [10.0 if ok else 95.0 for _, ok in people], "isValid": [ok for _, ok in people],
                     "kid": [False] * len(people)})
    return pandas.DataFrame(rows)
