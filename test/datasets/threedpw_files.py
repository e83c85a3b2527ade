"""A 3DPW sequence as the dataset stores it, for test/datasets and test/eval."""
import numpy as np

from hmr_ros.geometry.rotations_np import rotmat_from_rotvec

N, ACTORS = 4, 2


def sequence(rng) -> dict:
    """A sequence as 3DPW stores it: world-frame SMPL per actor, a moving camera (world -> camera)."""
    cams = np.tile(np.eye(4), (N, 1, 1))
    for i in range(N):
        cams[i, :3, :3] = rotmat_from_rotvec(np.array([0.1 * i, np.pi / 2, 0.05]))
        cams[i, :3, 3] = [0.1, 0.2 * i, 3.0]
    return {
        "sequence": "courtyard_test_00", "genders": ["m", "f"],
        "betas": [rng.normal(0, 1, 10) for _ in range(ACTORS)],
        "poses": [rng.normal(0, 0.3, (N, 72)) for _ in range(ACTORS)],
        "trans": [rng.normal(0, 1, (N, 3)) for _ in range(ACTORS)],
        "jointPositions": [rng.normal(0, 1, (N, 72)) for _ in range(ACTORS)],
        "poses2d": [rng.uniform(0, 1000, (N, 3, 18)) for _ in range(ACTORS)],
        "campose_valid": [np.array([1, 1, 0, 1]), np.ones(N)],
        "cam_poses": cams, "cam_intrinsics": np.array([[1961.0, 0, 540.0], [0, 1969.0, 960.0], [0, 0, 1]]),
        "img_frame_ids": np.arange(N),
    }


def write_train_split(root, rng) -> None:
    """A 3DPW train split of one sequence whose two actors stand 3 m ahead of every camera pose, all poses valid,
    with 192 x 108 (portrait) images and 3DPW's intrinsics scaled to them."""
    import pickle

    import cv2

    data = sequence(rng)
    for t in data["trans"]:
        t[:] = 0.0
    data["campose_valid"] = [np.ones(N), np.ones(N)]
    data["cam_intrinsics"] = data["cam_intrinsics"] * [[0.1], [0.1], [1.0]]
    (root / "sequenceFiles" / "train").mkdir(parents=True)
    (root / "sequenceFiles" / "train" / "outdoors_00.pkl").write_bytes(pickle.dumps(data, protocol=2))
    images = root / "imageFiles" / data["sequence"]
    images.mkdir(parents=True)
    for i in range(N):
        cv2.imwrite(str(images / f"image_{i:05d}.jpg"), np.full((192, 108, 3), 40 * i, np.uint8))
