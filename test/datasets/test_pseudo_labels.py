"""Pseudo-labels: the directory ``label`` writes, read back for training (clips with keypoints and world landmarks)
and refused with the command to fix it when torn or incomplete."""
import json

import numpy as np
import pytest
import torch

from hmr_ros.datasets.augment import MIRROR, flip_clip
from hmr_ros.datasets.clips import PSEUDO_SLOTS, pseudo_clips
from hmr_ros.datasets.pseudo_labels import CONFIDENT, LABELS, MANIFEST, PseudoLabels
from hmr_ros.model.siam import SIAM, SIAMConfig
from hmr_ros.training.dataset import clip_sample, collate
from hmr_ros.training.losses import siam_losses

from real_data import label_vtest, vtest_clip

CFG = SIAMConfig(width="w18", input_size=128, window=2, max_people=16)


@pytest.fixture(scope="module")
def labels(tmp_path_factory):
    root = tmp_path_factory.mktemp("pseudo")
    label_vtest(root / "labels", vtest_clip(root / "walk.avi", 100, 6), holdout_from=4)
    return PseudoLabels(root / "labels")


def test_the_directory_reads_back_with_its_split_and_teacher(labels):
    assert [f.frame for f in labels.frames] == list(range(6))
    assert [f.frame for f in labels.train_frames] == [0, 1, 2, 3] and [f.frame for f in labels.heldout_frames] == [4, 5]
    assert labels.teacher.startswith("blazepose-lite") and labels.manifest["complete"]
    assert (labels.manifest["width"], labels.manifest["height"]) == (768, 576) and labels.K is None
    assert all(len(f.people) >= 3 for f in labels.frames)
    coco = json.loads((labels.root / "coco.json").read_text())
    assert len(coco["annotations"]) == sum(len(f.people) for f in labels.frames)
    assert coco["categories"][0]["keypoints"][5] == "l_shoulder"


def test_people_keep_their_track_id_from_frame_to_frame(labels):
    walker = [p for p in labels.frames[0].people if p.box[0] > 580]    # the walker alone on the right
    assert len(walker) == 1
    centre = (walker[0].box[:2] + walker[0].box[2:]) / 2
    for f in labels.frames[1:]:   # follow them by the nearest box: it keeps their id
        near = min(f.people, key=lambda p: np.linalg.norm((p.box[:2] + p.box[2:]) / 2 - centre))
        assert near.id == walker[0].id and np.linalg.norm((near.box[:2] + near.box[2:]) / 2 - centre) < 12
        centre = (near.box[:2] + near.box[2:]) / 2


def test_pseudo_clips_put_keypoints_in_smpl_slots_and_world_landmarks_as_relative_3d(labels):
    clip = next(pseudo_clips(labels, window=2))
    assert clip.meta["start"] == 0 and len(clip.frames) == 2
    frame, truth = clip.frames[0], labels.frames[0]
    person = next(p for p in frame.people if p.track_id == truth.people[0].id)
    g = truth.people[0]
    conf = g.landmarks[:, 3] * g.landmarks[:, 4]
    for b, slot in PSEUDO_SLOTS.items():
        if conf[b] >= CONFIDENT:
            assert np.allclose(person.joints_2d[slot], g.landmarks[b, :2], atol=1e-3)
        else:
            assert np.isnan(person.joints_2d[slot]).all()
        pelvis = g.world[[23, 24]].mean(0)
        assert np.allclose(person.relative[slot], [*(g.world[b] - pelvis), conf[b]], atol=1e-5)
    assert np.allclose(person.centre, g.landmarks[[23, 24], :2].mean(0), atol=1e-3)
    assert not person.smpl and not person.metric
    # only the training frames (0-3) are read
    assert max(c.meta["start"] for c in pseudo_clips(labels, window=2)) <= 2


def test_a_track_missing_from_a_frame_is_an_absent_slot(labels):
    clip = next(pseudo_clips(labels, window=2))
    ids = [p.track_id for p in clip.frames[0].people]
    assert ids == [p.track_id for p in clip.frames[1].people]     # one slot per track of the window
    sample = clip_sample(clip, CFG)
    present = [{g.id for g in labels.frames[t].people} for t in (0, 1)]
    for t in (0, 1):
        for k, track in enumerate(ids):
            if track not in present[t]:
                assert not sample.mask[t, k]


def test_flip_mirrors_the_relative_joints_and_swaps_sides(labels, body):
    clip = next(pseudo_clips(labels, window=2))
    flipped = flip_clip(clip, body)
    a, b = clip.frames[0].people[0], flipped.frames[0].people[0]
    assert np.allclose(b.relative, a.relative[MIRROR] * [-1, 1, 1, 1])


def test_a_training_step_uses_keypoints_and_relative_3d_but_no_smpl_term(labels):
    torch.manual_seed(0)
    batch = collate([clip_sample(c, CFG) for c in list(pseudo_clips(labels, window=2))[:2]])
    assert batch.relative is not None and batch.relative[..., 3].sum() > 0
    model = SIAM(CFG)
    losses = siam_losses(model, batch)
    assert losses["heatmap"] > 0 and losses["joints2d"] > 0 and losses["joints3d"] > 0
    for term in ("pose", "betas", "verts", "cam"):
        assert losses[term] == 0, term
    # without the world landmarks, the 3D term has nothing to read
    batch.relative = torch.zeros_like(batch.relative)
    assert siam_losses(model, batch)["joints3d"] == 0


def test_a_torn_or_missing_directory_is_refused_with_the_command_to_finish_it(labels, tmp_path):
    import shutil

    torn = tmp_path / "torn"
    shutil.copytree(labels.root, torn)
    with open(torn / LABELS, "a") as f:
        f.write('{"frame": 6, "stamp": 0.6, "ima')
    with pytest.raises(ValueError, match=r"torn after 6 frames.*hmr_ros label"):
        PseudoLabels(torn)
    (torn / MANIFEST).unlink()
    with pytest.raises(ValueError, match="not a label directory"):
        PseudoLabels(torn)
    missing = tmp_path / "missing"
    shutil.copytree(labels.root, missing)
    (missing / "images" / "000003.jpg").unlink()
    with pytest.raises(ValueError, match="frame 3's image"):
        PseudoLabels(missing)
