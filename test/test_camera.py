"""Letterbox geometry and the full-perspective camera."""
import math

import numpy as np
import pytest
import torch

from hmr_ros.camera import Letterbox, default_intrinsics, letterbox, perspective_root, resolve_intrinsics
from hmr_ros.geometry.projection import project


@pytest.mark.parametrize("w,h", [(640, 480), (480, 640), (1920, 1080), (333, 517), (64, 64)])
def test_letterbox_places_pixels_where_the_transform_says(w, h):
    rgb = np.zeros((h, w, 3), np.uint8)
    side = max(3, int(np.ceil(4 * max(w, h) / 128)))  # a block that survives the downscale as a few pixels
    u0, v0 = int(w * 0.3), int(h * 0.6)
    rgb[v0:v0 + side, u0:u0 + side] = 255
    image, lb = letterbox(rgb, 128)
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8
    expected = lb.to_letterbox(np.array([u0 + side / 2, v0 + side / 2]))
    weight = image[..., 0].astype(np.float64)
    ys, xs = np.mgrid[:128, :128]
    # Intensity-weighted centroid, pixel centres at +0.5.
    found = np.array([(weight * (xs + 0.5)).sum(), (weight * (ys + 0.5)).sum()]) / weight.sum()
    assert np.allclose(found, expected, atol=0.25)


def test_letterbox_inverse_is_exact():
    lb = Letterbox.fit(1280, 720, 512)
    pts = np.random.default_rng(0).uniform(0, 1280, (100, 2))
    assert np.allclose(lb.to_image(lb.to_letterbox(pts)), pts, atol=1e-9)
    assert lb.scale == 0.4 and lb.pad_x == 0 and lb.pad_y == (512 - 288) // 2


def test_padding_is_black_and_content_fills_the_long_side():
    image, lb = letterbox(np.full((100, 200, 3), 200, np.uint8), 64)
    assert image[:8].max() == 0 and image[-8:].max() == 0        # top/bottom bands padded
    assert image[32, :].min() > 150                              # content spans the full width


@pytest.mark.parametrize("h,w", [(1, 8192), (8192, 1), (1, 1), (2, 8192)])
def test_extremely_thin_images_keep_at_least_one_pixel_of_content(h, w):
    """A valid 1 x 8192 image scales to 1/64 px across at 128 px: it becomes a 1 px line, not an OpenCV error."""
    image, lb = letterbox(np.full((h, w, 3), 255, np.uint8), 128)
    assert image.shape == (128, 128, 3)
    rows, cols = np.nonzero(image[..., 0])
    assert rows.size > 0, "the content vanished"
    # the content sits where the transform puts the image centre, to within the one stretched pixel
    centre = lb.to_letterbox(np.array([w / 2, h / 2]))
    assert abs(cols.mean() + 0.5 - centre[0]) <= 1.0 and abs(rows.mean() + 0.5 - centre[1]) <= 1.0


def test_default_intrinsics_are_the_image_diagonal():
    K = default_intrinsics(640, 480)
    assert K[0, 0] == K[1, 1] == 800.0 and (K[0, 2], K[1, 2]) == (320.0, 240.0)
    for given in (None, np.zeros((3, 3)), np.zeros(9)):
        K2, is_default = resolve_intrinsics(given, 640, 480)
        assert is_default and np.array_equal(K2, K)


@pytest.mark.parametrize("K,match", [
    (np.full((3, 3), np.nan), "finite"),
    (np.diag([np.inf, 500, 1.0]), "finite"),
    (np.diag([-500.0, 500, 1.0]), "positive focal"),
    (np.diag([0.0, 500, 1.0]), "positive focal"),
    (np.eye(2), "3, 3"),
    # finite but absurd: these overflow the projection into NaN downstream
    (np.diag([1e300, 1e300, 1.0]), "at most 1e\\+06 px"),
    (np.array([[500.0, 0, 1e300], [0, 500, 1e300], [0, 0, 1]]), "principal point"),
    (np.array([[500.0, 0, 320], [0, 500, -4801], [0, 0, 1]]), "principal point"),  # 10 H + 1 above the image
    (np.array([[500.0, 1e300, 320], [0, 500, 240], [0, 0, 1]]), "skew"),
])
def test_bad_intrinsics_are_rejected_with_a_reason(K, match):
    with pytest.raises(ValueError, match=match):
        resolve_intrinsics(K, 640, 480)


def test_intrinsics_within_the_documented_bounds_are_accepted():
    """Focal lengths up to 1e6 px and a principal point up to 10 image sizes outside the image are real cameras
    (long lenses, crops of off-axis sensors)."""
    for K in (np.array([[1e6, 0, -6400], [0, 1e6, 5280], [0, 0, 1]]), np.array([[0.5, 0, 7040], [0, 0.5, -4800], [0, 0, 1]])):
        K2, is_default = resolve_intrinsics(K, 640, 480)
        assert not is_default and np.array_equal(K2, K)


@pytest.mark.parametrize("skew", [0.0, 25.0])
def test_perspective_root_inverts_the_weak_perspective_projection(skew):
    """Build the (s, dx, dy) a perfect network would predict for known roots; the camera must recover them, with
    the skew that ``project`` (boxes, overlays) applies too."""
    K = np.array([[600.0, skew, 300], [0, 620.0, 260], [0, 0, 1]])
    lb = Letterbox.fit(640, 480, 256)
    roots = np.array([[0.3, -0.2, 3.0], [-1.5, 0.4, 6.0], [0.0, 0.0, 2.0]])
    f = 0.5 * (K[0, 0] + K[1, 1])
    s = 2 * lb.scale * f / (roots[:, 2] * lb.size)
    root_lb = lb.to_letterbox(project(roots, K))
    centers = root_lb + np.array([[4.0, -3.0], [0.0, 0.0], [-7.0, 2.0]])  # detected centre near the root
    d = (root_lb - centers) / (s[:, None] * lb.size / 2)
    cam = torch.tensor(np.concatenate([s[:, None], d], 1))
    got = perspective_root(cam, torch.tensor(centers), lb, K).numpy()
    assert np.allclose(got, roots, atol=1e-9)


def test_depth_scales_with_focal_length():
    lb = Letterbox.fit(640, 480, 256)
    cam = torch.tensor([[0.5, 0.0, 0.0]], dtype=torch.float64)
    c = torch.tensor([[128.0, 128.0]], dtype=torch.float64)
    z1 = perspective_root(cam, c, lb, default_intrinsics(640, 480))[0, 2]
    K2 = default_intrinsics(640, 480)
    K2[0, 0] *= 2
    K2[1, 1] *= 2
    z2 = perspective_root(cam, c, lb, K2)[0, 2]
    assert math.isclose(float(z2), 2 * float(z1), rel_tol=1e-12)
