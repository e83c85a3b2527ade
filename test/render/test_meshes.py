"""The renderer paints a mesh where it projects, respects occlusion and ignores what is behind the camera."""
import time

import numpy as np
import pytest

from hmr_ros.palette import PALETTE_U8, person_color_u8
from hmr_ros.render.meshes import render_meshes

K = np.array([[100.0, 0.0, 80.0], [0.0, 100.0, 60.0], [0.0, 0.0, 1.0]])
H, W = 120, 160


def cube(center, half):
    """Closed, outward-oriented cube mesh: (8, 3) vertices, (12, 3) faces."""
    c = np.asarray(center, dtype=np.float64)
    v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64) * half + c
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    f = []
    for a, b, c_, d in quads:
        f += [(a, b, c_), (a, c_, d)]
    f = np.array(f)
    # orient outward: flip faces whose normal points towards the centre
    tri = v[f]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    inward = (n * (tri.mean(1) - v.mean(0))).sum(1) < 0
    f[inward] = f[inward][:, ::-1]
    return v, f


def test_mesh_colours_its_projection_only():
    v, f = cube([0.0, 0.0, 2.0], 0.2)  # projects to u, v in [80 +- 100*0.2/1.8] roughly
    bg = np.full((H, W, 3), 10, np.uint8)
    out = render_meshes(bg, [v], f, K, colors=[(250, 0, 0)], alpha=1.0)
    assert out.shape == bg.shape and out.dtype == np.uint8
    assert np.array_equal(bg, np.full((H, W, 3), 10, np.uint8))  # input untouched
    covered = (out != 10).any(-1)
    ys, xs = np.nonzero(covered)
    # the front face (z = 1.8) spans 80 +- 11.1 px; the back is hidden inside it
    assert abs(xs.min() - 69) <= 1 and abs(xs.max() - 90) <= 1
    assert abs(ys.min() - 49) <= 1 and abs(ys.max() - 70) <= 1
    assert out[60, 80, 0] > 200 and out[60, 80, 1] == 0  # lit face, red
    assert not covered[:40].any() and not covered[:, 100:].any()


def test_near_mesh_occludes_far_mesh_in_any_order():
    near, f = cube([0.0, 0.0, 2.0], 0.2)
    far, _ = cube([0.1, 0.0, 4.0], 0.5)
    bg = np.zeros((H, W, 3), np.uint8)
    for meshes, colors in [([near, far], [(255, 0, 0), (0, 255, 0)]), ([far, near], [(0, 255, 0), (255, 0, 0)])]:
        out = render_meshes(bg, meshes, f, K, colors=colors, alpha=1.0)
        assert out[60, 80, 0] > 100 and out[60, 80, 1] == 0  # centre: the near (red) cube
        assert out[60, 95, 1] > 100 and out[60, 95, 0] == 0  # beside it: the far (green) cube


def test_alpha_blends_with_the_image():
    v, f = cube([0.0, 0.0, 2.0], 0.2)
    bg = np.full((H, W, 3), 100, np.uint8)
    out = render_meshes(bg, [v], f, K, colors=[(200, 200, 200)], alpha=0.5)
    lit = render_meshes(bg, [v], f, K, colors=[(200, 200, 200)], alpha=1.0)
    assert abs(int(out[60, 80, 0]) - (int(lit[60, 80, 0]) + 100) / 2) <= 1


def test_triangles_behind_the_camera_are_ignored():
    v, f = cube([0.0, 0.0, -2.0], 0.5)
    straddling, _ = cube([0.0, 0.0, 0.0], 0.5)
    bg = np.zeros((H, W, 3), np.uint8)
    assert np.array_equal(render_meshes(bg, [v, straddling], f, K), bg)


def test_without_colours_mesh_i_is_painted_in_the_palette_colour_of_person_i():
    v, f = cube([0.0, 0.0, 4.0], 0.1)  # the front face looks straight at the camera: shade ~1
    hidden, _ = cube([0.0, 0.0, -2.0], 0.1)  # behind the camera: takes an index, paints nothing
    for i in range(len(PALETTE_U8) + 1):
        out = render_meshes(np.zeros((H, W, 3), np.uint8), [hidden] * i + [v], f, K, alpha=1.0)
        # flat shading truncates to uint8, so a face seen head-on may lose one level
        np.testing.assert_allclose(out[60, 80], person_color_u8(i), atol=1)


def test_bad_input_raises_value_error():
    v, f = cube([0.0, 0.0, 2.0], 0.2)
    with pytest.raises(ValueError, match="uint8"):
        render_meshes(np.zeros((H, W, 3), np.float32), [v], f, K)
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        render_meshes(np.zeros((H, W, 3), np.uint8), [v], f, np.eye(2))
    with pytest.raises(ValueError, match="colors"):
        render_meshes(np.zeros((H, W, 3), np.uint8), [v], f, K, colors=[])


def test_two_bodies_render_fast_enough_for_a_demo(body):
    import torch

    rest = body(torch.zeros(1, 10), torch.eye(3).expand(1, 24, 3, 3)).vertices[0].numpy()
    upright = rest * [1.0, -1.0, -1.0]  # 180 degrees about x: SMPL y-up -> camera y-down
    meshes = [upright + [-0.7, 0.1, 4.0], upright + [0.6, 0.1, 5.0]]
    K640 = np.array([[580.0, 0.0, 320.0], [0.0, 580.0, 240.0], [0.0, 0.0, 1.0]])
    bg = np.zeros((480, 640, 3), np.uint8)
    render_meshes(bg, meshes, body.faces, K640)
    t0 = time.perf_counter()
    out = render_meshes(bg, meshes, body.faces, K640)
    elapsed = time.perf_counter() - t0
    assert (out.any(-1)).sum() > 5000
    assert elapsed < 0.5  # ~50-80 ms on one free core; generous for a shared CI machine
