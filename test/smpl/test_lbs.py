"""LBS functions equal smplx's reference implementation and satisfy basic skinning invariants."""
import pytest
import smplx.lbs
import torch

from hmr_ros.geometry.rotations import axis_angle_to_rotmat
from hmr_ros.smpl import kinematic_tree
from hmr_ros.smpl.lbs import batch_rigid_transform, blend_shapes, lbs, vertices2joints

SMPL_PARENTS = torch.tensor(kinematic_tree.SMPL_PARENTS)
D = torch.float64


def random_model(V=60, J=24, B=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    Jr = torch.rand(J, V, generator=g, dtype=D)
    W = torch.rand(V, J, generator=g, dtype=D) ** 4
    return dict(
        v_template=torch.randn(V, 3, generator=g, dtype=D),
        shapedirs=0.1 * torch.randn(V, 3, B, generator=g, dtype=D),
        posedirs=0.01 * torch.randn(9 * (J - 1), V * 3, generator=g, dtype=D),
        J_regressor=Jr / Jr.sum(1, keepdim=True),
        lbs_weights=W / W.sum(1, keepdim=True),
    )


def random_pose(N, J=24, seed=1):
    g = torch.Generator().manual_seed(seed)
    return axis_angle_to_rotmat(torch.randn(N, J, 3, generator=g, dtype=D))


def test_lbs_equals_smplx_reference():
    m = random_model()
    betas = torch.randn(5, 10, generator=torch.Generator().manual_seed(2), dtype=D)
    R = random_pose(5)
    v, j = lbs(betas, R, m["v_template"], m["shapedirs"], m["posedirs"], m["J_regressor"], SMPL_PARENTS,
               m["lbs_weights"])
    v_ref, j_ref = smplx.lbs.lbs(betas, R, m["v_template"], m["shapedirs"], m["posedirs"], m["J_regressor"],
                                 SMPL_PARENTS, m["lbs_weights"], pose2rot=False)
    assert v.shape == (5, 60, 3) and j.shape == (5, 24, 3)
    assert torch.allclose(v, v_ref, atol=1e-12)
    assert torch.allclose(j, j_ref, atol=1e-12)


def test_parts_equal_smplx_reference():
    m = random_model()
    betas = torch.randn(3, 10, dtype=D)
    assert torch.allclose(blend_shapes(betas, m["shapedirs"]), smplx.lbs.blend_shapes(betas, m["shapedirs"]))
    verts = torch.randn(3, 60, 3, dtype=D)
    assert torch.allclose(vertices2joints(m["J_regressor"], verts),
                          smplx.lbs.vertices2joints(m["J_regressor"], verts))
    joints, R = torch.randn(3, 24, 3, dtype=D), random_pose(3)
    posed, A = batch_rigid_transform(R, joints, SMPL_PARENTS.tolist())
    posed_ref, A_ref = smplx.lbs.batch_rigid_transform(R, joints, SMPL_PARENTS, dtype=D)
    assert torch.allclose(posed, posed_ref, atol=1e-12) and torch.allclose(A, A_ref, atol=1e-12)


def test_identity_pose_gives_shaped_template():
    m = random_model()
    betas = torch.randn(2, 10, dtype=D)
    R = torch.eye(3, dtype=D).expand(2, 24, 3, 3)
    v, j = lbs(betas, R, m["v_template"], m["shapedirs"], m["posedirs"], m["J_regressor"], SMPL_PARENTS,
               m["lbs_weights"])
    shaped = m["v_template"] + blend_shapes(betas, m["shapedirs"])
    assert torch.allclose(v, shaped, atol=1e-12)
    assert torch.allclose(j, vertices2joints(m["J_regressor"], shaped), atol=1e-12)


def test_global_rotation_rotates_everything_about_the_root_joint():
    m = dict(random_model())
    m["posedirs"] = torch.zeros_like(m["posedirs"])  # correctives depend on body pose only
    betas = torch.zeros(1, 10, dtype=D)
    R = torch.eye(3, dtype=D).repeat(1, 24, 1, 1)
    R[:, 0] = axis_angle_to_rotmat(torch.tensor([[0.3, -1.0, 0.4]], dtype=D))
    v, j = lbs(betas, R, m["v_template"], m["shapedirs"], m["posedirs"], m["J_regressor"], SMPL_PARENTS,
               m["lbs_weights"])
    j0 = vertices2joints(m["J_regressor"], m["v_template"][None])[:, :1]
    expected = (m["v_template"][None] - j0) @ R[:, 0].transpose(-1, -2) + j0
    assert torch.allclose(v, expected, atol=1e-12)


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match=r"\(N, J, 3, 3\)"):
        batch_rigid_transform(random_pose(2, J=23), torch.zeros(2, 24, 3, dtype=D), SMPL_PARENTS)


def test_zero_people_keep_their_shapes():
    """A frame with nobody in it is a batch of 0: every function must keep the trailing shapes."""
    from hmr_ros.smpl.lbs import pose_features

    assert pose_features(torch.zeros(0, 24, 3, 3)).shape == (0, 23 * 9)
