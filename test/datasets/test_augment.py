"""Augmentation: a flipped clip is the mirror image of the original (pixels, intrinsics, pelvis, joints within the
template's asymmetry, left and right swapped), colour jitter keeps the people, and a crop keeps them in place."""
import numpy as np
import pytest

from hmr_ros.datasets.augment import MIRROR, augment, flip_clip, jitter_colour, mirror_pose
from hmr_ros.sim.clips import make_clip


@pytest.fixture(scope="module")
def clip(body):
    return make_clip(num_frames=2, width=160, height=120, num_people=2, seed=4, body_model=body)


def test_left_and_right_swap():
    assert MIRROR[1] == 2 and MIRROR[2] == 1 and MIRROR[0] == 0 and MIRROR[22] == 23 and MIRROR[15] == 15
    pose = np.arange(72, dtype=float)
    assert np.allclose(mirror_pose(mirror_pose(pose)), pose)  # flipping twice is the identity


def test_a_flipped_clip_is_the_mirror_image(clip, body):
    flipped = flip_clip(clip, body)
    w = clip.frames[0].rgb.shape[1]
    assert np.array_equal(flipped.frames[0].rgb, clip.frames[0].rgb[:, ::-1])
    assert flipped.K[0, 2] == pytest.approx(w - clip.K[0, 2])
    for a, b in zip(clip.frames[1].people, flipped.frames[1].people):
        mirrored = a.joints * [-1, 1, 1]
        assert np.allclose(b.joints[0], mirrored[0], atol=1e-5)                # the pelvis exactly
        assert np.abs(b.joints - mirrored[MIRROR]).max() < 0.03                 # the rest within the template asymmetry
        assert np.allclose(b.centre[0], w - a.centre[0], atol=0.05)            # and in the image: u -> W - u


def test_colour_jitter_and_augment_keep_the_people(clip, body):
    rng = np.random.default_rng(0)
    jittered = jitter_colour(clip, rng, 0.2)
    assert jittered.frames[0].people is clip.frames[0].people and not np.array_equal(jittered.frames[0].rgb,
                                                                                      clip.frames[0].rgb)
    out = augment(clip, np.random.default_rng(1), body)
    assert len(out.frames) == 2 and all(len(f.people) == len(g.people) for f, g in zip(out.frames, clip.frames))
