"""Z-buffer rasterisation and joint occlusion: a near person exactly in front of a far one hides it."""
import numpy as np
import pytest

from hmr_ros.sim.clips import image_annotations
from hmr_ros.clips import pose_bodies
from hmr_ros.sim.motions import euler_to_rotmat, motion_pose, sample_params
from hmr_ros.render.raster import rasterize
from hmr_ros.sim.scene import make_camera
from hmr_ros.sim.varied import occlusion_flags
from hmr_ros.geometry.rotations import rotmat_to_axis_angle

import torch


@pytest.fixture(scope="module")
def cam():
    return make_camera(200, 150, hfov_deg=60.0, height_m=1.0, pitch_deg=0.0)


def standing_person(body, x, z, cam):
    """A person in the neutral idle pose facing the camera, feet on the floor at level-frame (x, z)."""
    E, _, _ = motion_pose("idle", np.zeros(1), sample_params("idle", np.random.default_rng(0), 2.0))
    R = euler_to_rotmat(E)
    R[0, 0] = np.diag([1.0, -1.0, -1.0])  # Rx(pi): SMPL y-up to the y-down camera frame, facing the camera
    aa = rotmat_to_axis_angle(torch.as_tensor(R)).numpy().astype(np.float32)
    betas = np.zeros((1, 10), np.float32)
    v, j = pose_bodies(body, betas, aa[:, 0], aa[:, 1:].reshape(1, 69), np.zeros((1, 3), np.float32))
    t = np.array([[x - j[0, 0, 0], cam.height_m - v[0, :, 1].max(), z - j[0, 0, 2]]], np.float32)
    v, j = pose_bodies(body, betas, aa[:, 0], aa[:, 1:].reshape(1, 69), t)
    return v[0].astype(np.float64), j[0].astype(np.float64)


def ray_hits(verts, faces, direction, max_t):
    """Does the ray from the camera centre along ``direction`` hit the mesh before parameter ``max_t``?
    (Moller-Trumbore over all triangles; independent of the rasteriser.)"""
    tri = verts[faces]
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    p = np.cross(direction, e2)
    det = (e1 * p).sum(1)
    ok = np.abs(det) > 1e-12
    inv = 1.0 / np.where(ok, det, 1.0)
    s = -tri[:, 0]
    u = (s * p).sum(1) * inv
    q = np.cross(s, e1)
    v = (q * direction).sum(1) * inv
    t = (q * e2).sum(1) * inv
    return bool((ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0) & (t < max_t)).any())


def flags(body, cam, meshes, joints):
    raster = rasterize(meshes, body.faces, cam.K, cam.width, cam.height)
    out = []
    for k, (v, j) in enumerate(zip(meshes, joints)):
        ann = image_annotations(cam.K, j, v, cam.width, cam.height)
        out.append((occlusion_flags(raster, k, j, ann["joints_2d"], ann["joints_in_image"]), ann))
    return raster, out


def test_depth_buffer_holds_the_nearest_surface(body, cam):
    near_v, _ = standing_person(body, 0.0, 3.0, cam)
    far_v, _ = standing_person(body, 0.0, 6.0, cam)
    raster = rasterize([far_v, near_v], body.faces, cam.K, cam.width, cam.height)
    covered = raster.mesh >= 0
    assert covered.any() and (raster.mesh[covered] >= 0).all()
    assert np.isinf(raster.depth[~covered]).all() and (raster.face[~covered] == -1).all()
    # everything visible of the far person is farther than everything of the near one
    assert raster.depth[raster.mesh == 0].min() > raster.depth[raster.mesh == 1].max()
    assert 2.7 < raster.depth[raster.mesh == 1].min() < 3.0
    assert np.allclose(raster.bary[covered].sum(-1), 1.0, atol=1e-4)


def test_a_near_person_exactly_in_front_occludes_the_far_one(body, cam):
    near = standing_person(body, 0.0, 3.0, cam)
    far = standing_person(body, 0.0, 6.0, cam)
    for order in ([0, 1], [1, 0]):  # the flags do not depend on the drawing order
        people = [near, far]
        meshes = [people[i][0] for i in order]
        joints = [people[i][1] for i in order]
        _, res = flags(body, cam, meshes, joints)
        occ_near, ann_near = res[order.index(0)]
        occ_far, ann_far = res[order.index(1)]
        assert ann_near["joints_in_image"].all() and ann_far["joints_in_image"].all()
        assert not occ_near.any()
        assert occ_far[[0, 3, 6, 9, 12, 15]].all()  # pelvis, spine, neck, head hidden behind the near torso
        # each flag agrees with an exact ray cast through the joint's pixel centre against the near mesh
        for j in range(24):
            u, v = np.floor(ann_far["joints_2d"][j]) + 0.5
            d = np.array([(u - cam.K[0, 2]) / cam.K[0, 0], (v - cam.K[1, 2]) / cam.K[1, 1], 1.0])
            assert occ_far[j] == ray_hits(near[0], body.faces, d, far[1][j, 2]), j


def test_side_by_side_people_do_not_occlude_each_other(body, cam):
    a = standing_person(body, -0.8, 4.0, cam)
    b = standing_person(body, 0.8, 5.0, cam)
    _, res = flags(body, cam, [a[0], b[0]], [a[1], b[1]])
    assert not res[0][0].any() and not res[1][0].any()


def test_projected_joints_lie_inside_the_box(body, cam):
    v, j = standing_person(body, 0.3, 2.5, cam)
    ann = image_annotations(cam.K, j, v, cam.width, cam.height)
    x0, y0, x1, y1 = ann["box"]
    assert ((ann["joints_2d"][:, 0] >= x0) & (ann["joints_2d"][:, 0] <= x1)).all()
    assert ((ann["joints_2d"][:, 1] >= y0) & (ann["joints_2d"][:, 1] <= y1)).all()
    assert np.allclose(ann["centre"], ann["joints_2d"][0])
