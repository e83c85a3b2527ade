"""Real datasets as training clips: 3DPW windows and BEDLAM pseudo-clips become the same samples as the synthetic
clips (targets equal to the labels), a weighted mixture feeds the training loop, and a training step runs on it."""
import itertools

import cv2
import numpy as np
import pytest
import torch

from hmr_ros.datasets.bedlam import BedlamScene
from hmr_ros.datasets.clips import bedlam_clips, threedpw_clips
from hmr_ros.training.mixture import mixture_batches
from hmr_ros.datasets.people import posed_person
from hmr_ros.datasets.threedpw import ThreeDPW
from hmr_ros.geometry.rotations_np import rotmat_from_rotvec
from hmr_ros.model.siam import SIAMConfig
from hmr_ros.training.dataset import clip_sample
from hmr_ros.training.loop import TrainConfig, train
from test_bedlam import write as write_bedlam
from threedpw_files import write_train_split



@pytest.fixture
def threedpw(tmp_path, body):
    write_train_split(tmp_path, np.random.default_rng(0))
    return ThreeDPW(tmp_path, "train", body)


def test_threedpw_windows_carry_the_labels_into_the_targets(threedpw, body, tiny_net):
    clips = list(threedpw_clips(threedpw, window=2))
    assert len(clips) == 2 and [len(c.frames) for c in clips] == [2, 2] and clips[1].meta["start"] == 2
    sample = clip_sample(clips[0], tiny_net)
    frame = threedpw.frames(threedpw.sequences[0])[tiny_net.output_index]
    assert sample.mask[tiny_net.output_index].any()  # else the loop below checks nothing
    for k, person in enumerate(frame.people):
        if sample.mask[tiny_net.output_index, k]:
            want = rotmat_from_rotvec(np.r_[person.global_orient, person.body_pose].reshape(24, 3))
            assert np.allclose(sample.rotmats[k].numpy(), want, atol=1e-5)
            assert np.allclose(sample.betas[k].numpy(), person.betas, atol=1e-6)


def test_a_random_order_visits_every_window_once(threedpw):
    ordered = [c.meta["start"] for c in threedpw_clips(threedpw, window=1)]
    orders = {tuple(c.meta["start"] for c in threedpw_clips(threedpw, window=1, rng=np.random.default_rng(s)))
              for s in range(6)}
    assert ordered == [0, 1, 2, 3]
    assert all(sorted(o) == ordered for o in orders) and len(orders) > 1


def test_loader_workers_read_their_own_streams(threedpw):
    sources = [("3dpw", lambda rng: threedpw_clips(threedpw, 1, rng=rng), 1.0)]
    cfg = SIAMConfig(width="w18", input_size=64, window=1, max_people=2)
    batches = mixture_batches(sources, cfg, batch_clips=2, seed=0, workers=2)
    first, second = next(batches), next(batches)  # one batch from each worker
    assert first.images.shape == (2, 1, 64, 64, 3) and second.images.shape == first.images.shape
    assert not torch.equal(first.images, second.images)


def test_posed_person_projects_its_root_to_the_centre(body):
    K = np.array([[500.0, 0, 96], [0, 500.0, 54], [0, 0, 1]])
    p = posed_person(body, np.zeros(10), np.array([np.pi, 0, 0]), np.zeros(69), np.array([0.0, 0.2, 3.0]), K)
    u, v = p.joints[0, :2] / p.joints[0, 2] * 500.0 + [96, 54]
    assert np.allclose(p.centre, [u, v], atol=1e-3) and p.box[0] < u < p.box[2] and p.box[1] < v < p.box[3]


def test_a_mixture_of_3dpw_and_bedlam_trains(threedpw, body, tmp_path, tiny_net):
    labels = tmp_path / "scene.npz"
    write_bedlam(labels)
    for name in ("seq_000001_0000.png", "seq_000001_0005.png"):
        (tmp_path / "img" / "scene" / "png" / "seq_000001").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "img" / "scene" / "png" / "seq_000001" / name), np.zeros((72, 128, 3), np.uint8))
    scene = BedlamScene(labels, tmp_path / "img")
    sources = [("3dpw", lambda rng: threedpw_clips(threedpw, 2, rng=rng), 1.0),
               ("bedlam", lambda rng: bedlam_clips(scene, body, 2, rng=rng), 1.0)]
    batches = mixture_batches(sources, tiny_net, batch_clips=2, seed=0)
    batch = next(batches)
    assert batch.images.shape == (2, 2, 64, 64, 3) and batch.rotmats.shape == (2, 2, 24, 3, 3)
    torch.manual_seed(0)
    result = train(tiny_net, TrainConfig(steps=2, batch_clips=2, lr=1e-3, device="cpu", seed=0, out_path=None,
                   log_every=0, amp=False), data=itertools.islice(batches, 2), log=lambda m: None)
    assert len(result.history) == 2 and all(np.isfinite(h["total"]) for h in result.history)
    with pytest.raises(ValueError, match="every weight > 0"):
        next(mixture_batches([("3dpw", lambda rng: [], 0.0)], tiny_net, 2))


def test_train_command_on_a_dataset(threedpw, tmp_path, capsys):
    from hmr_ros.cli import main

    out = tmp_path / "real.safetensors"
    args = ["train", "--dataset", f"3dpw={threedpw.root}:2", "--steps", "1", "--batch-clips", "2", "--width", "w18",
            "--input-size", "64", "--window", "2", "--max-people", "2", "--out", str(out), "--no-amp",
            "--log-every", "1", "--device", "cpu"]
    assert main(args) == 0 and out.is_file()
    assert "step      1/1" in capsys.readouterr().out
    assert main(["train", "--dataset", "h36m=/x", "--steps", "1", "--out", str(out)]) == 2
    assert "unknown dataset 'h36m' (3dpw, bedlam, agora, panoptic, coco, pseudo or shards)" in capsys.readouterr().err
