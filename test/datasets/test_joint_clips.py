"""Datasets without SMPL train the terms they can: CMU Panoptic windows and COCO images become clips of people known
by joints only (metric 3D joints, or 2D keypoints as rays), and the objective reads only what each person has."""
import json

import cv2
import numpy as np
import pytest
import torch

from hmr_ros.datasets.augment import flip_clip
from hmr_ros.datasets.clips import coco_clips, panoptic_clips
from hmr_ros.datasets.coco import CocoKeypoints
from hmr_ros.datasets.panoptic import COCO19, SMPL_SLOTS, PanopticSequence
from hmr_ros.model.siam import SIAM
from hmr_ros.training.dataset import clip_sample, collate
from hmr_ros.training.losses import siam_losses
from test_panoptic import write_sequence

SMPL_ONLY = ("pose", "betas", "verts", "orient6d")


@pytest.fixture
def panoptic(tmp_path):
    folder, _, _ = write_sequence(tmp_path)
    (folder / "hdImgs" / "00_16").mkdir(parents=True)
    for frame in (120, 121):
        cv2.imwrite(str(folder / "hdImgs" / "00_16" / f"00_16_{frame:08d}.jpg"), np.zeros((1080, 1920, 3), np.uint8))
    return PanopticSequence(folder, "00_16")


def coco_annotation(image_id: int, points: dict[str, tuple[float, float]], crowd: int = 0) -> dict:
    from hmr_ros.datasets.coco import COCO17

    kp = np.zeros((17, 3))
    for name, (x, y) in points.items():
        kp[COCO17.index(name)] = [x, y, 2]
    return {"id": image_id * 10 + len(points), "image_id": image_id, "keypoints": kp.reshape(-1).tolist(),
            "bbox": [0, 0, 10, 10], "iscrowd": crowd, "num_keypoints": len(points), "category_id": 1}


@pytest.fixture
def coco(tmp_path):
    body = {"l_hip": (300, 300), "r_hip": (260, 302), "l_shoulder": (310, 200), "r_shoulder": (250, 198),
            "l_knee": (305, 360)}
    images = [{"id": i, "file_name": f"{i:012d}.jpg", "width": 640, "height": 426} for i in (1, 2, 3)]
    annotations = [coco_annotation(1, body), coco_annotation(2, {"l_shoulder": (100, 100)}),  # 2: no hips
                   coco_annotation(3, body), coco_annotation(3, {}, crowd=1)]                 # 3: a crowd region
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "person_keypoints_val2017.json").write_text(json.dumps(
        {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}))
    (tmp_path / "val2017").mkdir()
    for im in images:
        cv2.imwrite(str(tmp_path / "val2017" / im["file_name"]), np.full((426, 640, 3), 90, np.uint8))
    return CocoKeypoints(tmp_path, "val"), body


def test_panoptic_windows_hold_metric_joints_in_smpl_slots(panoptic):
    clips = list(panoptic_clips([panoptic], window=2))
    assert len(clips) == 1 and [len(f.people) for f in clips[0].frames] == [2, 2]
    person, truth = clips[0].frames[1].people[1], panoptic.frames()[1].people[1]
    for name, slot in SMPL_SLOTS.items():
        assert np.allclose(person.joints[slot], truth.joints[COCO19.index(name)], atol=1e-6)
    assert np.isnan(person.joints[3]).all() and not person.smpl and person.metric  # spine1: no Panoptic joint


def test_coco_images_hold_keypoints_as_rays_and_skip_what_cannot_be_centred(coco, body):
    data, keypoints = coco
    clips = list(coco_clips(data, window=2))
    assert [c.meta["image"].endswith("000000000001.jpg") for c in clips] == [True]  # 2: no hips; 3: a crowd
    person = clips[0].frames[0].people[0]
    assert np.allclose(person.joints_2d[16], keypoints["l_shoulder"], atol=1e-4)
    assert np.allclose(person.centre, [280, 301], atol=1e-4) and not person.metric and not person.smpl
    flipped = flip_clip(clips[0], body).frames[0].people[0]
    assert np.allclose(flipped.joints_2d[17], [640 - 310, 200], atol=1e-3)  # left shoulder -> right slot


