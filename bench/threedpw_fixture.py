"""A 3DPW train split in the dataset's layout at full size, for timing the real-data path of ``train --dataset``.

    python bench/threedpw_fixture.py /tmp/fx3dpw 90      # 90 frames: 1080x1920 JPEGs + a sequence pickle

Two actors stand 3 m ahead of a camera that slowly backs off (so they stay in view); the images are blurred noise
of a real JPEG's size and decode cost. The sequence content is ``test/datasets/threedpw_files.sequence``.
"""
import pickle
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "test" / "datasets"), str(ROOT)]
import threedpw_files  # noqa: E402


def main() -> None:
    root, frames = Path(sys.argv[1]), int(sys.argv[2])
    threedpw_files.N = frames  # the helper sizes its arrays from this module constant
    rng = np.random.default_rng(0)
    data = threedpw_files.sequence(rng)
    data["campose_valid"] = [np.ones(frames), np.ones(frames)]
    for i in range(frames):
        data["cam_poses"][i, :3, 3] = [0.1, 0.0, 3.0 + 0.05 * i]
    for t in data["trans"]:
        t[:] = 0.0
    (root / "sequenceFiles" / "train").mkdir(parents=True, exist_ok=True)
    (root / "sequenceFiles" / "train" / "outdoors_00.pkl").write_bytes(pickle.dumps(data, protocol=2))
    images = root / "imageFiles" / data["sequence"]
    images.mkdir(parents=True, exist_ok=True)
    for i in range(frames):
        img = cv2.GaussianBlur(rng.integers(0, 255, (1920, 1080, 3), np.uint8), (0, 0), 3)
        cv2.imwrite(str(images / f"image_{i:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"wrote {frames} frames under {root}")


if __name__ == "__main__":
    main()