def losses_of(clips, network) -> dict[str, float]:
    torch.manual_seed(0)
    batch = collate([clip_sample(c, network) for c in clips])
    with torch.no_grad():
        return {k: float(v) for k, v in siam_losses(SIAM(network).train(), batch).items()}


def test_each_person_trains_the_terms_its_dataset_knows(panoptic, coco, tiny_net):
    keypoints = losses_of(list(coco_clips(coco[0], 2)), tiny_net)
    assert keypoints["joints2d"] > 0 and keypoints["heatmap"] > 0
    assert all(keypoints[t] == 0 for t in SMPL_ONLY + ("cam", "joints3d", "accel"))
    metric = losses_of(list(panoptic_clips([panoptic], 2)), tiny_net)
    assert metric["joints3d"] > 0 and metric["joints2d"] > 0 and metric["cam"] > 0
    assert all(metric[t] == 0 for t in SMPL_ONLY)
    assert all(np.isfinite(v) for v in {**keypoints, **metric}.values())


def test_train_command_mixes_panoptic_in(panoptic, tmp_path, capsys):
    from hmr_ros.cli import main

    out = tmp_path / "joints.safetensors"
    root = panoptic.folder.parent
    assert main(["train", "--dataset", f"panoptic={root}:1", "--steps", "2", "--batch-clips", "2", "--width",
                 "w18", "--input-size", "64", "--window", "2", "--max-people", "2", "--out", str(out), "--no-amp",
                 "--log-every", "1", "--device", "cpu"]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("step      2/2")][0]
    assert " pose 0.0000 " in line and " joints3d 0.0000 " not in line and out.is_file()
    assert main(["train", "--dataset", f"panoptic={tmp_path / 'empty'}", "--steps", "1", "--out", str(out)]) == 2


def test_agora_images_train_the_metric_joint_terms(tmp_path, capsys, tiny_net):
    pytest.importorskip("pandas")
    from agora_files import IMAGES, table

    from hmr_ros.cli import main
    from hmr_ros.datasets.agora import AgoraTable
    from hmr_ros.datasets.agora_convert import convert_table
    from hmr_ros.datasets.clips import agora_clips

    table(np.random.default_rng(0)).to_pickle(tmp_path / "train_0.pkl")
    convert_table(tmp_path / "train_0.pkl", tmp_path / "gt", trust=True)
    (tmp_path / "img").mkdir()
    for name in IMAGES:
        cv2.imwrite(str(tmp_path / "img" / name), np.zeros((720, 1280, 3), np.uint8))
    clips = list(agora_clips([AgoraTable(tmp_path / "gt" / "train_0.npz", tmp_path / "img")], 2))
    assert len(clips) == 2 and [len(f.people) for f in clips[0].frames] == [2, 2]  # the occluded person too
    assert np.isfinite(clips[0].frames[0].people[0].joints).all() and clips[0].frames[0].people[0].metric
    losses = losses_of(clips, tiny_net)
    assert losses["joints3d"] > 0 and losses["joints2d"] > 0 and all(losses[t] == 0 for t in SMPL_ONLY)
    out = tmp_path / "agora.safetensors"
    assert main(["train", "--dataset", f"agora={tmp_path / 'gt'}", "--agora-images", str(tmp_path / "img"),
                 "--steps", "1", "--batch-clips", "2", "--width", "w18", "--input-size", "64", "--window", "2",
                 "--max-people", "2", "--out", str(out), "--no-amp", "--device", "cpu"]) == 0 and out.is_file()
    assert main(["train", "--dataset", f"agora={tmp_path / 'gt'}", "--steps", "1", "--out", str(out)]) == 2
    assert "needs --agora-images" in capsys.readouterr().err


def test_train_command_reads_cocos_train_split(coco, tmp_path):
    from hmr_ros.cli import main

    root = coco[0].root
    (root / "annotations" / "person_keypoints_val2017.json").rename(root / "annotations" / "person_keypoints_train2017.json")
    (root / "val2017").rename(root / "train2017")
    out = tmp_path / "coco.safetensors"
    assert main(["train", "--dataset", f"coco={root}", "--steps", "1", "--batch-clips", "2", "--width", "w18",
                 "--input-size", "64", "--window", "2", "--max-people", "2", "--out", str(out), "--no-amp",
                 "--device", "cpu"]) == 0 and out.is_file()
